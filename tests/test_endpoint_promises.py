"""README promises of "Running it" and "Socket Mode" that the endpoint and Socket Mode
suites left open: the endpoint's figures (head and body 10 s, 64 KiB, 200 at once, 5 s
keep-alive) and that the concurrency and keep-alive limits are the ones uvicorn runs
with; a refused request's log line holds nothing a person typed, an unsigned one is an
info line; an envelope whose handling fails is left un-acked and runs on Slack's retry;
Slack refusing the app-level token after start-up stops `serve` like a refused token."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

import bot.http
from bot.http import limits, protocol
from bot.models import Ticket
from bot.server import BackgroundServer, create_asgi_app
from bot.simulator import FakeSlack
from tests.harness import AGENT, SUPPORT, TOKEN
from tests.http_probes import connect, read_status, recorded_logs, wait_closed
from tests.socket_harness import SocketModeHarness
from tests.test_serve import served  # noqa: F401  (a real serve --http process on SQLite)

FORM = "application/x-www-form-urlencoded"


# --- the endpoint's limits ------------------------------------------------------------

def test_the_endpoints_limits_are_the_figures_the_readme_gives():
    """The tests below shorten the times to stay quick; these are the figures in production."""
    options = bot.http.uvicorn_options()
    assert options["limit_concurrency"] == 200
    assert options["timeout_keep_alive"] == 5
    assert options["http"] is protocol.GuardedHttpProtocol
    assert protocol.GuardedHttpProtocol.head_timeout == 10
    assert protocol.GuardedHttpProtocol.max_head == 64 * 1024
    assert limits.RequestLimits.body_timeout == 10


def healthz(url: str) -> int | None:
    with connect(url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return read_status(sock)


def eventually(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_past_the_concurrency_limit_a_request_gets_503_and_is_served_again_after(sqlite_harness, monkeypatch):
    harness = sqlite_harness
    monkeypatch.setattr(bot.http, "LIMIT_CONCURRENCY", 4)  # 200 in production; 4 is quicker to reach
    server = BackgroundServer(create_asgi_app(harness.runtime, harness.app)).start()
    try:
        assert healthz(server.url) == 200
        idle = [connect(server.url) for _ in range(4)]
        assert eventually(lambda: healthz(server.url) == 503)  # once the server has accepted them
        for sock in idle:
            sock.close()
        assert eventually(lambda: healthz(server.url) == 200)
    finally:
        server.stop()


def test_an_idle_kept_alive_connection_is_closed(sqlite_harness, monkeypatch):
    harness = sqlite_harness
    monkeypatch.setattr(bot.http, "TIMEOUT_KEEP_ALIVE", 0.5)  # 5 s in production
    server = BackgroundServer(create_asgi_app(harness.runtime, harness.app)).start()
    try:
        with connect(server.url) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # HTTP/1.1: kept alive
            assert read_status(sock) == 200
            assert wait_closed(sock, timeout=4)
    finally:
        server.stop()


# --- what a refusal logs --------------------------------------------------------------

TYPED = "Customer card 4111-1111-1111-1111 is the problem"


def test_a_refused_request_logs_no_text_a_person_typed(sqlite_harness):
    harness = sqlite_harness
    malformed = {  # signed, each missing something Slack always sends, each carrying typed text
        "command without a trigger": urlencode({"command": "/escalate", "user_id": AGENT, "channel_id": SUPPORT,
                                                "response_url": "http://x", "text": TYPED}).encode(),
        "submission without a user": urlencode({"payload": json.dumps({
            "type": "view_submission", "view": {"callback_id": "ticket.new", "private_metadata": "{}",
                                                "state": {"values": {"summary": {"summary": {
                                                    "type": "plain_text_input", "value": TYPED}}}}}})}).encode(),
    }
    for name, body in malformed.items():
        timestamp = str(int(time.time()))
        with recorded_logs() as logs:
            answer = harness.driver.send_raw(body, {"Content-Type": FORM, "X-Slack-Request-Timestamp": timestamp,
                                                    "X-Slack-Signature": harness.driver.sign(body, timestamp)})
        assert answer.status == 400, (name, answer.status)
        warnings = logs.at_least(logging.WARNING)
        assert len(warnings) == 1, (name, [r.getMessage() for r in warnings])
        assert all("4111" not in r.getMessage() for r in logs.records), (name, warnings[0].getMessage())


def test_an_unsigned_request_is_logged_as_one_info_line(sqlite_harness):
    harness = sqlite_harness
    body = urlencode({"command": "/escalate", "user_id": AGENT, "text": TYPED}).encode()
    with recorded_logs() as logs:
        answer = harness.driver.send_raw(body, {"Content-Type": FORM})
    assert answer.status == 401
    ours = [r for r in logs.records if r.name == "escalator.http"]
    assert [r.levelno for r in ours] == [logging.INFO], [r.getMessage() for r in ours]
    assert "4111" not in ours[0].getMessage()


# --- Socket Mode ----------------------------------------------------------------------

@pytest.fixture
def sqlite_socket_harness(sqlite_url):
    with SocketModeHarness(sqlite_url) as running:
        yield running


def test_an_envelope_whose_handling_fails_is_left_unacked_and_runs_on_slacks_retry(sqlite_socket_harness,
                                                                                     monkeypatch):
    h = sqlite_socket_harness
    h.driver.command(AGENT, SUPPORT, "")
    modal = h.sim.wait_for(lambda: h.sim.views_opened(AGENT) and h.sim.views_opened(AGENT)[-1], message="the modal")
    dispatch = h.app.dispatch
    failed = []

    def fails_once(request):  # Bolt could not run it (a listener's database went away, say)
        if not failed:
            failed.append(request)
            raise RuntimeError("the database went away")
        return dispatch(request)

    monkeypatch.setattr(h.app, "dispatch", fails_once)
    h.driver.ack_timeout = 1.0
    with pytest.raises(AssertionError, match="0 of 1 acks"):
        h.driver.submit_view(AGENT, modal.id, {"Summary": "Runs on the retry", "Severity": "P2"})
    assert failed
    delivery = next(d for d in h.socket.deliveries.values() if d.type == "interactive")
    assert not delivery.acks
    with h.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
    # Slack delivers an un-acked envelope again; the fake server does when its connection ends
    old = h.socket.open_connections()[0]
    h.socket.drop(old)
    delivery.wait_ack(15)
    with h.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
        assert session.scalar(select(Ticket.summary)) == "Runs on the retry"


def test_slack_refusing_the_app_token_later_stops_serve_with_one_line_and_exit_2(tmp_path):
    with FakeSlack(token=TOKEN) as sim:
        sim.add_channel(SUPPORT, "support")
        server = sim.enable_socket_mode()
        env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": "socket-mode-signing-secret",
               "SLACK_APP_TOKEN": sim.app_token, "SLACK_API_URL": sim.url,
               "DATABASE_URL": f"sqlite:///{tmp_path / 'later.db'}"}
        env.pop("ESCALATOR_POLICY", None)
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            connection = server.wait_for_connections(1, timeout=60)[0]
            sim.app_token_scopes = set()  # the token lost connections:write: Slack now refuses it
            server.drop(connection)
            stdout, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=15)
    output = stdout + stderr
    assert process.returncode == 2, output
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("escalator: SLACK_APP_TOKEN was refused by Slack (missing_scope)"), output
    assert "Traceback" not in output
    assert sim.app_token not in output and TOKEN not in output


def test_socket_mode_retries_back_off_from_at_once_to_at_most_10_s():
    """README: failed attempts are retried with a jittered backoff capped at 10 s; a silent
    connection is one with no pong within 1.5 s of a ping sent every second."""
    import inspect

    from bot.socket_mode import Supervisor, check_app_token
    from bot.socket_mode.backoff import retry_delay

    supervisor = inspect.signature(Supervisor).parameters
    assert supervisor["max_backoff"].default == 10
    assert inspect.signature(check_app_token).parameters["max_backoff"].default == 10
    assert (supervisor["ping_interval"].default, supervisor["ping_timeout"].default) == (1.0, 1.5)
    delays = [retry_delay(failures, supervisor["max_backoff"].default) for failures in range(40)]
    assert delays[0] < 1.5 and max(delays) == delays[-1] == 10


# --- SQLite: a second process beside serve -------------------------------------------

def test_db_upgrade_beside_a_running_serve_on_sqlite_works_and_serve_goes_on(served):  # noqa: F811
    """README (How delivery works): SQLite keeps one lock file per worker rather than
    refusing a second process on one file, so `escalator db upgrade` beside `serve` works."""
    from bot.simulator import SlackDriver
    from tests.test_serve import SECRET, get

    sim, base, process, database = served
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SLACK_BOT_TOKEN": TOKEN,
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": sim.url}
    env.pop("SLACK_APP_TOKEN", None)
    upgrade = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert "up to date" in upgrade.stdout + upgrade.stderr
    assert process.poll() is None and get(base + "/healthz") == 200
    assert SlackDriver(base + "/slack/events", SECRET, sim).command(AGENT, SUPPORT, "help").status == 200


# --- Several processes on PostgreSQL: the liveness lock's connection -------------------

@pytest.fixture
def postgres_url():
    from tests.conftest import postgres_schema_url

    yield from postgres_schema_url()


def test_the_liveness_lock_is_held_on_a_connection_the_server_probes_with_keepalives(postgres_url):
    """README: the server probes that connection every few seconds, so a host that vanishes
    is noticed in ~25 s (idle 10 s, then 3 probes 5 s apart)."""
    from sqlalchemy import create_engine, text

    from bot.liveness import liveness_for

    engine = create_engine(postgres_url)
    liveness = liveness_for(engine)
    assert liveness.hold()
    try:
        with engine.connect() as other:
            holders = other.scalars(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted "
                "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": liveness.key}).all()
            assert len(holders) == 1 and holders[0] != other.scalar(text("SELECT pg_backend_pid()"))
        with liveness._lock:  # the lock's own session (its watcher pings it under this lock)
            settings = {name: liveness._connection.exec_driver_sql(f"SHOW {name}").scalar()
                        for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")}
            liveness._connection.commit()
    finally:
        liveness.release()
        engine.dispose()
    assert settings == {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}
