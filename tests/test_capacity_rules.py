"""Overflow (bot/capacity.py): a capacity set on a level that is already over it tells
management at the next arrival; a level without a capacity never does."""
from __future__ import annotations

import queue
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from bot.capacity import CapacityWatch
from bot.db import make_engine, make_session_factory, transaction, upgrade
from bot.models import OutboxMessage, Ticket, TicketStatus
from tests.conftest import postgres_schema_url
from tests.harness import CHANNELS, Harness, with_level_setting


def with_capacity(**by_level):
    return with_level_setting("capacity", by_level)


def overflow_notices(running) -> list[str]:
    running.settle()
    return [m.rendered for m in running.sim.messages(CHANNELS["management"]) if "over capacity" in m.rendered]


def test_a_capacity_added_while_the_level_is_over_it_tells_management(sqlite_url):
    with Harness(sqlite_url) as running:  # no capacity yet: three open tickets, no notice
        keys = [running.new_ticket(Summary=f"Case {n}") for n in range(3)]
        assert overflow_notices(running) == []
    with Harness(sqlite_url, policy=with_capacity(tier1=2)) as running:  # restarted with capacity 2
        running.new_ticket(Summary="Case 3")
        notices = overflow_notices(running)
        assert len(notices) == 1
        assert "*Tier 1* is over capacity: *4* open tickets (capacity 2)" in notices[0]
        assert keys[0] in notices[0]


# --- the rule itself, on a database without the bot around it (fast) -------------------

@pytest.fixture
def level_db(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def add_tickets(sessions, level, statuses, start=0):
    with transaction(sessions) as session:
        for n, status in enumerate(statuses, start=start):
            session.add(Ticket(summary=f"Case {n}", severity="P3" if n % 2 else "P2", impact="one_user",
                               complexity="known_issue", level=level, status=status, requester_id="U0AGENT1",
                               created_at=datetime(2026, 3, 2, 9, tzinfo=timezone.utc) + timedelta(minutes=n)))


def check(sessions, watch, level="tier1") -> tuple[bool, list[str]]:
    with transaction(sessions) as session:
        told = watch.check(session, level)
    with sessions() as session:
        notices = [m.payload["blocks"][0]["text"]["text"] + " | " + m.payload["blocks"][1]["elements"][0]["text"]
                   for m in session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "C0MGMT")
                                            .order_by(OutboxMessage.id))]
    return told, notices


def test_over_capacity_counts_only_active_tickets_of_the_level_and_tells_once_per_crossing(level_db):
    watch = CapacityWatch(with_capacity(tier1=3))
    add_tickets(level_db, "tier1", [TicketStatus.OPEN, TicketStatus.ACKNOWLEDGED, TicketStatus.WAITING])
    add_tickets(level_db, "tier1", [TicketStatus.RESOLVED] * 2, start=3)  # resolved: not counted
    add_tickets(level_db, "tier2", [TicketStatus.OPEN] * 2, start=5)  # another level: not counted
    assert check(level_db, watch) == (False, [])  # 3 of 3: at capacity, not over
    add_tickets(level_db, "tier1", [TicketStatus.OPEN], start=7)
    told, notices = check(level_db, watch)
    assert told and notices == ["<@U0MGR1> :bar_chart: *Tier 1* is over capacity: *4* open tickets (capacity 3). "
                                "Consider moving people or tickets. | Oldest: ESC-1 (P2), ESC-2 (P3), ESC-3 (P2)"]
    add_tickets(level_db, "tier1", [TicketStatus.OPEN], start=8)
    assert check(level_db, watch) == (False, notices)  # still over: no second notice
    with transaction(level_db) as session:  # back to capacity …
        for ticket in session.scalars(select(Ticket).where(Ticket.id.in_((1, 2)))):
            ticket.status = TicketStatus.RESOLVED
    assert check(level_db, watch) == (False, notices)
    add_tickets(level_db, "tier1", [TicketStatus.OPEN], start=9)  # … and over again: a second notice
    told, again = check(level_db, watch)
    assert told and len(again) == 2 and "*4* open tickets (capacity 3)" in again[1]


def test_a_level_without_a_capacity_or_unknown_is_never_over(level_db):
    watch = CapacityWatch(with_capacity(tier1=1))
    add_tickets(level_db, "tier2", [TicketStatus.OPEN] * 5)
    assert check(level_db, watch, "tier2") == (False, [])
    assert check(level_db, watch, "nowhere") == (False, [])


def test_two_levels_over_the_same_capacity_each_tell_management(level_db):
    watch = CapacityWatch(with_capacity(tier1=1, tier2=1))
    add_tickets(level_db, "tier1", [TicketStatus.OPEN] * 2)
    add_tickets(level_db, "tier2", [TicketStatus.OPEN] * 2, start=2)
    assert check(level_db, watch, "tier1")[0]
    told, notices = check(level_db, watch, "tier2")
    assert told and [notice.split(" is over")[0] for notice in notices] == [
        "<@U0MGR1> :bar_chart: *Tier 1*", "<@U0MGR1> :bar_chart: *Tier 2*"]


def test_the_oldest_tickets_named_are_the_oldest_even_after_they_changed(level_db):
    # PostgreSQL hands back a changed row after the unchanged ones unless the query orders
    # by age: the manager would be shown newer tickets as "oldest"
    watch = CapacityWatch(with_capacity(tier1=3))
    add_tickets(level_db, "tier1", [TicketStatus.OPEN] * 3)
    with transaction(level_db) as session:
        for ticket in session.scalars(select(Ticket).where(Ticket.id.in_((1, 2)))):
            ticket.status = TicketStatus.ACKNOWLEDGED
    add_tickets(level_db, "tier1", [TicketStatus.OPEN], start=3)
    told, notices = check(level_db, watch)
    assert told and notices[0].endswith("Oldest: ESC-1 (P2), ESC-2 (P3), ESC-3 (P2)")


def test_the_oldest_named_are_the_first_opened_even_when_entered_later(level_db):
    # an imported ticket (or one handed down from another level) can be older than tickets
    # entered before it: the manager is told which ones have waited longest, not the first ids
    watch = CapacityWatch(with_capacity(tier1=3))
    add_tickets(level_db, "tier1", [TicketStatus.OPEN] * 3, start=10)  # ESC-1..3, opened 09:10-09:12
    add_tickets(level_db, "tier1", [TicketStatus.OPEN], start=0)  # ESC-4, opened 09:00
    told, notices = check(level_db, watch)
    assert told and notices[0].endswith("Oldest: ESC-4 (P2), ESC-1 (P2), ESC-2 (P3)")


@pytest.fixture
def postgresql_level_db():
    for url in postgres_schema_url():  # skips without PostgreSQL; drops its schema afterwards
        engine = make_engine(url)
        upgrade(engine)
        yield make_session_factory(engine)
        engine.dispose()


def wait_until_blocked_or_done(sessions, worker: threading.Thread, backend: queue.Queue) -> None:
    """Until the worker's transaction waits for a lock held by the caller, or has finished."""
    pid = backend.get(timeout=60)
    with sessions() as session:
        for _ in range(6000):
            if not worker.is_alive() or session.scalar(
                    text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}):
                return
            session.rollback()  # a fresh snapshot of pg_stat_activity
            time.sleep(0.01)
    raise AssertionError("the second transaction neither waited nor finished")


def test_a_ticket_leaving_while_another_arrives_is_counted_after_it_so_the_next_crossing_tells_again(
        postgresql_level_db):
    # Two processes at once on PostgreSQL: an arrival takes the level over capacity while a
    # ticket leaves it. The leaving one must count after the arrival (the state row's lock),
    # or it reads "not over" from before the arrival, the arrival then records "over", and
    # the level's next real crossing tells nobody.
    sessions, watch = postgresql_level_db, CapacityWatch(with_capacity(tier1=2))
    add_tickets(sessions, "tier1", [TicketStatus.OPEN] * 2)  # ESC-1, ESC-2: at capacity
    assert check(sessions, watch) == (False, [])
    backend: queue.Queue = queue.Queue()

    def resolve_first_ticket():
        with transaction(sessions) as session:
            backend.put(session.scalar(text("SELECT pg_backend_pid()")))
            session.get(Ticket, 1).status = TicketStatus.RESOLVED
            watch.check(session, "tier1")

    with transaction(sessions) as arrival:
        add_ticket = Ticket(summary="Case 2", severity="P2", impact="one_user", complexity="known_issue",
                            level="tier1", status=TicketStatus.OPEN, requester_id="U0AGENT1",
                            created_at=datetime(2026, 3, 2, 10, tzinfo=timezone.utc))
        arrival.add(add_ticket)
        arrival.flush()
        assert watch.check(arrival, "tier1")  # 3 of 2: management told (once committed)
        leaving = threading.Thread(target=resolve_first_ticket)
        leaving.start()
        wait_until_blocked_or_done(sessions, leaving, backend)
    leaving.join(timeout=60)
    assert not leaving.is_alive()
    add_tickets(sessions, "tier1", [TicketStatus.OPEN], start=3)  # ESC-2, ESC-3, ESC-4: over again
    told, notices = check(sessions, watch)
    assert told and len(notices) == 2 and "*3* open tickets (capacity 2)" in notices[1]
