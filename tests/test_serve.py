"""`escalator serve --http` as operators run it: a separate process, real port, real env."""
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from bot.simulator import FakeSlack, SlackDriver
from tests.harness import SUPPORT
from tests.ports import free_port
from tests.tcp_proxy import TcpProxy

TOKEN = "xoxb-serve-test-token-123456"
SECRET = "serve-test-signing-secret-abcdef"


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def served(tmp_path):
    port = free_port()
    with FakeSlack(token=TOKEN) as sim:
        sim.add_channel(SUPPORT, "support")
        env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": sim.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}"}
        env.pop("SLACK_APP_TOKEN", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(base + "/healthz") == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "serve did not become healthy"
            time.sleep(0.1)
        try:
            yield sim, base, process, tmp_path / "served.db"
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def test_serve_http_answers_slack_and_health(served):
    sim, base, process, database = served
    assert sim.count("auth.test") >= 1  # the start-up check went to SLACK_API_URL
    assert database.exists()  # migrations ran on start
    driver = SlackDriver(base + "/slack/events", SECRET, sim)
    answer = driver.command("U0AGENT1", SUPPORT, "help")
    assert answer.status == 200
    assert "/escalate status ESC-12" in sim.ephemerals(channel=SUPPORT, user="U0AGENT1")[0].rendered
    assert get(base + "/slack/events") == 405  # only POST


def test_serve_stops_cleanly_and_never_logs_secrets(served):
    sim, base, process, _ = served
    driver = SlackDriver(base + "/slack/events", SECRET, sim)
    driver.command("U0AGENT1", SUPPORT, "ESC-77")  # an error path, logged or not
    sim.fail_next("views.open", error="invalid_auth")
    driver.command("U0AGENT1", SUPPORT, "")  # views.open fails: logged as Slack's refusal, in one line
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=15)[0]
    assert process.returncode == 0, output
    assert "serving Slack on http://127.0.0.1" in output
    assert TOKEN not in output and SECRET not in output
    assert TOKEN[:10] not in output


def serve_http_process(sim: FakeSlack, tmp_path, token: str, port: int,
                       database_url: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": sim.url,
           "DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'start.db'}"}
    env.pop("SLACK_APP_TOKEN", None)
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_healthy(process: subprocess.Popen, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if get(f"http://127.0.0.1:{port}/healthz") == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "serve never became healthy"
        time.sleep(0.2)


def test_a_refused_bot_token_stops_serve_with_one_line_naming_the_setting(tmp_path):
    wrong = "xoxb-wrong-token-987654"
    with FakeSlack(token=TOKEN) as sim:
        process = serve_http_process(sim, tmp_path, wrong, free_port())
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stderr.strip() == ("escalator: SLACK_BOT_TOKEN was refused by Slack (invalid_auth): "
                              "the bot token is wrong or was revoked")
    assert "Traceback" not in stdout + stderr and "wrong-token" not in stdout + stderr
    assert not (tmp_path / "start.db").exists()  # refused before the database was touched


def test_serve_http_started_while_slack_is_unreachable_waits_for_it_then_serves(tmp_path):
    port = free_port()
    with FakeSlack(token=TOKEN) as sim:
        sim.outage(status=503, seconds=120)
        process = serve_http_process(sim, tmp_path, TOKEN, port)
        try:
            sim.wait_for(lambda: sim.count("auth.test", status=503) >= 2, timeout=60,
                         message="serve trying auth.test during the outage")
            assert process.poll() is None  # still waiting, not dead
            sim.clear_faults()
            wait_until_healthy(process, port)
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "not connected to Slack: could not check SLACK_BOT_TOKEN (service_unavailable)" in stderr
    assert "Traceback" not in stdout + stderr


def test_serve_started_before_its_postgresql_waits_for_it_then_serves(tmp_path):
    from sqlalchemy.engine import make_url

    from tests.conftest import postgres_schema_url

    schema_urls = postgres_schema_url()
    url = make_url(next(schema_urls))
    database = TcpProxy((url.host or "127.0.0.1", url.port or 5432))  # not started: nothing listens yet
    port = free_port()
    with FakeSlack(token=TOKEN) as sim:
        process = serve_http_process(sim, tmp_path, TOKEN, port, database_url=url.set(
            host="127.0.0.1", port=database.port).render_as_string(hide_password=False))
        try:
            time.sleep(3)  # attempts against a port where nothing listens yet
            assert process.poll() is None, process.communicate()[1]  # waiting, not dead
            database.start()
            wait_until_healthy(process, port)
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=15)
            database.stop()
            next(schema_urls, None)  # drops the schema
    assert process.returncode == 0, stderr
    assert "database not reachable (connection failed:" in stderr and "next attempt in" in stderr
    assert "Traceback" not in stdout + stderr


def test_serve_pointed_at_a_database_that_does_not_exist_stops_at_once(tmp_path):
    from sqlalchemy.engine import make_url

    from tests.conftest import postgres_schema_url

    schema_urls = postgres_schema_url()
    missing = make_url(next(schema_urls)).set(database="no_such_escalator_db")
    try:
        with FakeSlack(token=TOKEN) as sim:
            process = serve_http_process(sim, tmp_path, TOKEN, free_port(),
                                         database_url=missing.render_as_string(hide_password=False))
            stdout, stderr = process.communicate(timeout=60)
    finally:
        next(schema_urls, None)
    assert process.returncode == 1  # waiting can't create it: a setting to fix
    assert stderr.strip().splitlines()[-1] == ('escalator: the database (DATABASE_URL) can\'t be used: connection '
                                               'failed: connection to server at "127.0.0.1", port 5432 failed: '
                                               'FATAL:  database "no_such_escalator_db" does not exist')
    assert "Traceback" not in stdout + stderr and "next attempt" not in stderr
