"""Overflow (bot/capacity.py): a capacity set on a level that is already over it tells
management at the next arrival; a level without a capacity never does."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.capacity import CapacityWatch
from bot.db import make_engine, make_session_factory, transaction, upgrade
from bot.models import OutboxMessage, Ticket, TicketStatus
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
