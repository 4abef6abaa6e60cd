"""The public endpoint under attack or misuse: what it refuses, how, and that refusing
costs nothing — no parse before the signature, no body past the cap, no traceback,
no change, and the next real request is served as usual."""
import dataclasses
import json
import logging
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.http import protocol
from bot.http.verification import SlackSignature
from bot.ids import ActionId, CallbackId
from bot.server import BackgroundServer, create_asgi_app
from tests.harness import AGENT, SECRET, SUPPORT
from tests.http_probes import connect, database_snapshot, head, push_body, read_status, recorded_logs, wait_closed

FORM = "application/x-www-form-urlencoded"
BROKEN_BODIES = [
    (b"payload=this is not json", FORM),
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00 not utf-8", FORM),
    (b"[1, 2, 3]", "application/json"),
]


def signed_headers(harness, body: bytes, content_type: str, at: int | None = None) -> dict:
    timestamp = str(int(time.time()) if at is None else at)
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": harness.driver.sign(body, timestamp)}


def send_signed(harness, body: bytes | dict, content_type: str = FORM):
    if isinstance(body, dict):
        body, content_type = json.dumps(body).encode(), "application/json"
    return harness.driver.send_raw(body, signed_headers(harness, body, content_type))


def interaction(payload: dict) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def a_real_request_still_works(harness) -> None:
    harness.new_ticket(Summary="After the garbage")
    assert harness.sim.views_opened(AGENT)


# --- 401: nothing unsigned is parsed -------------------------------------------------

@pytest.mark.parametrize("body, content_type", BROKEN_BODIES)
def test_unsigned_forged_and_stale_broken_bodies_get_401_without_being_parsed(sqlite_harness, body, content_type):
    harness = sqlite_harness
    now = int(time.time())
    attempts = {
        "unsigned": {"Content-Type": content_type},
        "forged": {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(now),
                   "X-Slack-Signature": "v0=" + "0" * 64},
        "timestamp not a number": {"Content-Type": content_type, "X-Slack-Request-Timestamp": "soon",
                                   "X-Slack-Signature": "v0=" + "0" * 64},
    }
    if utf8(body):  # no Slack request is anything else; SignatureVerifier can't even sign it
        attempts.update({
            "signed with another secret": {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(now),
                                           "X-Slack-Signature": SignatureVerifier("another-secret")
                                           .generate_signature(timestamp=str(now), body=body)},
            "stale": signed_headers(harness, body, content_type, at=now - 6 * 60),
            "from the future": signed_headers(harness, body, content_type, at=now + 6 * 60),
        })
    with recorded_logs() as logs:
        for name, headers in attempts.items():
            answer = harness.driver.send_raw(body, headers)
            assert answer.status == 401, (name, answer.status, answer.body)
            assert "Traceback" not in answer.body
    assert logs.tracebacks() == [] and logs.at_least(logging.WARNING) == []
    if utf8(body):  # signed, the same body is read — and refused as malformed: the 401s came before any parse
        assert send_signed(harness, body, content_type).status == 400


def utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


@pytest.mark.parametrize("age, valid", [(0, True), (299, True), (-299, True), (301, False), (-301, False)])
@pytest.mark.parametrize("secret", [SECRET, "not-the-secret"])
def test_the_signature_check_agrees_with_slack_sdk(age, valid, secret):
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    timestamp = str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    headers = {"x-slack-request-timestamp": timestamp, "x-slack-signature": signature}
    expected = SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert SlackSignature(SECRET).is_valid(body, headers) is expected is (valid and secret == SECRET)
    assert SlackSignature(SECRET).is_valid(body + b" ", headers) is False


# --- 413: the body cap ---------------------------------------------------------------

def test_an_announced_body_over_the_cap_gets_413_before_it_is_sent(sqlite_harness):
    harness = sqlite_harness
    with connect(harness.server.url) as sock:
        sock.sendall(head(harness.server.url, "/slack/events",
                          {"Content-Type": FORM, "Content-Length": str(64 * 1024 * 1024)}))
        assert read_status(sock) == 413  # not a byte of the body was sent
    a_real_request_still_works(harness)


def test_a_chunked_body_is_cut_at_the_cap(sqlite_harness):
    harness = sqlite_harness
    status, sent = push_body(harness.server.url, "/slack/events", 64 * 1024 * 1024, chunked=True)
    assert status == 413
    assert sent < 16 * 1024 * 1024  # the server hung up long before the 64 MiB were through
    a_real_request_still_works(harness)


def test_a_body_at_the_cap_is_served(sqlite_harness):
    harness = sqlite_harness
    cap = harness.runtime.settings.max_body
    payload = {"type": "url_verification", "challenge": "c0ffee", "padding": ""}
    payload["padding"] = "x" * (cap - len(json.dumps(payload).encode()))
    body = json.dumps(payload).encode()
    assert len(body) == cap
    answer = send_signed(harness, body, "application/json")
    assert answer.status == 200 and "c0ffee" in answer.body
    assert push_body(harness.server.url, "/slack/events", cap + 1, chunked=False)[0] == 413


def test_the_cap_is_the_configured_one(sqlite_harness):
    harness = sqlite_harness
    settings = dataclasses.replace(harness.runtime.settings, max_body=4096)  # ESCALATOR_MAX_BODY=4KiB
    server = BackgroundServer(create_asgi_app(dataclasses.replace(harness.runtime, settings=settings),
                                              harness.app)).start()
    try:
        assert push_body(server.url, "/slack/events", 4097, chunked=False)[0] == 413
        assert push_body(server.url, "/slack/events", 4097, chunked=True)[0] == 413
        assert push_body(server.url, "/slack/events", 4096, chunked=False)[0] == 401  # read, then refused unsigned
    finally:
        server.stop()


# --- signed but malformed: 4xx, one warning, nothing changed --------------------------

def malformed_requests(harness) -> dict[str, tuple[bytes, str, int, str]]:
    """name -> (body, content type, expected status, what the one warning names)"""
    user = {"id": AGENT, "team_id": "T0TEST"}
    good_button = {"action_id": ActionId.ACKNOWLEDGE.value, "block_id": "b", "type": "button", "value": "{}"}
    view = {"id": "V0X", "type": "modal", "callback_id": CallbackId.NEW_ESCALATION_MODAL.value, "private_metadata": "{}",
            "state": {"values": {}}}

    def event(inner: dict) -> bytes:
        return json.dumps({"type": "event_callback", "event_id": "Ev0JUNK", "team_id": "T0TEST",
                           "event": inner}).encode()

    return {
        "form payload not JSON": (b"payload=this is not json", FORM, 400, "is not JSON"),
        "JSON body not JSON": (b"{not json", "application/json", 400, "is not JSON"),
        "JSON array": (b"[1, 2, 3]", "application/json", 400, "not a JSON object"),
        "button click without a user": (interaction({"type": "block_actions", "actions": [good_button]}), FORM,
                                        400, "block_actions ticket.acknowledge"),
        "button click without actions": (interaction({"type": "block_actions", "user": user, "actions": []}),
                                         FORM, 400, "actions.0 is missing"),
        "user is a string": (interaction({"type": "block_actions", "user": "U1", "actions": [good_button]}),
                             FORM, 400, "user is not an object"),
        "message event without a channel": (event({"type": "message", "ts": "1.2", "user": AGENT}),
                                            "application/json", 400, "event.channel is missing"),
        "event type not a string": (event({"type": ["message"]}), "application/json", 400,
                                    "event.type is not a string"),
        "click on a message without a response_url": (
            interaction({"type": "block_actions", "user": user, "trigger_id": "t",
                         "actions": [{**good_button, "action_id": ActionId.LIST_NEXT.value}]}), FORM, 400,
            "response_url is missing"),
        "event without an event": (json.dumps({"type": "event_callback", "event_id": "Ev0X"}).encode(),
                                   "application/json", 400, "event.type is missing"),
        "command without a trigger": (urlencode({"command": "/escalate", "user_id": AGENT, "channel_id": SUPPORT,
                                                 "response_url": "http://x"}).encode(), FORM, 400,
                                      "command /escalate"),
        "response_url not a URL": (urlencode({"command": "/escalate", "user_id": AGENT, "channel_id": SUPPORT,
                                              "trigger_id": "t", "response_url": "javascript:alert(1)"}).encode(),
                                   FORM, 400, "response_url is not a URL"),
        "unknown type": (interaction({"type": "mystery_box", "user": user}), FORM, 404, "mystery_box"),
        "unknown action_id": (interaction({"type": "block_actions", "user": user, "trigger_id": "t",
                                           "response_url": "http://127.0.0.1:9/nowhere",
                                           "actions": [{**good_button, "action_id": "ticket.explode"}]}), FORM,
                              404, "block_actions ticket.explode"),
        "unknown callback_id": (interaction({"type": "view_submission", "user": user,
                                             "view": {**view, "callback_id": "ticket.unknown"}}), FORM, 404,
                                "view_submission ticket.unknown"),
        "unknown command": (urlencode({"command": "/deescalate-everything", "user_id": AGENT,
                                       "channel_id": SUPPORT, "trigger_id": "t", "response_url": "http://x",
                                       "text": "now"}).encode(), FORM, 404, "command /deescalate-everything"),
        "unknown event type": (event({"type": "reaction_added", "user": AGENT}), "application/json", 404,
                               "event_callback reaction_added"),
        "button value not ours": (interaction({"type": "block_actions", "user": user, "trigger_id": "t",
                                               "response_url": "http://127.0.0.1:9/nowhere",
                                               "actions": [{**good_button, "value": "not json at all"}]}), FORM,
                                  400, "block_actions ticket.acknowledge"),
        "private_metadata not ours": (interaction({"type": "view_submission", "user": user,
                                                   "view": {**view, "private_metadata": "[1, 2]"}}), FORM, 400,
                                      "view_submission ticket.new"),
    }


def test_signed_garbage_gets_4xx_one_warning_and_changes_nothing(harness):
    key = harness.new_ticket(Summary="Before the garbage")
    harness.settle()
    before = database_snapshot(harness)
    for name, (body, content_type, status, named) in malformed_requests(harness).items():
        with recorded_logs() as logs:
            answer = send_signed(harness, body, content_type)
        assert answer.status == status, (name, answer.status, answer.body)
        assert "Traceback" not in answer.body, name
        assert logs.tracebacks() == [], (name, logs.tracebacks())
        warnings = logs.at_least(logging.WARNING)
        assert len(warnings) == 1, (name, [r.getMessage() for r in warnings])
        assert warnings[0].levelno == logging.WARNING and named in warnings[0].getMessage(), (
            name, warnings[0].getMessage())
    assert database_snapshot(harness) == before
    assert harness.sim.views_opened(AGENT)[-1:] and len(harness.sim.views_opened(AGENT)) == 1  # no modal opened
    assert harness.runtime.desk.find(key).summary == "Before the garbage"
    a_real_request_still_works(harness)


def test_a_button_naming_no_ticket_says_so(sqlite_harness):
    harness = sqlite_harness
    key = harness.new_ticket()
    briefing = harness.briefing(key)
    harness.settle()
    before = database_snapshot(harness)
    with recorded_logs() as logs:
        answer = harness.driver.click(AGENT, briefing.channel, briefing.ts, ActionId.ACKNOWLEDGE, value="{}")
    assert answer.status == 200
    told = harness.sim.wait_for(lambda: harness.ephemeral_texts(AGENT), message="the notice")
    assert "There is no ticket this message" in told[-1]
    assert logs.tracebacks() == [] and database_snapshot(harness) == before


def test_a_thread_reply_without_its_own_ts_changes_nothing(sqlite_harness):
    harness = sqlite_harness
    briefing = harness.briefing(harness.new_ticket())
    harness.settle()
    before = database_snapshot(harness)
    with recorded_logs() as logs:
        answer = harness.driver.event({"type": "message", "channel": briefing.channel, "user": AGENT,
                                       "text": "looking", "thread_ts": briefing.ts})
        harness.settle()
    assert answer.status == 200 and logs.tracebacks() == []
    assert database_snapshot(harness) == {**before, "processed_events": database_snapshot(harness)[
        "processed_events"]}  # only its event id is recorded: no note, no acknowledgment


def test_a_garbled_modal_state_gets_the_forms_own_errors(sqlite_harness):
    harness = sqlite_harness
    before = database_snapshot(harness)
    view = harness.open_modal()
    state = {"summary": "not a block", "severity": {"value": ["not", "an", "element"]},
             "customer": {"value": {"type": "plain_text_input", "value": {"nested": True}}}}
    body = interaction({"type": "view_submission", "user": {"id": AGENT},
                        "view": {**harness.sim.view(view.id).to_api(), "state": {"values": state}}})
    with recorded_logs() as logs:
        answer = send_signed(harness, body)
    assert answer.status == 200 and answer.json["response_action"] == "errors"
    assert set(answer.json["errors"]) >= {"summary", "severity"}
    assert logs.tracebacks() == [] and database_snapshot(harness) == before


# --- routes, methods, slow and large heads ---------------------------------------------

def test_unknown_paths_and_wrong_methods_are_plain_404_and_405(sqlite_harness):
    harness = sqlite_harness
    with recorded_logs() as logs:
        for method, path, status in (("GET", "/", 404), ("POST", "/slack/other", 404), ("GET", "/../etc/passwd", 404),
                                     ("GET", "/slack/events", 405), ("PUT", "/healthz", 405),
                                     ("DELETE", "/slack/events", 405)):
            with connect(harness.server.url) as sock:
                sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
                assert read_status(sock) == status, (method, path)
    assert logs.tracebacks() == []


def test_a_slow_or_oversized_request_head_is_cut_off_and_slack_is_still_served(sqlite_harness, monkeypatch):
    harness = sqlite_harness
    monkeypatch.setattr(protocol.GuardedHttpProtocol, "head_timeout", 0.5)
    slow = [connect(harness.server.url) for _ in range(20)]
    for sock in slow:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the rest
    silent = connect(harness.server.url)  # connects and sends nothing at all
    a_real_request_still_works(harness)
    assert all(wait_closed(sock, timeout=5) for sock in [*slow, silent])
    for sock in [*slow, silent]:
        sock.close()
    with connect(harness.server.url) as sock:
        sock.sendall(head(harness.server.url, "/slack/events", {"X-Padding": "p" * (protocol.MAX_HEAD + 1)}))
        assert read_status(sock) == 400


def test_a_body_that_trickles_in_gets_408(sqlite_harness, monkeypatch):
    from bot.http import limits

    harness = sqlite_harness
    monkeypatch.setattr(limits.RequestLimits, "body_timeout", 0.5)
    with connect(harness.server.url) as sock:
        sock.sendall(head(harness.server.url, "/slack/events", {"Content-Type": FORM, "Content-Length": "100"}))
        sock.sendall(b"payload=")  # and the other 92 bytes never come
        assert read_status(sock) == 408
    a_real_request_still_works(harness)


def test_one_endless_header_is_cut_at_the_head_limit(sqlite_harness):
    harness = sqlite_harness
    with connect(harness.server.url) as sock:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except OSError:
            pass  # the server hung up: what it should do
    assert sent < 16 * 1024 * 1024, f"the server took {sent / 2**20:.0f} MiB of one header line"
    a_real_request_still_works(harness)
