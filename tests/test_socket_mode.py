"""Socket Mode against a local Socket Mode server (real WebSocket frames, the real
client): the core flow over envelopes, a refresh with no gap, an envelope delivered
again handled once, a dropped or silent socket replaced within seconds, Slack
unreachable for a while, several processes on one database, and a refused app token."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from bot.ids import ActionId
from bot.models import OutboxMessage, Ticket
from bot.policy import load_policy
from bot.simulator import FakeSlack, FakeSocketMode, SocketModeDriver
from bot.socket_mode.connection import Connection
from tests.conftest import postgres_schema_url
from tests.harness import AGENT, AGENT2, CHANNELS, SUPPORT, TOKEN
from tests.socket_harness import SocketModeHarness


@pytest.fixture
def socket_harness(database_url):
    with SocketModeHarness(database_url) as running:
        yield running


@pytest.fixture
def sqlite_socket_harness(sqlite_url):
    """For connection behaviour that doesn't depend on the database."""
    with SocketModeHarness(sqlite_url) as running:
        yield running


def test_core_flow_over_envelopes_every_envelope_acked_in_time(socket_harness):
    h = socket_harness
    key = h.new_ticket(Summary="Checkout fails for all EU users")  # /escalate → modal → submit
    briefing = h.briefing(key, "tier1")
    assert "Checkout fails for all EU users" in briefing.rendered
    h.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
    h.wait_thread(briefing, f"Acknowledged by <@{AGENT2}>")
    kinds = [d.type for d in h.driver.deliveries]
    assert kinds == ["slash_commands", "interactive", "interactive"]
    assert all(d.ack_seconds < 3 for d in h.driver.deliveries), [d.ack_seconds for d in h.driver.deliveries]
    assert [len(d.acks) for d in h.driver.deliveries] == [1, 1, 1]


def stream_help_commands(h, stop: threading.Event, sent: list, user: str = AGENT) -> threading.Thread:
    """People keep typing `/escalate help` (about 20 a second) until `stop`."""
    def run() -> None:
        while not stop.is_set():
            sent.append(h.driver.command(user, SUPPORT, "help"))
            time.sleep(0.05)

    thread = threading.Thread(target=run, name="people", daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_refresh_opens_the_next_connection_first_and_loses_nothing(socket_harness, reason):
    h = socket_harness
    server = h.socket
    old = server.open_connections()[0]
    server.hello_delay = 0.2  # Slack's hello comes a moment after the handshake
    stop, sent = threading.Event(), []
    people = stream_help_commands(h, stop, sent)
    time.sleep(0.3)
    server.disconnect(old, reason, close_after=30)
    pinned = SocketModeDriver(h.sim)
    pinned.deliver_to = [old]  # Slack may still deliver on a connection it announced it will close
    pinned.command(AGENT2, SUPPORT, "help")
    new = server.wait_for_connections(1, after=old.opened_at)[0]
    server.wait_closed(old)
    time.sleep(0.3)
    stop.set()
    people.join(10)

    assert old.closed_by == "client" and new.open
    assert old.closed_at > new.hello_at  # the old one was closed only after the new one said hello
    deliveries = h.driver.deliveries + pinned.deliveries
    assert {d.connection_id for d in deliveries} == {old.id, new.id}
    for delivery in deliveries:  # none lost (the last ones may still be on their way on a loaded machine)
        delivery.wait_ack(timeout=15)
    time.sleep(0.3)
    assert all(len(d.acks) == 1 for d in deliveries)  # none acked twice
    assert all(ack[0] in d.sent_on for d in deliveries for ack in d.acks)
    worst = max(d.ack_seconds for d in deliveries)
    assert worst < 0.5, f"worst ack during the refresh: {worst * 1000:.0f} ms"
    helps = [e for e in h.ephemeral_texts(AGENT, SUPPORT) if "/escalate status ESC-12" in e]
    assert len(helps) == len(sent) == len(h.driver.deliveries)  # each answered once
    assert len([e for e in h.ephemeral_texts(AGENT2, SUPPORT) if "/escalate status ESC-12" in e]) == 1


def test_an_event_delivered_again_in_a_new_envelope_is_handled_once(socket_harness, caplog):
    h = socket_harness
    key = h.new_ticket()
    briefing = h.briefing(key)
    ts = h.sim.post_as_user(AGENT2, CHANNELS["tier1"], "looking", thread_ts=briefing.ts)
    event = {"type": "message", "channel": CHANNELS["tier1"], "user": AGENT2, "text": "looking", "ts": ts,
             "thread_ts": briefing.ts, "channel_type": "channel"}
    with caplog.at_level(logging.INFO, logger="escalator.handlers"):
        h.driver.event(event, event_id="Ev0SAME")
        h.driver.event(event, event_id="Ev0SAME", retry_num=1)  # Slack's retry: a new envelope
    first, again = h.driver.deliveries[-2:]
    assert first.type == again.type == "events_api" and first.envelope_id != again.envelope_id
    assert first.acks and again.acks
    assert "event Ev0SAME already handled" in caplog.text
    h.settle()
    assert len([t for t in h.thread_texts(briefing) if "Acknowledged by" in t]) == 1


def test_a_dropped_socket_is_replaced_within_seconds_and_escalate_works(sqlite_socket_harness):
    h = sqlite_socket_harness
    server = h.socket
    old = server.open_connections()[0]
    urls_before = server.urls_issued
    dropped_at = server.drop(old)
    new = server.wait_for_connections(1, timeout=10, after=old.opened_at)[0]
    assert new.hello_at - dropped_at <= 3.0, f"new hello {new.hello_at - dropped_at:.2f} s after the drop"
    assert server.urls_issued == urls_before + 1  # a fresh URL from apps.connections.open
    key = h.new_ticket(Summary="Typed right after the drop")
    assert key == "ESC-1" and all(d.connection_id == new.id for d in h.driver.deliveries)


def test_a_silent_connection_is_found_by_ping_and_replaced(sqlite_socket_harness):
    h = sqlite_socket_harness
    server = h.socket
    old = server.open_connections()[0]
    silenced_at = server.silence(old)  # no close, no pong: a half-open connection
    new = server.wait_for_connections(1, timeout=15, after=old.opened_at)[0]
    assert new.hello_at - silenced_at <= 5.0, f"new hello {new.hello_at - silenced_at:.2f} s after silence"
    assert h.driver.command(AGENT, SUPPORT, "help").status == 200


def serve_env(sim: FakeSlack, database_url: str, app_token: str) -> dict:
    env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": "socket-mode-signing-secret",
           "SLACK_APP_TOKEN": app_token, "SLACK_API_URL": sim.url, "DATABASE_URL": database_url}
    env.pop("ESCALATOR_POLICY", None)
    return env


REFUSED_TOKEN = "xapp-1-A0WRONG-4711-0123456789abcdef"


@pytest.mark.parametrize("case, code", [
    ("wrong token", "invalid_auth"),
    ("not an app-level token", "not_allowed_token_type"),
    ("no connections:write", "missing_scope"),
    ("a bot token in SLACK_APP_TOKEN", "not_allowed_token_type"),
])
def test_a_refused_app_token_stops_serve_with_one_line_and_exit_2(tmp_path, case, code):
    database = tmp_path / "refused.db"
    with FakeSlack(token=TOKEN) as sim:
        app_token = REFUSED_TOKEN if case == "wrong token" else sim.app_token
        if case == "not an app-level token":
            sim.fail_next("apps.connections.open", "not_allowed_token_type")
        elif case == "no connections:write":
            sim.app_token_scopes = {"authorizations:read"}
        elif case == "a bot token in SLACK_APP_TOKEN":
            app_token = "xoxb-1-bot-token-in-the-wrong-place"
        result = subprocess.run([sys.executable, "-m", "bot.cli", "serve"],
                                env=serve_env(sim, f"sqlite:///{database}", app_token),
                                capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "SLACK_APP_TOKEN" in lines[0], output
    assert code in lines[0]
    assert "Traceback" not in output and result.stdout == ""
    for secret in (app_token, TOKEN):
        assert secret not in output and secret[5:15] not in output and secret[-8:] not in output
    assert not database.exists()  # refused before the database (or anything else) started


@pytest.fixture
def postgres_url():
    yield from postgres_schema_url()


def test_two_processes_on_postgresql_handle_an_envelope_delivered_to_both_once(postgres_url):
    processes = []
    try:
        with FakeSlack(token=TOKEN) as sim:
            sim.add_channel(SUPPORT, "support")
            for key, level in load_policy().levels.items():
                sim.add_channel(level.channel, key)
            server = sim.enable_socket_mode()
            for count in (1, 2):  # one after the other: each runs the migrations on start
                processes.append(subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"],
                                                  env=serve_env(sim, postgres_url, sim.app_token),
                                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
                server.wait_for_connections(count, timeout=30)
            first, second = server.open_connections()
            driver = SocketModeDriver(sim)
            driver.command(AGENT, SUPPORT, "")
            modal = sim.wait_for(lambda: sim.views_opened(AGENT) and sim.views_opened(AGENT)[-1],
                                 message="the New escalation modal")
            driver.deliver_to = [first, second]  # Slack's retry after a missing ack reaches the other one
            driver.submit_view(AGENT, modal.id, {"Summary": "Both processes got this", "Severity": "P2"})
            copies = driver.deliveries[-1:]
            briefing = sim.wait_for(lambda: [m for m in sim.messages(CHANNELS["tier1"]) if "ESC-1 ·" in m.rendered],
                                    message="the ESC-1 briefing")
            time.sleep(1.0)  # time for a second effect, were there one
            assert len(briefing) == 1
            assert not [m for m in sim.messages(CHANNELS["tier1"]) if "ESC-2" in m.rendered]
            assert {ack[0] for ack in copies[0].acks} == {first.id, second.id}  # both copies acked
            assert sum(1 for ack in copies[0].acks if ack[2]) == 1  # one answered the submission
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                output = process.communicate(timeout=15)[0]
            except subprocess.TimeoutExpired:
                process.kill()
                output = process.communicate()[0]
            assert process.returncode == 0, output
            assert "Traceback" not in output, output


def test_a_replaced_connection_is_closed_only_once_its_envelopes_are_acked():
    release = threading.Event()

    def slow_listener(envelope: dict) -> dict:
        release.wait(5)
        return {"envelope_id": envelope["envelope_id"]}

    with FakeSocketMode() as server, ThreadPoolExecutor(2) as pool:
        connection = Connection(server.new_url(), slow_listener, pool, lambda: None,
                                ping_interval=1.0, ping_timeout=1.5)
        assert connection.wait_hello(5)
        [seen] = server.wait_for_connections(1)
        delivery = server.deliver("interactive", {"type": "block_actions"}, connection=seen)
        time.sleep(0.2)  # the envelope is being handled
        closing = threading.Thread(target=connection.close)
        closing.start()
        time.sleep(0.3)
        assert seen.open and not delivery.acks  # waits for the listener
        release.set()
        closing.join(5)
        delivery.wait_ack()
        server.wait_closed(seen)
        assert delivery.acks[0][0] == seen.id and seen.closed_by == "client"


def test_while_slack_is_unreachable_the_bot_keeps_trying_and_the_log_says_so(sqlite_socket_harness, caplog):
    h = sqlite_socket_harness
    old = h.socket.open_connections()[0]
    opened_before = h.sim.count("apps.connections.open")
    h.sim.fail_http("apps.connections.open", status=503, count=3)
    h.socket.drop(old)
    new = h.socket.wait_for_connections(1, timeout=30, after=old.opened_at)[0]
    assert h.sim.count("apps.connections.open") == opened_before + 4  # three refused, then a URL
    assert caplog.text.count("Socket Mode: not connected to Slack") >= 3
    assert h.new_ticket() == "ESC-1" and h.driver.deliveries[-1].connection_id == new.id


def test_serve_started_while_slack_is_unreachable_waits_for_it_and_then_serves(tmp_path):
    with FakeSlack(token=TOKEN) as sim:
        sim.add_channel(SUPPORT, "support")
        server = sim.enable_socket_mode()
        sim.outage(status=503, seconds=120)  # every Web API call, auth.test included
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"],
                                   env=serve_env(sim, f"sqlite:///{tmp_path / 'late.db'}", sim.app_token),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            # Slack comes back only once serve has been refused twice (a slow start can't
            # outlast the outage and skip the waiting)
            sim.wait_for(lambda: sum(1 for c in sim.calls if c.status == 503) >= 2, timeout=60,
                         message="serve trying Slack during the outage")
            sim.clear_faults()
            server.wait_for_connections(1, timeout=60)
            assert process.poll() is None
            SocketModeDriver(sim).command(AGENT, SUPPORT, "help")
            assert any("/escalate status ESC-12" in e.rendered for e in sim.ephemerals(channel=SUPPORT, user=AGENT))
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=15)[0]
    assert process.returncode == 0, output
    assert "Socket Mode: not connected to Slack" in output and "Traceback" not in output
    assert "Socket Mode: connected to Slack" in output.split("Socket Mode: not connected to Slack")[-1]


def test_an_envelope_we_refuse_is_acked_once_and_changes_nothing(sqlite_socket_harness, caplog):
    """An unknown action or a button value we never wrote is refused for good: acked (so
    Slack doesn't deliver it again and again), one warning, no ticket touched."""
    h = sqlite_socket_harness
    caplog.set_level(logging.WARNING)
    payload = {"type": "block_actions", "user": {"id": AGENT}, "team": {"id": "T0FAKE"},
               "channel": {"id": SUPPORT}, "trigger_id": "1.2.3",
               "actions": [{"action_id": "no_such_action", "value": "ESC-1", "type": "button"}]}
    delivery = h.socket.deliver("interactive", payload).wait_ack()
    time.sleep(0.3)  # a redelivery would come at once
    assert len(delivery.acks) == 1 and len(delivery.sent_on) == 1
    assert not delivery.ack_payload
    assert "no_such_action" in caplog.text and "Traceback" not in caplog.text
    with h.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_submission_whose_process_died_after_handling_it_is_not_handled_again(sqlite_socket_harness):
    """Slack delivers an un-acked envelope again, maybe to another process; if the first one
    handled it and died before its ack went out, the retry must not open a second ticket."""
    from bot.events import EventLedger
    from bot.liveness import liveness_for
    from bot.socket_mode import EnvelopeHandler

    h = sqlite_socket_harness
    h.driver.command(AGENT, SUPPORT, "")
    modal = h.sim.wait_for(lambda: h.sim.views_opened(AGENT) and h.sim.views_opened(AGENT)[-1], message="the modal")
    h.driver.submit_view(AGENT, modal.id, {"Summary": "Only once", "Severity": "P2"})
    submitted = h.driver.deliveries[-1]
    survivor = liveness_for(h.runtime.engine)
    survivor.hold()
    h.runtime.worker.liveness.release()  # the process that handled it is gone
    again = {"envelope_id": submitted.envelope_id, "type": submitted.type, "payload": submitted.payload,
             "retry_attempt": 1, "retry_reason": "timeout"}
    try:
        ack = EnvelopeHandler(h.app, EventLedger(h.runtime.sessions, survivor))(again)
    finally:
        survivor.release()
    assert ack == {"envelope_id": submitted.envelope_id}
    with h.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_a_server_that_drops_every_connection_at_once_is_retried_with_backoff(sqlite_socket_harness, caplog):
    """A server closing each connection right after its hello must not get a hot loop of
    apps.connections.open calls: the first quick drop is retried at once, the next ones
    back off (0.25 s doubling, plus jitter), and the log says so."""
    h = sqlite_socket_harness
    server = h.socket
    urls_before = server.urls_issued
    stop_at = time.monotonic() + 4.0
    while time.monotonic() < stop_at:
        for connection in server.open_connections():
            server.drop(connection)
        time.sleep(0.02)
    attempts = server.urls_issued - urls_before
    assert 2 <= attempts <= 8, f"{attempts} connections opened in 4 s of drops"
    assert "after its hello; next attempt" in caplog.text
    server.wait_for_connections(1, timeout=15)  # and once the server behaves, it is back
    assert h.driver.command(AGENT, SUPPORT, "help").status == 200


def test_a_malformed_envelope_is_refused_like_a_malformed_request(sqlite_socket_harness, caplog):
    """The shape check HTTP requests get: a click with no user is acked, logged once as a
    warning, and reaches no listener (no traceback, nothing written)."""
    h = sqlite_socket_harness
    payload = {"type": "block_actions", "team": {"id": "T0FAKE"}, "channel": {"id": SUPPORT},
               "trigger_id": "1.2.3", "actions": [{"action_id": ActionId.ACKNOWLEDGE, "value": "{}"}]}
    delivery = h.socket.deliver("interactive", payload).wait_ack()
    assert len(delivery.acks) == 1 and not delivery.ack_payload
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "malformed" in r.getMessage()]
    assert len(warnings) == 1 and "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    with h.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
