"""The offline Slack (bot.simulator): Web API behaviour, faults and the user driver.

Everything goes through a real slack_sdk WebClient / real signed HTTP, so what
passes here is what the bot will see.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.simulator import FakeSlack, SlackApiFault, SlackDriver

SECRET = "test-signing-secret"


@pytest.fixture
def sim():
    with FakeSlack() as fake:
        fake.add_channel("C1", "escalations")
        yield fake


@pytest.fixture
def client(sim):
    return WebClient(token=sim.token, base_url=sim.url)


def section(text):
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def error_of(call, *args, **kwargs):
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value.response


# -- messages, threads, permalinks ---------------------------------------------------

def test_post_reply_update_and_permalinks(sim, client):
    root = client.chat_postMessage(channel="C1", text="New escalation", blocks=[section("*ESC-1*")])
    reply = client.chat_postMessage(channel="C1", text="Paged on-call", thread_ts=root["ts"])
    assert float(reply["ts"]) > float(root["ts"])
    assert [m.text for m in sim.messages("#escalations")] == ["New escalation"]
    assert [r.text for r in sim.replies("C1", root["ts"])] == ["Paged on-call"]

    client.chat_update(channel="C1", ts=root["ts"], text="Resolved", blocks=[section("done")])
    msg = sim.messages("C1")[0]
    assert msg.edited and msg.rendered == "Resolved\ndone"
    assert sim.find_message("Paged").ts == reply["ts"]

    link = client.chat_getPermalink(channel="C1", message_ts=root["ts"])["permalink"]
    assert link == f"https://fake.slack.test/archives/C1/p{root['ts'].replace('.', '')}"
    link = client.chat_getPermalink(channel="C1", message_ts=reply["ts"])["permalink"]
    assert link.endswith(f"?thread_ts={root['ts']}&cid=C1")

    thread = client.conversations_replies(channel="C1", ts=root["ts"])["messages"]
    assert [m["text"] for m in thread] == ["Resolved", "Paged on-call"]
    assert error_of(client.chat_update, channel="C1", ts="1.000001", text="x")["error"] == "message_not_found"
    assert error_of(client.chat_postMessage, channel="C1", text="x", thread_ts="1.000001")["error"] \
        == "message_not_found"


def test_history_newest_first_and_metadata_only_when_asked(sim, client):
    meta = {"event_type": "escalation_opened", "event_payload": {"id": 7}}
    first = client.chat_postMessage(channel="C1", text="one", metadata=meta)
    client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])
    client.chat_postMessage(channel="C1", text="two")
    plain = client.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in plain] == ["two", "one"]  # roots only
    assert all("metadata" not in m for m in plain)
    full = client.conversations_history(channel="C1", include_all_metadata=True)["messages"]
    assert full[1]["metadata"] == meta
    thread = client.conversations_replies(channel="C1", ts=first["ts"], include_all_metadata=True)
    assert thread["messages"][0]["metadata"] == meta
    page = client.conversations_history(channel="C1", limit=1)
    assert page["has_more"] and page["response_metadata"]["next_cursor"]


# -- channel rules ---------------------------------------------------------------------

def test_not_in_channel_until_join(sim, client):
    sim.add_channel("C2", "support", bot_member=False)
    assert error_of(client.chat_postMessage, channel="C2", text="hi")["error"] == "not_in_channel"
    assert client.conversations_join(channel="C2")["channel"]["is_member"] is True
    assert client.chat_postMessage(channel="C2", text="hi")["ok"]
    assert sim.messages("C2")[0].text == "hi"


def test_archived_and_unknown_channels(sim, client):
    sim.add_channel("C3", "old", archived=True)
    assert error_of(client.chat_postMessage, channel="C3", text="x")["error"] == "is_archived"
    assert error_of(client.conversations_join, channel="C3")["error"] == "is_archived"
    assert error_of(client.chat_postMessage, channel="C404", text="x")["error"] == "channel_not_found"
    assert client.conversations_info(channel="C3")["channel"]["is_archived"] is True


def test_auth_and_unknown_method(sim, client):
    assert client.auth_test()["user_id"] == "UBOT"
    bad = WebClient(token="xoxb-wrong", base_url=sim.url)
    assert error_of(bad.chat_postMessage, channel="C1", text="x")["error"] == "invalid_auth"
    assert error_of(client.api_call, "chat.teleport")["error"] == "unknown_method"
    assert sim.messages("C1") == []
    assert client.users_info(user="U1")["user"]["tz"] == "Europe/Berlin"


def test_custom_method(sim, client):
    def lookup(params):
        if params.get("email") != "a@x.test":
            raise SlackApiFault("users_not_found")
        return {"user": {"id": "UA"}}
    sim.add_method("users.lookupByEmail", lookup)
    assert client.users_lookupByEmail(email="a@x.test")["user"]["id"] == "UA"
    assert error_of(client.users_lookupByEmail, email="b@x.test")["error"] == "users_not_found"


# -- Block Kit validation ----------------------------------------------------------------

@pytest.mark.parametrize("blocks, where", [
    ([section(f"b{i}") for i in range(51)], "/blocks: must contain at most 50"),
    ([section("x" * 3001)], "/blocks/0/text/text"),
    ([{"type": "actions", "elements": [{"type": "button", "action_id": "a",
                                         "text": {"type": "plain_text", "text": "x" * 80}}]}],
     "/blocks/0/elements/0/text/text"),
    ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "/blocks/0/text/text"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "ok"}, "block_id": "b" * 256}],
     "/blocks/0/block_id"),
    ([{"type": "nonsense"}], "unsupported block type"),
])
def test_invalid_blocks_rejected_and_not_stored(sim, client, blocks, where):
    answer = error_of(client.chat_postMessage, channel="C1", text="x", blocks=blocks)
    assert answer.status_code == 200 and answer["error"] == "invalid_blocks"
    assert any(where in e for e in answer["errors"]), answer["errors"]
    assert sim.messages("C1") == []


def test_valid_limits_accepted(sim, client):
    blocks = [section("x" * 3000)] + [section(f"b{i}") for i in range(49)]
    assert client.chat_postMessage(channel="C1", text="x", blocks=blocks)["ok"]
    assert len(sim.messages("C1")[0].blocks) == 50


def test_invalid_view_rejected(sim, client):
    view = {"type": "modal", "title": {"type": "plain_text", "text": "An overly long modal title"},
            "blocks": [section("x")]}
    answer = error_of(client.views_open, trigger_id=sim.new_trigger_id("U1"), view=view)
    assert answer["error"] == "invalid_arguments"
    assert "/view/title/text" in answer["response_metadata"]["messages"][0]
    assert sim.views_opened() == []


# -- trigger ids, views, home --------------------------------------------------------------

MODAL = {"type": "modal", "callback_id": "esc_form", "private_metadata": "C1",
         "title": {"type": "plain_text", "text": "Escalate"},
         "submit": {"type": "plain_text", "text": "Send"},
         "blocks": [
             {"type": "input", "block_id": "summary",
              "label": {"type": "plain_text", "text": "Summary"},
              "element": {"type": "plain_text_input", "action_id": "v"}},
             {"type": "input", "block_id": "sev", "label": {"type": "plain_text", "text": "Severity"},
              "element": {"type": "static_select", "action_id": "v", "options": [
                  {"text": {"type": "plain_text", "text": "P1 - outage"}, "value": "p1"},
                  {"text": {"type": "plain_text", "text": "P2 - degraded"}, "value": "p2"}]}},
             {"type": "input", "block_id": "notify", "optional": True,
              "label": {"type": "plain_text", "text": "Notify"},
              "element": {"type": "checkboxes", "action_id": "v", "options": [
                  {"text": {"type": "plain_text", "text": "Page on-call"}, "value": "page"}]}},
             {"type": "input", "block_id": "team", "label": {"type": "plain_text", "text": "Team"},
              "element": {"type": "plain_text_input", "action_id": "v", "initial_value": "Billing"}},
         ]}


def test_trigger_single_use_and_expiry():
    with FakeSlack(trigger_ttl=0.2) as sim:
        trigger = sim.new_trigger_id("U1")
        api = WebClient(token=sim.token, base_url=sim.url)
        view = api.views_open(trigger_id=trigger, view=MODAL)["view"]
        assert view["id"] == sim.views_opened("U1")[0].id and view["hash"]
        assert error_of(api.views_open, trigger_id=trigger, view=MODAL)["error"] == "expired_trigger_id"
        late = sim.new_trigger_id("U1")
        time.sleep(0.25)
        assert error_of(api.views_push, trigger_id=late, view=MODAL)["error"] == "expired_trigger_id"
        assert error_of(api.views_open, trigger_id="nope", view=MODAL)["error"] == "invalid_trigger_id"


def test_views_update_hash_and_home(sim, client):
    view = client.views_open(trigger_id=sim.new_trigger_id("U1"), view=MODAL)["view"]
    updated = client.views_update(view_id=view["id"], hash=view["hash"],
                                  view={**MODAL, "title": {"type": "plain_text", "text": "Step 2"}})
    assert sim.view(view["id"]).title == "Step 2"
    assert error_of(client.views_update, view_id=view["id"], hash=view["hash"], view=MODAL)["error"] \
        == "hash_conflict"
    assert updated["view"]["hash"] != view["hash"]
    client.views_publish(user_id="U1", view={"type": "home", "blocks": [section("Your queue: 2")]})
    assert "Your queue: 2" in sim.home("U1").rendered


# -- ephemerals and response_url --------------------------------------------------------------

def test_ephemerals_from_both_sources(sim, client):
    client.chat_postEphemeral(channel="C1", user="U1", text="Only you", blocks=[section("see this")])
    url = sim.new_response_url(channel="C1", user="U2")
    assert WebhookClient(url).send(text="Escalation created").status_code == 200
    bad = WebhookClient(url).send(text="x", blocks=[section("y" * 3001)])
    assert json.loads(bad.body)["error"] == "invalid_blocks"
    assert [e.rendered for e in sim.ephemerals(channel="C1")] == ["Only you\nsee this",
                                                                  "Escalation created"]
    assert [e.source for e in sim.ephemerals(user="U2")] == ["response_url"]
    assert WebhookClient(url).send(text="Posted", response_type="in_channel").status_code == 200
    assert sim.messages("C1")[-1].text == "Posted"
    assert len(sim.responses(url)) == 2


# -- faults --------------------------------------------------------------------------------------

def test_rate_limit_answers_429_with_retry_after(sim, client):
    sim.rate_limit_channel(per_second=20, burst=1)
    client.chat_postMessage(channel="C1", text="first")
    limited = error_of(client.chat_postMessage, channel="C1", text="second")
    assert limited.status_code == 429 and limited["error"] == "ratelimited"
    assert limited.headers["Retry-After"] == "1"
    sim.add_channel("C2", "other")
    client.chat_postMessage(channel="C2", text="other channel has its own budget")
    time.sleep(0.06)
    client.chat_postMessage(channel="C1", text="third")
    assert [m.text for m in sim.messages("C1")] == ["first", "third"]
    assert [c.status for c in sim.calls_to("chat.postMessage")] == [200, 429, 200, 200]
    sim.rate_limit_channel(per_second=0.5)  # one post per 2 s
    client.chat_postMessage(channel="C1", text="slow channel")
    assert error_of(client.chat_postMessage, channel="C1", text="x").headers["Retry-After"] == "2"


def test_concurrent_posts_get_unique_increasing_ts(sim, client):
    threads = [threading.Thread(target=client.chat_postMessage, kwargs={"channel": "C1", "text": str(i)})
               for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps = [m.ts for m in sim.messages("C1")]
    assert len(set(stamps)) == 20 and stamps == sorted(stamps, key=float)


def test_throttle_next_is_honoured_by_sdk_retry_handler(sim):
    sim.throttle_next("chat.postMessage", retry_after=1)
    api = WebClient(token=sim.token, base_url=sim.url,
                    retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    started = time.monotonic()
    assert api.chat_postMessage(channel="C1", text="eventually")["ok"]
    assert time.monotonic() - started >= 0.9
    assert [c.status for c in sim.calls_to("chat.postMessage")] == [429, 200]


def test_outage_then_recovery(sim, client):
    sim.outage(status=503, seconds=0.3)
    assert error_of(client.auth_test).status_code == 503
    assert error_of(client.chat_postMessage, channel="C1", text="x").status_code == 503
    time.sleep(0.35)
    assert client.chat_postMessage(channel="C1", text="back")["ok"]
    assert [m.text for m in sim.messages("C1")] == ["back"]


def test_fail_next_and_fail_http_and_latency(sim, client):
    sim.fail_next("chat.postMessage", error="fatal_error", count=2)
    for _ in range(2):
        assert error_of(client.chat_postMessage, channel="C1", text="x")["error"] == "fatal_error"
    sim.fail_http(None, status=502)
    assert error_of(client.auth_test).status_code == 502
    sim.latency(0.1)
    started = time.monotonic()
    assert client.chat_postMessage(channel="C1", text="slow but ok")["ok"]
    assert time.monotonic() - started >= 0.1
    assert sim.count("chat.postMessage") == 3 and sim.count("auth.test", status=502) == 1
    assert [m.text for m in sim.messages("C1")] == ["slow but ok"]


def test_wait_for_returns_value_or_explains(sim, client):
    threading.Timer(0.05, lambda: client.chat_postMessage(channel="C1", text="later")).start()
    assert sim.wait_for(lambda: sim.find_message("later"), timeout=2).text == "later"
    with pytest.raises(AssertionError, match="never posted") as info:
        sim.wait_for(lambda: sim.find_message("never posted"), timeout=0.1)
    assert "#escalations" in str(info.value)  # the transcript is attached


# -- driver (user side) ------------------------------------------------------------------------

class EchoBot:
    """A stand-in bot: checks signatures, records payloads, echoes them back."""

    def __init__(self):
        self.received: list[dict] = []
        verifier, received = SignatureVerifier(SECRET), self.received

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not verifier.is_valid(body, self.headers.get("X-Slack-Request-Timestamp", ""),
                                         self.headers.get("X-Slack-Signature", "")):
                    return self._answer(401, b"invalid signature")
                if "json" in self.headers["Content-Type"]:
                    payload = json.loads(body)
                else:
                    form = dict(parse_qsl(body.decode()))
                    payload = json.loads(form["payload"]) if "payload" in form else form
                received.append({"payload": payload, "retry": self.headers.get("X-Slack-Retry-Num")})
                answer = {"echo": payload}
                if payload.get("type") == "view_submission":
                    summary = payload["view"]["state"]["values"]["summary"]["v"]["value"]
                    answer = {"response_action": "errors", "errors": {"summary": "Too short"}} \
                        if len(summary) < 5 else {}
                self._answer(200, json.dumps(answer).encode() if answer else b"")

            def _answer(self, status, data):
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"


@pytest.fixture
def bot():
    echo = EchoBot()
    yield echo
    echo.server.shutdown()
    echo.server.server_close()


@pytest.fixture
def driver(sim, bot):
    return SlackDriver(bot.url, SECRET, sim)


def test_command_is_signed_and_carries_trigger_and_response_url(sim, driver, bot):
    resp = driver.command("U1", "C1", "checkout is down")
    assert resp.status == 200
    sent = resp.json["echo"]
    assert (sent["command"], sent["text"], sent["user_id"], sent["channel_id"]) == \
        ("/escalate", "checkout is down", "U1", "C1")
    assert sent["team_id"] == "T0TEST"
    # What the bot does with them lands in the sim:
    WebhookClient(sent["response_url"]).send(text="On it")
    assert sim.ephemerals(channel="C1", user="U1")[0].text == "On it"
    api = WebClient(token=sim.token, base_url=sim.url)
    assert api.views_open(trigger_id=sent["trigger_id"], view=MODAL)["ok"]


def test_bad_or_stale_signature_refused(driver, bot):
    body = b"command=%2Fescalate&text=x"
    stale = str(int(time.time()) - 600)
    resp = driver.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded",
                                  "X-Slack-Request-Timestamp": stale,
                                  "X-Slack-Signature": driver.sign(body, stale)})
    assert resp.status == 401
    now = str(int(time.time()))
    resp = driver.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded",
                                  "X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=bad"})
    assert resp.status == 401 and bot.received == []


def test_click_finds_button_and_response_url_replaces_message(sim, client, driver):
    buttons = {"type": "actions", "block_id": "esc_actions", "elements": [
        {"type": "button", "action_id": "ack", "value": "ESC-1",
         "text": {"type": "plain_text", "text": "Acknowledge"}}]}
    ts = client.chat_postMessage(channel="C1", text="ESC-1 open", blocks=[section("ESC-1"), buttons])["ts"]
    payload = driver.click("U2", "C1", ts, "ack").json["echo"]
    assert payload["type"] == "block_actions"
    assert payload["actions"][0] | {"action_ts": None} == {
        "action_id": "ack", "block_id": "esc_actions", "value": "ESC-1", "type": "button",
        "text": {"type": "plain_text", "text": "Acknowledge"}, "action_ts": None}
    assert payload["container"] == {"type": "message", "message_ts": ts, "channel_id": "C1",
                                     "is_ephemeral": False}
    assert payload["message"]["ts"] == ts and payload["user"]["id"] == "U2"
    WebhookClient(payload["response_url"]).send(text="Acked by <@U2>", replace_original=True)
    assert sim.messages("C1")[0].text == "Acked by <@U2>"
    with pytest.raises(LookupError, match="missing_button"):  # the reply removed the buttons
        driver.click("U2", "C1", ts, "missing_button")


def test_submit_view_builds_state_by_label(sim, client, driver, bot):
    view_id = client.views_open(trigger_id=sim.new_trigger_id("U1"), view=MODAL)["view"]["id"]
    refused = driver.submit_view("U1", view_id, {"Summary": "bad", "Severity": "P1"})
    assert refused.json == {"response_action": "errors", "errors": {"summary": "Too short"}}
    assert sim.open_modal("U1").id == view_id  # errors keep the modal open

    accepted = driver.submit_view("U1", view_id, {"Summary": "Checkout down", "Severity": "P2",
                                                  "Notify": True})
    assert accepted.status == 200 and accepted.body == ""
    sent = bot.received[-1]["payload"]
    assert sent["type"] == "view_submission" and sent["view"]["callback_id"] == "esc_form"
    assert sent["view"]["private_metadata"] == "C1" and sent["view"]["id"] == view_id
    values = sent["view"]["state"]["values"]
    assert values["summary"]["v"] == {"type": "plain_text_input", "value": "Checkout down"}
    assert values["sev"]["v"]["selected_option"]["value"] == "p2"
    assert [o["value"] for o in values["notify"]["v"]["selected_options"]] == ["page"]
    assert values["team"]["v"]["value"] == "Billing"  # untouched input keeps its initial value
    assert sim.open_modal("U1") is None and sim.view(view_id).closed

    with pytest.raises(KeyError, match="Summary"):
        driver.submit_view("U1", view_id, {"Sumary": "typo"})
    with pytest.raises(ValueError, match="P3"):
        driver.submit_view("U1", view_id, {"Summary": "long enough", "Severity": "P3"})


def test_events_shortcuts_and_thread_reply(sim, client, driver, bot):
    root = sim.post_as_user("U1", "C1", "Customer says checkout is broken")
    shortcut = driver.message_shortcut("U2", "C1", root).json["echo"]
    assert shortcut["type"] == "message_action" and shortcut["callback_id"] == "escalate_message"
    assert shortcut["message"]["text"] == "Customer says checkout is broken"
    assert driver.global_shortcut("U2").json["echo"]["type"] == "shortcut"

    reply = driver.thread_reply("U3", "C1", root, "any update?")
    assert [r.text for r in sim.replies("C1", root)] == ["any update?"]
    event = bot.received[-1]["payload"]
    assert event["type"] == "event_callback" and event["event_id"].startswith("Ev")
    assert event["event"] | {"client_msg_id": None} == {
        "type": "message", "channel": "C1", "user": "U3", "text": "any update?", "ts": reply.ts,
        "event_ts": reply.ts, "thread_ts": root, "parent_user_id": "U1", "channel_type": "channel",
        "team": "T0TEST", "client_msg_id": None}

    driver.event({"type": "app_mention", "text": "hi"}, event_id="Ev1", retry_num=1)
    assert bot.received[-1]["retry"] == "1" and bot.received[-1]["payload"]["event_id"] == "Ev1"
    driver.app_home_opened("U3")
    assert bot.received[-1]["payload"]["event"]["type"] == "app_home_opened"

    text = sim.transcript()
    assert "Customer says checkout is broken" in text and "↳" in text and "any update?" in text


def test_real_bolt_app_round_trip(sim):
    """Driver payloads pass Bolt's own verification and parsing; its calls land in the sim."""
    from slack_bolt import App, BoltRequest

    app = App(client=WebClient(token=sim.token, base_url=sim.url), signing_secret=SECRET)

    @app.command("/escalate")
    def open_form(ack, body, client, respond):
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        respond("Fill in the form")

    @app.view("esc_form")
    def submitted(ack, view, client):
        ack()
        client.chat_postMessage(channel=view["private_metadata"],
                                text="ESC: " + view["state"]["values"]["summary"]["v"]["value"])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            resp = app.dispatch(BoltRequest(body=body, headers={k: [v] for k, v in self.headers.items()}))
            data = (resp.body or "").encode()
            self.send_response(resp.status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        driver = SlackDriver(f"http://127.0.0.1:{server.server_address[1]}/slack/events", SECRET, sim)
        assert driver.command("U1", "C1", "").status == 200
        modal = sim.wait_for(lambda: sim.open_modal("U1"))
        assert sim.wait_for(lambda: sim.ephemerals("C1", "U1"))[0].text == "Fill in the form"
        assert driver.submit_view("U1", modal.id, {"Summary": "Checkout down", "Severity": "P1"}).ok
        assert sim.wait_for(lambda: sim.find_message("ESC: Checkout down"))
        assert sim.open_modal("U1") is None
    finally:
        server.shutdown()
        server.server_close()
