"""Every SLA notice exactly once, under faults: Slack down, 429 storms, the process
killed with SIGKILL mid-send and mid-sweep, the clock jumping, and three `serve`
processes sweeping one PostgreSQL database.

What counts is what Slack (the simulator) received: per ticket, every briefing,
warning, breach, management alert and automatic-escalation note, each exactly once,
none missing, warnings before breaches in each thread.

Note on leases: the outbox lease (`DeliveryOptions.lease`, 60 s) and the channel
pacing (`channel_interval`, 1 s) can't be set from the environment, so the
subprocesses here run `bot.cli.main(["serve", "--http", ...])` through a two-line
launcher that changes those two defaults (the real `serve` code path otherwise),
and the lease hand-over is also tested in-process with two OutboxWorkers.
"""
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
from datetime import timedelta
from importlib import resources
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.db import make_engine, make_session_factory
from bot.delivery import DeliveryOptions, OutboxWorker
from bot.desk import EscalationDesk
from bot.forms import parse_new_ticket
from bot.models import Alert, OutboxMessage, OutboxStatus, SlackMessage, Ticket, utcnow
from bot.policy import parse_policy
from bot.runtime import outbox_client
from bot.simulator import FakeSlack
from tests.conftest import postgres_schema_url
from tests.harness import AGENT, CHANNELS, SPECIALIST, SUPPORT, Harness
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "xoxb-faults-test-token-123456"
SECRET = "faults-test-signing-secret-abcdef"
TIER1, TIER2, MGMT = CHANNELS["tier1"], CHANNELS["tier2"], CHANNELS["management"]


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


def escalated_run() -> Counter:
    """A P2 ticket nobody touches, on the short policy, through its tier2 breach."""
    return Counter({
        f"{TIER1}: briefing for Tier 1": 1,
        f"{TIER1}/thread: response warning at Tier 1": 1,
        f"{TIER1}/thread: response breached at Tier 1": 1,
        f"{MGMT}: response breached at Tier 1": 1,
        f"{TIER1}/thread: time limit warning at Tier 1": 1,
        f"{TIER1}/thread: time limit breached at Tier 1": 1,
        f"{TIER1}/thread: escalated to Tier 2": 1,
        f"{TIER2}: briefing for Tier 2": 1,
        f"{TIER2}/thread: response warning at Tier 2": 1,
        f"{TIER2}/thread: response breached at Tier 2": 1,
        f"{MGMT}: response breached at Tier 2": 1,
    })


def alert_rows_of_escalated_run() -> Counter:
    return Counter({("warning", "tier1", "response:0.5", 1): 1, ("breach", "tier1", "response", 1): 1,
                    ("warning", "tier1", "time_limit:0.5", 1): 1, ("breach", "tier1", "time_limit", 1): 1,
                    ("warning", "tier2", "response:0.5", 2): 1, ("breach", "tier2", "response", 2): 1})


def differences(seen: dict[str, Counter], expected: dict[str, Counter]) -> tuple[dict, dict]:
    """(extra, missing) notices per ticket key."""
    extra, missing = {}, {}
    for key in set(seen) | set(expected):
        over = seen.get(key, Counter()) - expected.get(key, Counter())
        under = expected.get(key, Counter()) - seen.get(key, Counter())
        if over:
            extra[key] = dict(over)
        if under:
            missing[key] = dict(under)
    return extra, missing


def wait_for_notices(sim: FakeSlack, expected: dict[str, Counter], timeout: float, why: str = "",
                     sessions=None) -> None:
    """Poll until Slack has exactly the expected notices; fail at once on a duplicate
    or an unexpected one (no point waiting for it to go away)."""
    def complete():
        extra, missing = differences(ledger(sim), expected)
        assert not extra, f"unexpected or repeated notices: {extra}"
        return not missing

    try:
        sim.wait_for(complete, timeout=timeout, interval=0.1,
                     message=why or "every expected notice, once")
    except AssertionError as failure:
        extra, missing = differences(ledger(sim), expected)
        raise AssertionError(f"{str(failure)[:3000]}\nmissing: {missing}\nextra: {extra}"
                             f"{database_state(sessions) if sessions else ''}") from None


def database_state(sessions) -> str:
    """What the bot's tables say, for a failure message."""
    with sessions() as session:
        outbox_rows = session.scalars(select(OutboxMessage)).all()
        alerts = session.execute(select(Alert.kind, func.count()).group_by(Alert.kind)).all()
    rows = Counter((r.channel, r.method, r.status, r.attempts, r.lease_until is not None, (r.last_error or "")[:40])
                   for r in outbox_rows)
    return f"\noutbox (channel, method, status, attempts, leased, error): {dict(rows)}\nalerts: {dict(alerts)}"


def assert_in_order(sim: FakeSlack, key: str) -> None:
    """In each thread a clock's warning comes before its breach; the escalation note
    after the time-limit breach."""
    for channel in (TIER1, TIER2):
        root = next((m for m in sim.messages(channel) if (m.text or "").startswith(f"{key} (")), None)
        if root is None:
            continue
        order = [classify(sim, reply)[1].split(": ", 1)[1] for reply in sim.replies(channel, root.ts)
                 if classify(sim, reply)]
        level = "Tier 1" if channel == TIER1 else "Tier 2"
        for clock in ("response", "time limit"):
            warning, breach = f"{clock} warning at {level}", f"{clock} breached at {level}"
            if warning in order and breach in order:
                assert order.index(warning) < order.index(breach), f"{key} {channel}: {order}"
        if "escalated to Tier 2" in order:
            assert order.index("time limit breached at Tier 1") < order.index("escalated to Tier 2"), order


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


def alert_rows(sessions) -> dict[str, Counter]:
    with sessions() as session:
        rows = session.execute(select(Ticket.id, Alert.kind, Alert.level, Alert.threshold, Alert.cycle)
                               .join(Ticket, Ticket.id == Alert.ticket_id)).all()
    found: dict[str, Counter] = defaultdict(Counter)
    for ticket_id, kind, level, threshold, cycle in rows:
        found[f"ESC-{ticket_id}"][(kind, level, threshold, cycle)] += 1
    return found


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


def blocked_on_alerts(database_url: str) -> bool:
    """Is some other session waiting for a lock to insert into alerts? (PostgreSQL)"""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return bool(connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE '%INSERT INTO alerts%' AND pid <> pg_backend_pid()")))
    finally:
        engine.dispose()


@pytest.fixture
def pg_url():
    yield from postgres_schema_url()


# =====================================================================================
# 1. Slack answers HTTP 500 for 30 s around the breach
# =====================================================================================
def test_a_30s_slack_outage_around_the_breach_delivers_every_notice_once_in_order(sqlite_url):
    with Harness(sqlite_url, policy=parse_policy(policy_data()), scheduler=True) as bot:
        keys = [open_ticket(bot.runtime.desk, f"Checkout fails ({n})") for n in range(3)]
        for key in keys:
            bot.briefing(key)  # posted and recorded before Slack goes down
        bot.sim.outage(status=500, seconds=30)  # warnings are due 2 s after opening
        down_since = time.monotonic()

        def breaches() -> int:
            with bot.runtime.sessions() as session:
                return session.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "breach"))

        # every notice through the tier2 breach comes due while Slack is down
        bot.sim.wait_for(lambda: breaches() == 9, timeout=25, interval=0.2, message="9 breaches in the outage")
        assert time.monotonic() - down_since < 29
        assert not [k for k in ledger(bot.sim).values() if len(k) > 1], "something got through the outage"
        assert bot.sim.count("chat.postMessage", status=500) > 0

        wait_for_notices(bot.sim, {key: escalated_run() for key in keys}, timeout=60,
                         why="every notice after Slack recovered", sessions=bot.runtime.sessions)
        assert time.monotonic() - down_since >= 29
        wait_quiet(bot.runtime.sessions)
        extra, missing = differences(ledger(bot.sim), {key: escalated_run() for key in keys})
        assert not extra and not missing, (extra, missing)
        for key in keys:
            assert_in_order(bot.sim, key)


# =====================================================================================
# 2. 429 storms while ten tickets warn and breach
# =====================================================================================
def test_429_storms_while_ten_tickets_warn_and_breach_each_notice_once(database_url):
    """Slack paces chat.postMessage to 1/s per channel and throttles the next 20 posts
    (Retry-After: 1) while ten tickets warn and breach: five P2 in Tier 1, five P1 in
    Tier 3 (two channels, so the storm takes ~20 s, not ~35 s)."""
    data = policy_data(time_limits={"tier1": "1h", "tier2": "1h"})  # this is about response warnings/breaches
    data["severities"]["P1"] = {"response": "4s", "update_every": "3s", "entry": "tier3"}
    with Harness(database_url, policy=parse_policy(data), scheduler=True) as bot:
        tickets = [(open_ticket(bot.runtime.desk, f"Reports are empty ({n})", severity), level)
                   for n, (severity, level) in enumerate([("P2", "tier1"), ("P1", "tier3")] * 5)]
        for key, level in tickets:
            bot.briefing(key, level)
        bot.sim.wait_for(lambda: len(bot.sim.messages(MGMT)) == 5, message="the five P1 pings")
        bot.settle()
        before = ledger(bot.sim)
        bot.sim.rate_limit_channel(per_second=1, burst=1)
        bot.sim.throttle_next("chat.postMessage", retry_after=1, count=20)
        expected = {}
        for key, level in tickets:
            channel, name = CHANNELS[level], policy_level_name(level)
            expected[key] = before[key] + Counter({f"{channel}/thread: response warning at {name}": 1,
                                                   f"{channel}/thread: response breached at {name}": 1,
                                                   f"{MGMT}: response breached at {name}": 1})
        wait_for_notices(bot.sim, expected, timeout=90, sessions=bot.runtime.sessions)
        wait_quiet(bot.runtime.sessions)
        extra, missing = differences(ledger(bot.sim), expected)
        assert not extra and not missing, (extra, missing)
        assert bot.sim.count("chat.postMessage", status=429) >= 20  # the storm did happen
        for key, _level in tickets:
            assert_in_order(bot.sim, key)
        with bot.runtime.sessions() as session:
            assert session.scalar(select(func.max(OutboxMessage.attempts))) <= 2  # 429s aren't failed attempts


def policy_level_name(level: str) -> str:
    return {"tier1": "Tier 1", "tier2": "Tier 2", "tier3": "Tier 3"}[level]


# =====================================================================================
# 3. SIGKILL between claim and send, and during a sweep; restart
# =====================================================================================
def claim(worker: OutboxWorker, timeout: float = 5.0) -> list[tuple[int, str]]:
    """Claim whatever is due, waiting out the channel pacing (20 ms) if need be."""
    deadline = time.monotonic() + timeout
    while not (claimed := worker._claim(limit=8)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return claimed


def test_a_claim_abandoned_by_a_dead_worker_is_delivered_once_after_the_lease(database_url):
    """The in-process form: worker A claims, posts and "dies" before recording (or
    claims and dies before posting); worker B takes over when the lease ends."""
    # long enough that a loaded machine can't let it run out between the dead worker's
    # post and the survivor's look (1.5 s did, under a load average of 8)
    lease = timedelta(seconds=4)
    options = DeliveryOptions(poll_interval=0.05, channel_interval=timedelta(milliseconds=20),
                              max_backoff=1.0, lease=lease)
    with Harness(database_url, policy=parse_policy(policy_data()), start_worker=False) as bot:
        def worker() -> OutboxWorker:
            return OutboxWorker(bot.runtime.sessions, outbox_client(bot.runtime.settings), options,
                                renderers=bot.runtime.worker.renderers)

        dead, survivor = worker(), worker()
        try:
            key = open_ticket(bot.runtime.desk, "Invoices are doubled")
            with bot.runtime.sessions() as session:
                opened = session.scalars(select(Ticket)).one().created_at
            assert survivor.drain(10)
            sweep = bot.runtime.sla

            # (a) posted, then the worker died before recording the ts
            sweep.run(now=opened + timedelta(seconds=2.5))  # the response warning
            claimed = claim(dead)
            assert len(claimed) == 1
            dead.sender.deliver(dead.sender.load(claimed[0][0]))  # it reached Slack…
            assert ledger(bot.sim)[key][f"{TIER1}/thread: response warning at Tier 1"] == 1
            assert survivor.run_once() == 0  # …and the row stays leased
            # (b) claimed, then the worker died before sending
            sweep.run(now=opened + timedelta(seconds=4.5))  # response breach, time-limit warning
            assert claim(dead)  # the management alert (the thread waits behind the warning)
            time.sleep(lease.total_seconds() + 0.2)
            assert survivor.drain(15)
            for seconds in (8.5, 8.6):  # the time limit: breach and escalation
                sweep.run(now=opened + timedelta(seconds=seconds))
            assert survivor.drain(15)
            for seconds in (10.6, 12.6, 13):  # tier2's response clock started at 8.5 s
                sweep.run(now=opened + timedelta(seconds=seconds))
            assert survivor.drain(15)
        finally:
            dead.stop()
            survivor.stop()
        extra, missing = differences(ledger(bot.sim), {key: escalated_run()})
        assert not extra and not missing, (extra, missing)
        assert_in_order(bot.sim, key)
        assert not pending_rows(bot.runtime.sessions) and not failed_rows(bot.runtime.sessions)


def test_serve_killed_mid_send_and_mid_sweep_then_restarted_sends_each_notice_once(database_url, tmp_path):
    data = policy_data(time_limits={"tier1": "14s", "tier2": "1h"})  # time limit: warns at 7 s, breaches at 14 s
    policy = write_policy(tmp_path, data)
    lease = 3.0
    with fake_slack() as sim:
        processes: list[Served] = []

        def serve(name: str) -> Served:
            served = Served(name, sim, database_url, policy, tmp_path, lease=lease)
            processes.append(served)
            return served.start()

        try:
            first = serve("first")
            with shared_database(database_url) as sessions:
                desk = EscalationDesk(sessions, parse_policy(data))
                key = open_ticket(desk, "Search returns nothing")
                opened = time.monotonic()
                sim.wait_for(lambda: ledger(sim)[key][f"{TIER1}: briefing for Tier 1"], timeout=15)
                wait_quiet(sessions, extra=0)

                # --- SIGKILL while the response warning is in flight (posted, not recorded)
                sim.latency(2.0)
                sim.wait_for(lambda: ledger(sim)[key][f"{TIER1}/thread: response warning at Tier 1"],
                             timeout=15, message="the response warning to reach Slack")
                first.kill()
                sim.latency(0)
                in_flight = [r for r in pending_rows(sessions) if r.lease_until is not None]
                assert len(in_flight) == 1 and in_flight[0].attempts == 1, in_flight
                assert "response SLA warning" in in_flight[0].payload["text"]
                with sessions() as session:
                    assert session.get(SlackMessage, in_flight[0].message_id).ts is None  # never recorded

                second = serve("second")
                sim.wait_for(lambda: ledger(sim)[key][f"{TIER1}/thread: time limit warning at Tier 1"],
                             timeout=30, message="the time-limit warning, after the restart")
                assert time.monotonic() - opened < 13, "too slow to reach the mid-sweep kill before the time limit"

                # --- SIGKILL during the sweep that breaches the time limit
                with write_lock(database_url):
                    due = opened + 14
                    time.sleep(max(0.0, due - time.monotonic()))
                    if database_url.startswith("postgresql"):
                        sim.wait_for(lambda: blocked_on_alerts(database_url), timeout=10, interval=0.1,
                                     message="a sweep blocked inserting its alert")
                    else:
                        time.sleep(1.5)  # the next sweep has begun and waits for the write lock
                    second.kill()
                with sessions() as session:
                    assert not session.scalar(select(Alert.id).where(Alert.kind == "breach",
                                                                     Alert.threshold == "time_limit"))
                time.sleep(1)  # down a while longer
                serve("third")
                wait_for_notices(sim, {key: escalated_run()}, timeout=45, why="every notice after the restarts",
                                 sessions=sessions)
                wait_quiet(sessions)
                extra, missing = differences(ledger(sim), {key: escalated_run()})
                assert not extra and not missing, (extra, missing)
                assert_in_order(sim, key)
                assert alert_rows(sessions)[key] == alert_rows_of_escalated_run()
                # the restarted process found the warning in the thread instead of posting it again
                assert f"row {in_flight[0].id} was already posted" in second.log(), second.log()
        finally:
            for served in processes:
                served.stop()


# =====================================================================================
# 4. The clock jumps forward an hour
# =====================================================================================
def test_a_clock_jump_of_an_hour_breaches_and_escalates_once_without_stale_warnings(database_url):
    # targets well past the set-up's time (with 4s and 8s a busy machine had a warning due
    # before the jump) and well inside the hour it jumps
    data = policy_data(time_limits={"tier1": "20m", "tier2": "3h"})
    data["severities"]["P2"] = {"response": "10m", "update_every": "30s", "entry": "tier1"}
    # a P3 that starts in tier2 and gets acknowledged: its progress reminders
    data["severities"]["P3"] = {"response": "10m", "update_every": "30s", "entry": "tier2"}
    with Harness(database_url, policy=parse_policy(data)) as bot:
        jumper = open_ticket(bot.runtime.desk, "Exports time out")
        worked = open_ticket(bot.runtime.desk, "Emails delayed", severity="P3")
        bot.runtime.desk.acknowledge(int(worked.split("-")[1]), SPECIALIST)
        bot.settle()
        before = ledger(bot.sim)
        sweep = bot.runtime.sla
        assert sweep.run().clocks == 0  # nothing due yet

        jump = utcnow() + timedelta(hours=1)
        first = sweep.run(now=jump)
        second = sweep.run(now=jump)
        normal = sweep.run()
        assert (first.warnings, first.breaches, first.escalations, first.reminders) == (0, 2, 1, 1)
        assert (second.warnings, second.breaches, second.escalations, second.reminders) == (0, 0, 0, 0)
        assert (normal.warnings, normal.breaches, normal.escalations, normal.reminders) == (0, 0, 0, 0)
        bot.settle()
        after = ledger(bot.sim)
        assert after[jumper] == Counter({
            f"{TIER1}: briefing for Tier 1": 1,
            f"{TIER1}/thread: response breached at Tier 1": 1,  # no stale warning before it
            f"{MGMT}: response breached at Tier 1": 1,
            f"{TIER1}/thread: time limit breached at Tier 1": 1,
            f"{TIER1}/thread: escalated to Tier 2": 1,
            f"{TIER2}: briefing for Tier 2": 1,
        }), after[jumper]
        assert after[worked] - before[worked] == Counter({f"{TIER2}/thread: progress reminder": 1})
        assert_in_order(bot.sim, jumper)

        # the next reminder comes one cadence after the jump, not one per missed period
        kinds = Counter(kind for (kind, *_rest) in alert_rows(bot.runtime.sessions)[jumper].elements())
        assert kinds == Counter({"breach": 2})
        assert sweep.run(now=jump + timedelta(seconds=20)).reminders == 0
        assert sweep.run(now=jump + timedelta(seconds=30.5)).reminders == 1
        assert sweep.run(now=jump + timedelta(seconds=30.6)).reminders == 0
        bot.settle()
        assert ledger(bot.sim)[worked][f"{TIER2}/thread: progress reminder"] == 2


def test_a_reminder_made_stale_by_an_escalation_in_the_same_sweep_is_not_claimed(database_url):
    with Harness(database_url, policy=parse_policy(policy_data())) as bot:
        key = open_ticket(bot.runtime.desk, "Logins slow")
        bot.runtime.desk.acknowledge(int(key.split("-")[1]), AGENT)  # the progress-update clock starts
        bot.settle()
        result = bot.runtime.sla.run(now=utcnow() + timedelta(hours=1))  # time limit and reminder both due
        bot.settle()
        assert (result.breaches, result.escalations) == (1, 1)
        assert not [label for label in ledger(bot.sim)[key] if "reminder" in label]  # not sent
        kinds = {kind for (kind, *_rest) in alert_rows(bot.runtime.sessions)[key]}
        assert result.reminders == 0 and "update_reminder" not in kinds  # nor claimed or counted


# =====================================================================================
# 5. Three `serve` processes on one PostgreSQL database
# =====================================================================================
def test_three_serve_processes_on_postgresql_send_every_notice_exactly_once(pg_url, tmp_path):
    data = policy_data()
    policy = write_policy(tmp_path, data)
    tickets = 30
    with fake_slack() as sim:
        processes = [Served(f"serve{n}", sim, pg_url, policy, tmp_path) for n in range(3)]
        try:
            processes[0].start()  # migrates; the others find the schema up to date
            for served in processes[1:]:
                served.start(wait=False)
            for served in processes[1:]:
                served.wait_healthy()
            with shared_database(pg_url) as sessions:
                desk = EscalationDesk(sessions, parse_policy(data))
                keys = []
                started = time.monotonic()
                for n in range(tickets):  # 30 tickets over ~40 s, in bursts of 1-3
                    keys.append(open_ticket(desk, f"Checkout fails for shop {n}"))
                    time.sleep([0.3, 2.5, 0.6, 1.8, 0.2, 2.9][n % 6])
                assert time.monotonic() - started < 60
                expected = {key: escalated_run() for key in keys}
                wait_for_notices(sim, expected, timeout=90, why="every notice of 30 tickets", sessions=sessions)
                wait_quiet(sessions, timeout=30)
                extra, missing = differences(ledger(sim), expected)
                assert not extra and not missing, (extra, missing)
                for key in keys:
                    assert_in_order(sim, key)
                with sessions() as session:
                    duplicates = session.execute(
                        select(Alert.ticket_id, Alert.kind, Alert.level, Alert.threshold, Alert.cycle)
                        .group_by(Alert.ticket_id, Alert.kind, Alert.level, Alert.threshold, Alert.cycle)
                        .having(func.count() > 1)).all()
                assert not duplicates
                rows = alert_rows(sessions)
                assert {key: rows[key] for key in keys} == {key: alert_rows_of_escalated_run() for key in keys}
            sweepers = [served.name for served in processes if "SLA sweep:" in served.log()]
            assert len(sweepers) >= 2, f"the work was not shared: only {sweepers} swept"
            for served in processes:
                assert served.process.poll() is None, f"{served.name} died:\n{served.log()}"
                assert "Traceback" not in served.log(), served.log()
        finally:
            for served in processes:
                served.stop()
