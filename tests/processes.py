"""Helpers for tests that run `escalator serve` as separate processes against one fake
Slack and one database, and judge what Slack received (tests/test_sla_faults.py,
tests/test_crash_recovery.py)."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot.db import make_engine, make_session_factory
from bot.delivery import OutboxWorker
from bot.desk import EscalationDesk
from bot.forms import parse_new_ticket
from bot.models import OutboxMessage, OutboxStatus
from bot.simulator import FakeSlack
from tests.conftest import postgres_schema_url
from tests.harness import AGENT, CHANNELS, SUPPORT
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "xoxb-faults-test-token-123456"
SECRET = "faults-test-signing-secret-abcdef"
TIER1 = CHANNELS["tier1"]


# --- the policy ------------------------------------------------------------------
def policy_data(**overrides) -> dict:
    """tests/test_sla.py's short_policy(): P2 response 4s (warn at 2s), tier1 time
    limit 8s (warn at 4s), progress updates every 3s, a sweep every second."""
    data = yaml.safe_load(resources.files("bot").joinpath("default_policy.yaml").read_text())
    data.update(sweep_interval="1s", warn_at=0.5, time_limits={"tier1": "8s", "tier2": "1h"})
    data["severities"]["P2"] = {"response": "4s", "update_every": "3s", "entry": "tier1"}
    data.update(overrides)
    return data


def write_policy(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def open_ticket(desk: EscalationDesk, summary: str, severity: str = "P2") -> str:
    form = parse_new_ticket({"summary": summary, "severity": severity})
    return desk.open_ticket(form, requester_id=AGENT).key



# --- what Slack received, per ticket -------------------------------------------------
ALERT = re.compile(r"^(ESC-\d+) (response|time limit|progress update) SLA (warning|breached) at (.+)$")
BRIEFING = re.compile(r"^(ESC-\d+) \(P\d\) for (.+?): ")
ESCALATED = re.compile(r"^Escalated to (.+?) by Escalator: .*\|(ESC-\d+) briefing in ", re.S)
REMINDER = re.compile(r"^(ESC-\d+): time for a progress update$")
KEY = re.compile(r"\bESC-\d+\b")


def classify(sim: FakeSlack, message) -> tuple[str, str] | None:
    """(ticket key, "where: what") for a bot post, or None for other posts."""
    where = f"{message.channel}/thread" if message.is_reply else message.channel
    text_ = message.text or ""
    if match := ALERT.match(text_):
        key, what = match[1], f"{match[2]} {match[3]} at {match[4]}"
    elif match := BRIEFING.match(text_):
        key, what = match[1], f"briefing for {match[2]}"
    elif match := ESCALATED.match(text_):
        key, what = match[2], f"escalated to {match[1]}"
    elif match := REMINDER.match(text_):
        key, what = match[1], "progress reminder"
    elif found := KEY.search(text_):
        key, what = found[0], "other: " + text_.split("\n")[0][:60]
    else:
        return None
    if message.is_reply:  # and it must be in that ticket's thread
        parent = sim.message(message.channel, message.thread_ts)
        parent_key = KEY.search(parent.text or "") if parent else None
        if parent_key is None or parent_key[0] != key:
            what = f"IN THE WRONG THREAD ({parent_key[0] if parent_key else '?'}): {what}"
    return key, f"{where}: {what}"


def ledger(sim: FakeSlack) -> dict[str, Counter]:
    seen: dict[str, Counter] = defaultdict(Counter)
    for message in sim.bot_posts():
        found = classify(sim, message)
        if found:
            seen[found[0]][found[1]] += 1
    return seen



def pending_rows(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)))


def failed_rows(sessions) -> list[OutboxMessage]:
    """Messages (posts and updates) given up on; Home tab publishes are another story."""
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED,
                                                                OutboxMessage.method.like("chat.%"))))


def wait_quiet(sessions, timeout: float = 20.0, extra: float = 1.5) -> None:
    """The outbox drained, then a little longer (more sweeps) for any late duplicate,
    and drained again; nothing failed for good."""
    deadline = time.monotonic() + timeout
    for pause in (extra, 0):
        while pending_rows(sessions):
            assert time.monotonic() < deadline, f"outbox still pending: {[r.id for r in pending_rows(sessions)]}"
            time.sleep(0.1)
        time.sleep(pause)
    assert not failed_rows(sessions), [(r.id, r.last_error) for r in failed_rows(sessions)]



# --- `escalator serve --http` as a separate process ---------------------------------
LAUNCHER = """
import os, sys
from datetime import timedelta
import bot.delivery as delivery
defaults = {}
if os.environ.get("TEST_OUTBOX_LEASE"):
    defaults["lease"] = timedelta(seconds=float(os.environ["TEST_OUTBOX_LEASE"]))
if os.environ.get("TEST_OUTBOX_CHANNEL_INTERVAL"):
    defaults["channel_interval"] = timedelta(seconds=float(os.environ["TEST_OUTBOX_CHANNEL_INTERVAL"]))
Options = delivery.DeliveryOptions
delivery.DeliveryOptions = lambda *args, **kwargs: Options(*args, **{**defaults, **kwargs})
from bot.cli import main
sys.exit(main(sys.argv[1:]))
"""


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


class Served:
    """One `escalator serve --http` process; its output goes to a file (a pipe nobody
    reads could fill up and stall it)."""

    def __init__(self, name: str, sim: FakeSlack, database_url: str, policy: Path, tmp_path: Path,
                 lease: float | None = None, channel_interval: float | None = 0.05):
        self.name, self.port = name, free_port()
        self.log_path = tmp_path / f"{name}.log"
        self.env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
                    "SLACK_API_URL": sim.url, "DATABASE_URL": database_url, "ESCALATOR_POLICY": str(policy),
                    "PYTHONPATH": str(ROOT)}
        self.env.pop("SLACK_APP_TOKEN", None)
        if lease is not None:
            self.env["TEST_OUTBOX_LEASE"] = str(lease)
        if channel_interval is not None:
            self.env["TEST_OUTBOX_CHANNEL_INTERVAL"] = str(channel_interval)
        self.process: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> "Served":
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, "serve", "--http", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while not healthy(f"http://127.0.0.1:{self.port}/healthz"):
            assert self.process.poll() is None, f"{self.name} exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"{self.name} did not become healthy:\n{self.log()}"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


@contextmanager
def fake_slack():
    sim = FakeSlack(token=TOKEN).start()
    try:
        sim.add_channel(SUPPORT, "support")
        for key, channel in CHANNELS.items():
            sim.add_channel(channel, key)
        yield sim
    finally:
        sim.stop()


@contextmanager
def shared_database(database_url: str):
    """The test's own connection to the database the bot processes use."""
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@contextmanager
def write_lock(database_url: str, table: str = "alerts"):
    """Hold up the sweep in the middle of its transaction: PostgreSQL, new rows of
    `table` wait (a sweep blocks on its first alert insert); SQLite, the write lock
    (a sweep blocks as it begins its write transaction)."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(make_url(database_url).database, timeout=30, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            connection.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
            try:
                yield
            finally:
                transaction.rollback()
    finally:
        engine.dispose()


def inserts_waiting(database_url: str, table: str) -> bool:
    """Is some other session waiting for a lock to insert into `table`? (PostgreSQL)"""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return bool(connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                f"AND query ILIKE '%INSERT INTO {table}%' AND pid <> pg_backend_pid()")))
    finally:
        engine.dispose()


def blocked_on_alerts(database_url: str) -> bool:
    return inserts_waiting(database_url, "alerts")


@pytest.fixture
def pg_url():
    """A PostgreSQL schema of its own (skipped without ESCALATOR_TEST_DATABASE_URL); a test
    module that wants it imports it."""
    yield from postgres_schema_url()



# --- driving an OutboxWorker by hand -------------------------------------------------
def claim(worker: OutboxWorker, timeout: float = 5.0) -> list[tuple[int, str]]:
    """Claim whatever is due, waiting out the channel pacing (20 ms) if need be."""
    deadline = time.monotonic() + timeout
    while not (claimed := worker._claim(limit=8)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return claimed
