"""Generated junk at the real endpoint: payloads shaped like Slack's with anything in
their fields, as forms and JSON, signed and not. Whatever comes, the answer is never a
5xx, neither the answer nor the log holds a traceback, and the database is unchanged."""
import json
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ids import ActionId, CallbackId
from tests.harness import AGENT, SUPPORT, Harness
from tests.http_probes import database_snapshot, recorded_logs

# Real identifiers and near misses, so generated payloads reach Bolt's routing and our listeners.
KINDS = ["block_actions", "view_submission", "view_closed", "shortcut", "message_action", "event_callback",
         "url_verification", "ssl_check", "block_suggestion", "interactive_message", "workflow_step_edit", "x"]
ACTIONS = [a.value for a in ActionId] + ["ticket.", "list.next.x"]
CALLBACKS = [c.value for c in CallbackId] + ["workflow_step", "ticket.new "]
EVENTS = ["message", "app_mention", "reaction_added", "workflow_step_execute", "app_uninstalled"]
FIELDS = ["type", "user", "id", "actions", "action_id", "value", "view", "callback_id", "private_metadata",
          "state", "values", "event", "channel", "ts", "thread_ts", "text", "message", "team", "enterprise",
          "authorizations", "is_enterprise_install", "container", "trigger_id", "blocks", "subtype", "bot_id",
          "selected_option", "selected_options", "command", "user_id", "channel_id", "challenge", "tab"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(FIELDS + KINDS + ACTIONS + CALLBACKS + EVENTS))
junk = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), inner, max_size=5)), max_leaves=16)
context_values = st.one_of(junk.map(json.dumps), st.text(max_size=20),
                           st.fixed_dictionaries({}, optional={"t": junk, "l": junk, "c": junk, "n": junk,
                                                               "e": junk}).map(json.dumps))
person = st.one_of(junk, st.fixed_dictionaries({"id": st.one_of(st.sampled_from([AGENT, "U0NOBODY"]), junk)}))
action = st.fixed_dictionaries({"action_id": st.one_of(st.sampled_from(ACTIONS), junk)},
                               optional={"value": st.one_of(context_values, junk), "type": junk, "block_id": junk})
view = st.fixed_dictionaries({"callback_id": st.one_of(st.sampled_from(CALLBACKS), junk)},
                             optional={"type": st.sampled_from(["modal", "workflow_step"]) | junk, "id": junk,
                                       "private_metadata": st.one_of(context_values, junk),
                                       "state": st.fixed_dictionaries({"values": junk}) | junk, "blocks": junk})
event = st.fixed_dictionaries({"type": st.one_of(st.sampled_from(EVENTS), junk)},
                              optional={name: junk for name in ("user", "channel", "ts", "thread_ts", "text",
                                                                "subtype", "message", "bot_id", "tab")})
# No event_id: a well-formed event with one is rightly recorded in the ledger, which is a change.
slack_like = st.fixed_dictionaries({"type": st.one_of(st.sampled_from(KINDS), junk)}, optional={
    "user": person, "actions": st.lists(action, max_size=2) | junk, "view": view | junk, "event": event | junk,
    "callback_id": st.sampled_from(CALLBACKS) | junk, "trigger_id": junk, "team": junk, "channel": junk,
    "message": junk, "enterprise": junk, "authorizations": junk, "is_enterprise_install": junk,
    "container": junk, "challenge": junk})
# Envelopes as Slack sends them, with anything in the values: these reach our listeners.
element = st.fixed_dictionaries({"type": st.sampled_from(["plain_text_input", "static_select", "checkboxes",
                                                          "users_select", "radio_buttons"]) | junk},
                                optional={"value": junk, "selected_option": junk, "selected_options": junk,
                                          "selected_user": junk})
modal_state = st.dictionaries(st.sampled_from(["summary", "severity", "customer", "flags", "revenue", "level",
                                               "reason", "assignee"]) | st.text(max_size=4),
                              st.dictionaries(st.just("value") | st.text(max_size=4), element | junk, max_size=2),
                              max_size=4)
someone = st.fixed_dictionaries({"id": st.sampled_from([AGENT, "U0NOBODY"]) | st.text(max_size=8)})
somewhere = st.fixed_dictionaries({"id": st.sampled_from([SUPPORT, "C0NOWHERE"]) | st.text(max_size=8)})
well_formed = st.one_of(
    st.fixed_dictionaries({"type": st.just("block_actions"), "user": someone, "trigger_id": st.text(max_size=8),
                           "actions": st.lists(st.fixed_dictionaries(
                               {"action_id": st.sampled_from(ACTIONS), "value": context_values}),
                               min_size=1, max_size=2)},
                          optional={"channel": somewhere, "container": st.fixed_dictionaries({})}),
    st.fixed_dictionaries({"type": st.sampled_from(["view_submission", "view_closed"]), "user": someone,
                           "view": st.fixed_dictionaries({"type": st.just("modal"),
                                                          "callback_id": st.sampled_from(CALLBACKS),
                                                          "private_metadata": context_values,
                                                          "state": st.fixed_dictionaries({"values": modal_state}),
                                                          "blocks": st.just([])})}),
    st.fixed_dictionaries({"type": st.sampled_from(["shortcut", "message_action"]), "user": someone,
                           "callback_id": st.sampled_from(CALLBACKS), "trigger_id": st.text(max_size=8),
                           "channel": somewhere, "message": st.fixed_dictionaries(
                               {"ts": st.text(max_size=8), "text": st.text(max_size=12)})}),
    st.fixed_dictionaries({"type": st.just("event_callback"), "event": st.fixed_dictionaries(
        {"type": st.sampled_from(EVENTS)},
        optional={name: st.text(max_size=8) for name in ("user", "channel", "ts", "thread_ts", "text", "subtype")})}),
    st.fixed_dictionaries({"type": st.just("event_callback"), "event": st.fixed_dictionaries(  # a thread reply
        {"type": st.just("message"), "user": st.text(max_size=8), "thread_ts": st.text(max_size=8)},
        optional={name: st.text(max_size=8) for name in ("channel", "ts", "text")})}),
)
command_form = st.fixed_dictionaries({"command": st.sampled_from(["/escalate", "/other", ""]) | st.text(max_size=8)},
                                     optional={name: st.text(max_size=16) for name in (
                                         "text", "user_id", "channel_id", "trigger_id", "team_id", "response_url",
                                         "is_enterprise_install")})

well_formed_command = st.fixed_dictionaries({
    "command": st.sampled_from(["/escalate", "/other"]), "text": st.sampled_from(
        ["", "help", "status ESC-1", "list", "list mine", "why ESC-1", "ESC-1", "nonsense"]) | st.text(max_size=12),
    "user_id": st.sampled_from([AGENT, "U0NOBODY"]), "channel_id": st.sampled_from([SUPPORT, "C0NOWHERE"]),
    "trigger_id": st.text(max_size=8), "response_url": st.just("http://127.0.0.1:9/nowhere") | st.text(max_size=8)})


@pytest.fixture(scope="module")
def fuzz_harness(tmp_path_factory):
    """One bot for all the examples (starting one per example would take minutes), with no
    tickets: a context naming ticket 1 must not find one for an example to act on."""
    with Harness(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'escalator.db'}") as harness:
        yield harness, database_snapshot(harness)


@st.composite
def bodies(draw) -> tuple[bytes, str]:
    shape = draw(st.sampled_from(["interaction form", "JSON", "command form", "raw bytes"]))
    if shape == "interaction form":
        payload = draw(st.one_of(well_formed, well_formed, slack_like, junk).map(json.dumps) | st.text(max_size=30))
        body = urlencode({"payload": payload}).encode()
    elif shape == "JSON":
        body = json.dumps(draw(st.one_of(well_formed, well_formed, slack_like, junk))).encode()
    elif shape == "command form":
        fields = draw(command_form | well_formed_command)
        body = urlencode(fields).encode()
    else:
        body = draw(st.binary(max_size=64))
    content_type = draw(st.sampled_from(["application/x-www-form-urlencoded", "application/json",
                                         "text/plain", ""]))
    return body, content_type


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=bodies(), signing=st.sampled_from(["signed", "unsigned", "forged", "stale"]))
def test_generated_junk_never_gets_a_5xx_or_a_traceback_and_changes_nothing(fuzz_harness, request, signing):
    harness, before = fuzz_harness
    body, content_type = request
    headers = {"Content-Type": content_type} if content_type else {}
    timestamp = str(int(time.time()) - (600 if signing == "stale" else 0))
    if signing != "unsigned":
        try:
            signature = harness.driver.sign(body, timestamp) if signing != "forged" else "v0=" + "0" * 64
        except UnicodeDecodeError:  # slack_sdk signs text only: no Slack request is anything but UTF-8
            signature = "v0=" + "0" * 64
        headers.update({"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature})
    with recorded_logs() as logs:
        answer = harness.driver.send_raw(body, headers)
    assert answer.status < 500, (answer.status, answer.body)
    assert "Traceback" not in answer.body and 'File "' not in answer.body
    assert logs.tracebacks() == []
    if signing != "signed":
        assert answer.status == 401
    assert database_snapshot(harness) == before


def test_after_the_junk_the_bot_still_serves_people(fuzz_harness):
    harness, before = fuzz_harness
    assert database_snapshot(harness) == before
    answer = harness.driver.command(AGENT, SUPPORT, "help")
    assert answer.status == 200 and "/escalate status ESC-12" in harness.ephemeral_texts(AGENT, SUPPORT)[-1]
