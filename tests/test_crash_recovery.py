"""A restarted process takes over what a killed one had claimed at once, not when the
60 s lease runs out, and still posts nothing twice.

The fake Slack answers chosen calls late, after they took effect, so `serve` can be
killed (SIGKILL) exactly in the window where Slack has a post the bot never heard
about. The fake Slack runs in the test process and outlives the bot. Also: a Slack
event whose process died mid-handling is handled on Slack's retry, and a process that
loses its liveness lock stops delivering until it holds it again.
"""
from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

from sqlalchemy import func, select, text

from bot import delivery
from bot.db import make_engine, make_session_factory, upgrade
from bot.delivery import OutboxWorker
from bot.desk import EscalationDesk
from bot.events import EventLedger
from bot.home import HomeTab
from bot.liveness import liveness_for
from bot.liveness import postgres as liveness_postgres
from bot.models import OutboxMessage, OutboxStatus, Ticket, TicketNote
from bot.policy import parse_policy
from bot.runtime import outbox_client
from bot.slack_errors import FailureKind, SlackFailure
from bot.simulator import SlackDriver
from tests.harness import AGENT, AGENT2, CHANNELS, SUPPORT, Harness
from tests.processes import (SECRET, TIER1, Served, claim, fake_slack, inserts_waiting, ledger,  # noqa: F401
                             open_ticket, pending_rows, pg_url, policy_data, shared_database, wait_quiet,
                             write_lock, write_policy)

MGMT, PLANNING = CHANNELS["management"], CHANNELS["planning"]
TOOK_OVER = re.compile(r"took over (\d+) claimed rows \(([^)]*)\)")


def crash_policy() -> dict:
    """P2: response due 4 s after opening (warning at 2 s); no time limit or progress
    reminder in the way."""
    data = policy_data(time_limits={"tier1": "1h", "tier2": "1h"})
    data["severities"]["P2"]["update_every"] = "1h"
    return data


def open_through_slack(sim, served: Served, summary: str, severity: str = "P2") -> str:
    """/escalate and the New escalation modal, through the bot's HTTP endpoint."""
    driver = SlackDriver(f"http://127.0.0.1:{served.port}/slack/events", SECRET, sim)
    before = len(sim.views_opened(AGENT))
    assert driver.command(AGENT, SUPPORT, "").status == 200
    view = sim.wait_for(lambda: sim.views_opened(AGENT)[before:] and sim.views_opened(AGENT)[-1],
                        message="the New escalation modal")
    answer = driver.submit_view(AGENT, view.id, {"Summary": summary, "Severity": severity})
    assert answer.status == 200, answer.body
    return str(answer.json["view"]["blocks"][0]["text"]["text"]).split("*")[1]


def briefing_rows(sessions, channel: str) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == channel,
                                                                OutboxMessage.method == "chat.postMessage",
                                                                OutboxMessage.thread_message_id.is_(None))))


def test_killed_after_slack_took_the_briefing_the_breach_that_came_due_meanwhile_is_not_held_up(
        database_url, tmp_path):
    data = crash_policy()
    policy = write_policy(tmp_path, data)
    with fake_slack() as sim:
        first = Served("first", sim, database_url, policy, tmp_path).start()  # the real 60 s lease
        second = Served("second", sim, database_url, policy, tmp_path)
        try:
            late = sim.answer_late("chat.postMessage", seconds=120, channel=TIER1)
            key = open_through_slack(sim, first, "Payments time out")
            opened = time.monotonic()
            assert late.took_effect.wait(15), "the briefing never reached Slack"
            first.kill()  # Slack has the briefing; the bot never heard its ts
            with shared_database(database_url) as sessions:
                claimed = [row for row in pending_rows(sessions) if row.lease_until is not None]
                [briefing] = [row for row in claimed if row.channel == TIER1]  # and maybe the agent's Home
                # down while the response target (4 s) passes
                time.sleep(max(0.0, opened + 4.5 - time.monotonic()))
                second.start()
                breach = f"{TIER1}/thread: response breached at Tier 1"
                sim.wait_for(lambda: ledger(sim)[key][breach], timeout=90, interval=0.05,
                             message="the breach alert after the restart")
                wait_quiet(sessions)
                with sessions() as session:
                    sent = session.scalars(select(OutboxMessage.sent_at)
                                           .where(OutboxMessage.ticket_id == int(key.split("-")[1]))).all()
            # taken over, not waited out: everything went out before the killed process's lease
            # (60 s) on the briefing ended, the breach (a reply in its thread) included
            assert sent and max(sent) < briefing.lease_until, (sent, briefing.lease_until)
            assert ledger(sim)[key] == Counter({
                f"{TIER1}: briefing for Tier 1": 1,  # once: found in the channel, not posted again
                breach: 1,
                f"{MGMT}: response breached at Tier 1": 1,
            }), ledger(sim)[key]
            log = second.log()
            assert f"row {briefing.id} was already posted" in log, log
            taken = TOOK_OVER.search(log)
            assert taken and taken[1] == str(len(claimed)) and "1 chat.postMessage" in taken[2], log
            assert "Payments time out" not in log  # counts, never user text
        finally:
            first.stop()
            second.stop()


def test_a_claim_is_taken_over_once_its_owners_lock_is_free_and_not_before(database_url, monkeypatch):
    """In one process: two workers, one the owner of a claim, the other scanning for
    dead owners on every claim. The owner's lock, not the lease (60 s here), decides."""
    monkeypatch.setattr(delivery, "ORPHAN_SCAN_INTERVAL", 0.0)
    with Harness(database_url, policy=parse_policy(crash_policy()), start_worker=False) as bot:
        owner, other = (OutboxWorker(bot.runtime.sessions, outbox_client(bot.runtime.settings),
                                     renderers=bot.runtime.worker.renderers) for _ in range(2))
        try:
            key = open_ticket(bot.runtime.desk, "Refunds stuck")
            claimed = claim(owner)
            assert TIER1 in [channel for _row, channel, _opens in claimed]
            assert other.run_once() == 0  # the owner lives: its claims stay its own
            owner.liveness.release()  # what the server or the kernel does when the process dies
            assert other.run_once() == len(claimed)  # taken over at once, long before the lease
            assert other.drain(10)
            assert ledger(bot.sim)[key][f"{TIER1}: briefing for Tier 1"] == 1
        finally:
            owner.stop()
            other.stop()


def test_two_live_processes_never_take_each_others_claims_and_the_survivor_of_a_kill_takes_over_at_once(
        database_url, tmp_path):
    data = crash_policy()
    policy = write_policy(tmp_path, data)
    with fake_slack() as sim:
        processes = [Served(name, sim, database_url, policy, tmp_path) for name in ("one", "two")]
        try:
            for served in processes:
                served.start()
            with shared_database(database_url) as sessions:
                desk = EscalationDesk(sessions, parse_policy(data))
                # held as long as the outbox client's 10 s timeout allows (a timeout would retry it)
                slow = sim.answer_late("chat.postMessage", seconds=9, channel=TIER1)
                key = open_ticket(desk, "Reports are empty")
                assert slow.took_effect.wait(15)
                # while one process waits on Slack, the other goes on working (and scanning for
                # dead owners every 2 s): a P1 opened now is delivered before the slow answer
                other = open_ticket(desk, "Site down", severity="P1")
                sim.wait_for(lambda: ledger(sim)[other][f"{CHANNELS['tier3']}: briefing for Tier 3"], timeout=8,
                             message="the P1 briefing while the other post is slow")
                assert slow.answered == 0
                sim.wait_for(lambda: slow.answered == 1, timeout=30, message="the slow answer")
                wait_quiet(sessions)
                [row] = briefing_rows(sessions, TIER1)
                assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)  # nobody claimed it a second time
                assert ledger(sim)[key][f"{TIER1}: briefing for Tier 1"] == 1
                for served in processes:
                    assert "took over" not in served.log(), served.log()
                    assert "taken over by another process" not in served.log(), served.log()

                # now one of them is killed right after Slack took a post: the other, still
                # running (no restart, so nothing cleans the lock files up first), finds the
                # killed one's lock free, takes the row over and finds the post in the history
                late = sim.answer_late("chat.postMessage", seconds=120, channel=PLANNING)
                third = open_ticket(desk, "Invoices missing", severity="P4")
                assert late.took_effect.wait(15)
                [row] = briefing_rows(sessions, PLANNING)
                owner = next(p for p in processes if row.claimed_by and f":{p.process.pid}:" in row.claimed_by)
                survivor = next(p for p in processes if p is not owner)
                owner.kill()
                sim.wait_for(lambda: not pending_rows(sessions), timeout=30, interval=0.1,
                             message="the killed process's row delivered by the survivor, before its 60 s lease")
                wait_quiet(sessions)
                [row] = briefing_rows(sessions, PLANNING)
            assert row.status == OutboxStatus.SENT
            assert ledger(sim)[third][f"{PLANNING}: briefing for Planning"] == 1, ledger(sim)[third]
            log = survivor.log()
            assert TOOK_OVER.search(log), log
            assert f"row {row.id} was already posted" in log, log
        finally:
            for served in processes:
                served.stop()


def test_killed_in_a_batch_of_thread_replies_and_home_publishes_each_arrives_once_in_order(
        database_url, tmp_path):
    data = crash_policy()
    policy = write_policy(tmp_path, data)
    with fake_slack() as sim:
        first = Served("first", sim, database_url, policy, tmp_path).start()
        second = Served("second", sim, database_url, policy, tmp_path)
        try:
            with shared_database(database_url) as sessions:
                desk = EscalationDesk(sessions, parse_policy(data))
                desk.on_change.append(HomeTab(sessions, parse_policy(data)).refresh_for)  # as serve wires it
                key = open_ticket(desk, "Uploads fail")
                sim.wait_for(lambda: ledger(sim)[key][f"{TIER1}: briefing for Tier 1"], timeout=15)
                wait_quiet(sessions, extra=0)
                ticket_id = int(key.split("-")[1])
                third_reply = sim.answer_late("chat.postMessage", seconds=120, channel=TIER1, after=2)
                home = sim.answer_late("views.publish", seconds=120, channel=AGENT2)
                desk.acknowledge(ticket_id, AGENT2)
                for step in range(1, 5):  # four more notes, each with a briefing update and Homes
                    if step % 2:
                        desk.wait_on_customer(ticket_id, AGENT2, f"step {step}")
                    else:
                        desk.resume(ticket_id, AGENT2, f"step {step}")
                assert third_reply.took_effect.wait(15) and home.took_effect.wait(15)
                first.kill()
                second.start()
                wait_quiet(sessions)
                with sessions() as session:
                    homes = session.scalars(select(OutboxMessage).where(OutboxMessage.method == "views.publish")).all()
            root = next(m for m in sim.messages(TIER1) if m.text.startswith(f"{key} ("))
            notes = [reply.text for reply in sim.replies(TIER1, root.ts)]
            assert len(notes) == 5, notes
            assert "cknowledged" in notes[0], notes  # then the steps, in the order they happened
            assert [re.search(r"step \d", note)[0] for note in notes[1:]] == ["step 1", "step 2", "step 3", "step 4"]
            assert homes and all(row.status == OutboxStatus.SENT for row in homes)
            assert sim.home(AGENT2) is not None and sim.home(AGENT) is not None
            taken = TOOK_OVER.search(second.log())
            assert taken and "1 chat.postMessage" in taken[2] and "1 views.publish" in taken[2], second.log()
        finally:
            first.stop()
            second.stop()


# --- Slack events: a retry of an event whose process died is handled, not dropped ---------
def test_an_events_claim_passes_to_a_retry_once_its_process_is_gone_and_not_before(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    dying, other = liveness_for(engine), liveness_for(engine)
    try:
        dying.hold()
        other.hold()
        first, retry = EventLedger(sessions, dying), EventLedger(sessions, other)
        assert first.claim("EvREPLY1")
        assert not retry.claim("EvREPLY1")  # its process lives (still handling it, or done)
        dying.release()  # the process dies before answering Slack
        assert retry.claim("EvREPLY1")  # Slack's retry is handled
        assert not EventLedger(sessions, liveness_for(engine)).claim("EvREPLY1")  # and now it is the retry's
    finally:
        dying.release()
        other.release()
        engine.dispose()


def test_a_late_retry_of_an_event_handled_by_a_process_that_is_gone_is_not_handled_again(database_url):
    """A reply is edited twice; the first edit's event was handled by a process that has
    stopped since, and Slack retries it late (the answer got lost). Replaying it would put
    the older text over the newer one."""
    policy = parse_policy(crash_policy())
    with Harness(database_url, policy=policy) as first:
        key = open_ticket(first.runtime.desk, "Exports fail")
        root = first.briefing(key, timeout=15)
        ts = first.sim.post_as_user(AGENT2, TIER1, "On it", thread_ts=root.ts)
        reply = {"type": "message", "channel": TIER1, "user": AGENT2, "text": "On it", "ts": ts,
                 "event_ts": ts, "thread_ts": root.ts, "channel_type": "channel"}
        assert first.driver.event(reply, event_id="EvREPLY1").status == 200
        with first.runtime.sessions() as session:
            first.sim.wait_for(lambda: session.scalar(select(func.count()).select_from(TicketNote)), timeout=10)
        edit_v1 = edited(reply, "On it, ETA 1h")
        assert first.driver.event(edit_v1, event_id="EvEDIT1").status == 200
        first.sim.wait_for(lambda: note_text(first.runtime.sessions) == "On it, ETA 1h", timeout=10)
    with Harness(database_url, policy=policy) as second:  # the first process is gone
        assert second.driver.event(edited(reply, "On it, ETA 2h"), event_id="EvEDIT2").status == 200
        second.sim.wait_for(lambda: note_text(second.runtime.sessions) == "On it, ETA 2h", timeout=10)
        assert second.driver.event(edit_v1, event_id="EvEDIT1", retry_num=3).status == 200
        time.sleep(1.5)  # the handler may run after the answer
        assert note_text(second.runtime.sessions) == "On it, ETA 2h"


def edited(message: dict, text_: str) -> dict:
    return {"type": "message", "subtype": "message_changed", "channel": message["channel"], "hidden": True,
            "message": {**message, "text": text_}, "event_ts": message["ts"], "ts": message["ts"]}


def note_text(sessions) -> str | None:
    with sessions() as session:
        return session.scalar(select(TicketNote.text))


def test_a_thread_reply_whose_process_was_killed_mid_handling_counts_on_slacks_retry(pg_url, tmp_path):
    data = crash_policy()
    policy = write_policy(tmp_path, data)
    with fake_slack() as sim:
        first = Served("first", sim, pg_url, policy, tmp_path).start()
        second = Served("second", sim, pg_url, policy, tmp_path)
        try:
            with shared_database(pg_url) as sessions:
                key = open_ticket(EscalationDesk(sessions, parse_policy(data)), "Exports fail")
                sim.wait_for(lambda: ledger(sim)[key][f"{TIER1}: briefing for Tier 1"], timeout=15)
                wait_quiet(sessions, extra=0)
                root = next(m for m in sim.messages(TIER1) if m.text.startswith(f"{key} ("))
                ts = sim.post_as_user(AGENT2, TIER1, "On it", thread_ts=root.ts)
                reply = {"type": "message", "channel": TIER1, "user": AGENT2, "text": "On it", "ts": ts,
                         "event_ts": ts, "thread_ts": root.ts, "channel_type": "channel"}

                def deliver(served: Served, **retry):
                    driver = SlackDriver(f"http://127.0.0.1:{served.port}/slack/events", SECRET, sim)
                    try:
                        return driver.event(reply, event_id="EvKILLED1", **retry)
                    except OSError:
                        return None  # the process died while Slack waited for its answer

                with write_lock(pg_url, table="ticket_notes"):  # the reply's note waits to be written
                    sender = threading.Thread(target=deliver, args=(first,))
                    sender.start()
                    sim.wait_for(lambda: inserts_waiting(pg_url, "ticket_notes"), timeout=10, interval=0.05,
                                 message="the reply's handler, waiting to write its note")
                    first.kill()
                sender.join(10)
                second.start()
                answer = deliver(second, retry_num=1, retry_reason="http_error")
                assert answer is not None and answer.status == 200
                wait_quiet(sessions, extra=0)
                with sessions() as session:
                    ticket = session.get(Ticket, int(key.split("-")[1]))
                    assert ticket.acknowledged_by == AGENT2  # the reply counted
                    assert session.scalar(select(func.count()).select_from(TicketNote)) == 1
            assert "handling Slack's retry" in second.log(), second.log()
            notes = [r.text for r in sim.replies(TIER1, root.ts) if r.bot_id]
            assert notes.count(f"Acknowledged by <@{AGENT2}> (a reply in this thread).") == 1, notes
        finally:
            first.stop()
            second.stop()


def test_a_process_that_loses_its_liveness_connection_stops_delivering_until_it_holds_its_lock_again(pg_url):
    """PostgreSQL ends the session that holds the lock (a restart, a network cut): from then
    on others would take this process's claims for a dead one's, so it must not claim or
    send, and /healthz says so, until it holds its lock again."""
    with Harness(pg_url, policy=parse_policy(crash_policy())) as bot:
        liveness = bot.runtime.worker.liveness
        health = f"{bot.server.url}/healthz"
        assert get_status(health) == 200
        with bot.runtime.engine.connect() as connection:
            ended = connection.scalar(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
                "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": liveness.key})
            assert ended
            # and it can't have its lock back for now (as while the database is out of reach)
            bot.sim.wait_for(lambda: connection.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                                       {"key": liveness.key}), timeout=10, message="the lock to be free")
            bot.sim.wait_for(lambda: not liveness.held, timeout=10, message="the lost lock to be noticed")
            assert get_status(health) == 503
            key = open_ticket(bot.runtime.desk, "Nothing loads")
            time.sleep(1.0)
            assert not ledger(bot.sim)[key]  # nothing claimed or sent without the lock
            connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": liveness.key})
        bot.sim.wait_for(lambda: liveness.held, timeout=10, message="the lock taken again")
        assert get_status(health) == 200
        bot.sim.wait_for(lambda: ledger(bot.sim)[key][f"{TIER1}: briefing for Tier 1"], timeout=10)


def test_a_send_that_fails_unexpectedly_is_logged_by_row_id(sqlite_url, caplog, monkeypatch):
    """Sends run in pool threads whose futures nobody reads: an exception must not vanish."""
    with Harness(sqlite_url, policy=parse_policy(crash_policy())) as bot:
        def broken_load(row_id):
            raise RuntimeError("the database went away")

        monkeypatch.setattr(bot.runtime.worker.sender, "load", broken_load)
        open_ticket(bot.runtime.desk, "Customer Jane can't log in")
        bot.sim.wait_for(lambda: "delivering row" in caplog.text, timeout=10, message="the logged failure")
    [record] = [r for r in caplog.records if "delivering row" in r.getMessage()][:1]
    assert re.search(r"delivering row \d+ failed", record.getMessage())
    assert "the database went away" in caplog.text  # the traceback
    assert "Jane" not in caplog.text


def end_lock_session(engine, key: int) -> None:
    """What a PostgreSQL restart, a fail-over or an idle-session killer does to the
    connection that holds a worker's lock."""
    with engine.connect() as connection:
        assert connection.scalar(text(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
            "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": key})


def test_a_process_whose_lock_session_ends_mid_send_posts_nothing_and_its_late_record_changes_nothing(
        pg_url, monkeypatch):
    """A's lock session ends while it waits for Slack (here: the history look-up of a
    retried post) and before its watchdog notices; B finds A's lock free and takes the
    row over. Only B posts: A asks the database, not its cached flag, right before the
    post. A's record of the row, however late, leaves B's alone."""
    monkeypatch.setattr(delivery, "ORPHAN_SCAN_INTERVAL", 0.0)
    monkeypatch.setattr(liveness_postgres, "PING_INTERVAL", 3600.0)  # A's watchdog doesn't notice in time
    with Harness(pg_url, policy=parse_policy(crash_policy()), start_worker=False) as bot:
        dead, a, b = (OutboxWorker(bot.runtime.sessions, outbox_client(bot.runtime.settings),
                                   renderers=bot.runtime.worker.renderers) for _ in range(3))
        try:
            key = open_ticket(bot.runtime.desk, "Refunds stuck")
            claim(dead)
            dead.liveness.release()  # died before posting: the next attempt looks in the history first
            a.liveness.hold()
            b.liveness.hold()
            [row_id] = [row for row, channel, _opens in claim(a) if channel == TIER1]
            history = bot.sim.answer_late("conversations.history", seconds=8, channel=TIER1)
            sender = threading.Thread(target=a._deliver, args=(row_id,))
            sender.start()
            assert history.took_effect.wait(15)
            end_lock_session(bot.runtime.engine, a.liveness.key)
            assert a.liveness.held  # cached: not noticed yet
            bot.sim.wait_for(b.run_once, timeout=10, message="B taking A's claims over")
            sender.join(30)
            assert not sender.is_alive()
            assert ledger(bot.sim)[key][f"{TIER1}: briefing for Tier 1"] == 1
            with bot.runtime.sessions() as session:
                row = session.get(OutboxMessage, row_id)
                recorded = (row.status, row.sent_at, row.last_error, row.claimed_by, row.message.ts)
            assert recorded[0] == OutboxStatus.SENT and recorded[3] == b.worker_id
            # what A would record had its post been on its way already: B's record stands
            a.records.failure(row_id, SlackFailure(FailureKind.REJECTED, "channel_not_found"))
            a.records.success(row_id, {"ts": "1.000001"})
            with bot.runtime.sessions() as session:
                row = session.get(OutboxMessage, row_id)
                assert (row.status, row.sent_at, row.last_error, row.claimed_by, row.message.ts) == recorded
        finally:
            for worker in (dead, a, b):
                worker.stop()


def test_a_process_whose_lock_session_ended_claims_nothing_even_before_it_notices(pg_url, monkeypatch):
    monkeypatch.setattr(liveness_postgres, "PING_INTERVAL", 3600.0)
    with Harness(pg_url, policy=parse_policy(crash_policy()), start_worker=False) as bot:
        worker = OutboxWorker(bot.runtime.sessions, outbox_client(bot.runtime.settings),
                              renderers=bot.runtime.worker.renderers)
        try:
            worker.liveness.hold()
            end_lock_session(bot.runtime.engine, worker.liveness.key)
            with bot.runtime.engine.connect() as connection:  # and another process holds the key for now
                bot.sim.wait_for(lambda: connection.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                                           {"key": worker.liveness.key}),
                                 message="the lock to be free")
                key = open_ticket(bot.runtime.desk, "Nothing loads")
                assert worker.liveness.held  # cached: not noticed yet
                assert worker.run_once() == 0
                assert all(row.claimed_by is None for row in pending_rows(bot.runtime.sessions))
                connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": worker.liveness.key})
            assert worker.drain(20)  # its lock taken again on the next claim
            assert ledger(bot.sim)[key][f"{TIER1}: briefing for Tier 1"] == 1
        finally:
            worker.stop()


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
