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

import time
from collections import Counter, defaultdict
from datetime import timedelta

from sqlalchemy import func, select

from bot.delivery import DeliveryOptions, OutboxWorker
from bot.desk import EscalationDesk
from bot.models import Alert, OutboxMessage, SlackMessage, Ticket, utcnow
from bot.policy import parse_policy
from bot.runtime import outbox_client
from bot.simulator import FakeSlack
from tests.harness import AGENT, CHANNELS, SPECIALIST, Harness
from tests.processes import (Served, blocked_on_alerts, claim, classify, failed_rows, fake_slack,  # noqa: F401
                             ledger, open_ticket, pending_rows, pg_url, policy_data, shared_database,
                             wait_quiet, write_lock, write_policy)

TIER1, TIER2, MGMT = CHANNELS["tier1"], CHANNELS["tier2"], CHANNELS["management"]


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


def alert_rows(sessions) -> dict[str, Counter]:
    with sessions() as session:
        rows = session.execute(select(Ticket.id, Alert.kind, Alert.level, Alert.threshold, Alert.cycle)
                               .join(Ticket, Ticket.id == Alert.ticket_id)).all()
    found: dict[str, Counter] = defaultdict(Counter)
    for ticket_id, kind, level, threshold, cycle in rows:
        found[f"ESC-{ticket_id}"][(kind, level, threshold, cycle)] += 1
    return found


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
