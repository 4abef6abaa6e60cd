"""ESCALATOR_LOG_FORMAT=json: one JSON object per line, with the ticket, its level, the
event and the Slack method where there is one; secrets masked as in plain text."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from bot.config import ConfigError, load_settings
from bot.logging_setup import configure_logging, log_context
from bot.simulator import FakeSlack, SlackDriver
from tests.harness import SUPPORT
from tests.test_logging import restore_logging  # noqa: F401  (the root logger put back after each test)
from tests.ports import free_port

TOKEN = "xoxb-json-log-token-0123456789"
SECRET = "json-log-signing-secret-abcdef"


def test_each_line_is_one_json_object_with_its_context_and_no_secret(capsys, restore_logging):
    configure_logging([SECRET], log_format="json")
    log = logging.getLogger("escalator.test")
    with log_context(ticket="ESC-12", ticket_level="tier2", event="sla.breach"):
        with log_context(slack_method="chat.postMessage"):
            log.warning("posting with %s and %s", TOKEN, SECRET)
        try:
            raise RuntimeError(f"Slack said no to {TOKEN}\nsecond line")
        except RuntimeError:
            log.exception("failed for %s", "xapp-1-A0-secret")
    log.info("outside any context")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3  # a traceback stays inside its line
    warning, failure, outside = (json.loads(line) for line in lines)
    assert warning["level"] == "WARNING" and warning["logger"] == "escalator.test"
    assert warning["message"] == "posting with xoxb-*** and ***"
    assert (warning["ticket"], warning["ticket_level"], warning["event"], warning["slack_method"]) == \
        ("ESC-12", "tier2", "sla.breach", "chat.postMessage")
    assert "slack_method" not in failure and failure["ticket"] == "ESC-12"  # the inner context has ended
    assert failure["message"] == "failed for xapp-***"
    assert "RuntimeError: Slack said no to xoxb-***" in failure["exception"]
    assert set(outside) == {"time", "level", "logger", "message"}
    assert outside["time"].endswith("+00:00")
    assert TOKEN not in "".join(lines) and SECRET not in "".join(lines)


def test_plain_text_stays_the_default(capsys, restore_logging):
    configure_logging([SECRET])
    with log_context(ticket="ESC-3"):
        logging.getLogger("escalator.test").info("hello %s", TOKEN)
    line = capsys.readouterr().err.strip()
    assert line.endswith("INFO escalator.test: hello xoxb-***") and not line.startswith("{")


def test_an_unknown_log_format_is_refused_by_name():
    with pytest.raises(ConfigError, match="ESCALATOR_LOG_FORMAT must be text or json, got 'xml'"):
        load_settings({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "ESCALATOR_LOG_FORMAT": "xml"})
    assert load_settings({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
                          "ESCALATOR_LOG_FORMAT": "JSON"}).log_format == "json"


def test_serve_with_json_logs_writes_only_json_lines_naming_the_ticket_and_the_slack_method(tmp_path):
    """A real `serve --http`: a ticket whose level channel is archived is logged as an
    error naming the ticket, the delivery and chat.postMessage; every line parses."""
    port = free_port()
    with FakeSlack(token=TOKEN) as sim:
        sim.add_channel(SUPPORT, "support")
        sim.add_channel("C0TIER1", "tier1")
        env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": sim.url,
               "DATABASE_URL": f"sqlite:///{tmp_path / 'json.db'}", "ESCALATOR_LOG_FORMAT": "json"}
        env.pop("SLACK_APP_TOKEN", None)
        env.pop("ESCALATOR_POLICY", None)
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1",
                                    "--port", str(port)], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while not _healthy(base):
                assert process.poll() is None and time.monotonic() < deadline, "serve did not become healthy"
                time.sleep(0.1)
            driver = SlackDriver(base + "/slack/events", SECRET, sim)
            sim.fail_next("chat.postMessage", error="is_archived")  # the briefing in Tier 1
            driver.command("U0AGENT1", SUPPORT, "")
            modal = sim.wait_for(lambda: sim.open_modal("U0AGENT1"), message="the modal")
            answer = driver.submit_view("U0AGENT1", modal.id, {"Summary": "Refunds stuck since noon",
                                                               "Severity": "P3"})
            assert answer.status == 200
            sim.wait_for(lambda: any(c.method == "chat.postMessage" for c in sim.calls), message="the post")
            time.sleep(0.5)  # the failure is recorded and logged
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=15)[0]
    assert process.returncode == 0, output
    entries = [json.loads(line) for line in output.splitlines()]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    given_up = [e for e in entries if e["level"] == "ERROR" and "giving up" in e["message"]]
    assert given_up, output
    assert given_up[0]["ticket"] == "ESC-1" and given_up[0]["slack_method"] == "chat.postMessage"
    assert given_up[0]["event"] == "delivery"
    assert TOKEN not in output and SECRET not in output
    assert "Refunds stuck" not in output  # what a person typed stays out of the log


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False
