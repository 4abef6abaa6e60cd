"""Stays (bot.quality.stays): the rows bot.history keeps as events are appended are the
rows the one-statement definition derives from the events, on SQLite and PostgreSQL, so
time to acknowledge, time in level, handoffs and FCR read the same whichever writer
wrote a history (the desk, an import, the sample data); and migration 0011 fills them for
a history recorded before it existed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from bot import history
from bot.clock import SimulatedClock, simulated
from bot.db import alembic_config, make_engine, make_session_factory, upgrade
from bot.models import Ticket, TicketEvent, TicketStay
from bot.quality import stays

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
LEVELS = ("tier1", "tier2", "tier3", "management")
# what happens to a ticket after it opens: the stay-making kinds and some that aren't
STEP = st.tuples(st.sampled_from(["escalated", "deescalated", "reopened", "acknowledged", "resolved",
                                  "paused", "assigned", "facts_changed"]),
                 st.sampled_from(LEVELS),
                 st.sampled_from([0, 1, 90, 3600]))  # seconds later; 0: the same instant
TICKETS = st.lists(st.tuples(st.sampled_from(LEVELS), st.lists(STEP, max_size=12)), min_size=1, max_size=4)


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def stay_rows(session) -> list[tuple]:
    return [tuple(row) for row in session.execute(
        select(TicketStay.ticket_id, TicketStay.stay, TicketStay.level, TicketStay.arrived_by,
               TicketStay.arrived_at, TicketStay.acknowledged_at, TicketStay.left_at, TicketStay.resolutions)
        .order_by(TicketStay.ticket_id, TicketStay.stay))]


def write_through_history(sessions, tickets) -> list[int]:
    """Each ticket's life appended event by event as the desk does, at its own times;
    acknowledgments of the tickets' last steps go in one batch, as bot.acknowledgment does."""
    ids = []
    with sessions.begin() as session, simulated(SimulatedClock(T0)) as clock:
        for entry, steps in tickets:
            ticket = Ticket(summary="s", severity="P3", impact="one_user", complexity="known_issue",
                            level=entry, requester_id="U0AGENT1")
            session.add(ticket)
            session.flush()
            history.append(session, ticket, "opened", "U0AGENT1", to_level=entry)
            for kind, level, later in steps:
                clock.advance_to(clock.now + timedelta(seconds=later))
                history.append(session, ticket, kind, None, to_level=level)
            ids.append(ticket.id)
        clock.advance_to(clock.now + timedelta(minutes=5))
        batch = [(session.get(Ticket, ticket_id), "acknowledged", "U0AGENT2", {}) for ticket_id in ids]
        history.append_all(session, batch)
    return ids


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tickets=TICKETS)
def test_the_stays_kept_event_by_event_are_the_ones_the_events_define(sessions, tickets):
    with sessions.begin() as session:  # a fresh history for each example
        for table in (TicketStay, TicketEvent, Ticket):
            session.execute(delete(table))
    ids = write_through_history(sessions, tickets)
    with sessions() as session:
        kept = stay_rows(session)
    with sessions.begin() as session:
        stays.rebuild(session.connection(), ids)
    with sessions() as session:
        assert stay_rows(session) == kept
    with sessions.begin() as session:  # the whole history in one call, as a bulk writer may
        session.execute(delete(TicketStay))
        events = session.execute(select(TicketEvent.__table__).order_by(TicketEvent.id)).mappings().all()
        stays.follow(session.connection(), [dict(e) for e in events])
    with sessions() as session:
        assert stay_rows(session) == kept
    opened = sum(1 for _ in tickets)
    arrivals = sum(1 for _, steps in tickets for kind, _, _ in steps
                   if kind in ("escalated", "deescalated", "reopened"))
    assert len(kept) == opened + arrivals  # a stay per arrival, none for the other kinds


def test_a_stay_ends_at_its_first_resolution_and_the_next_arrival_opens_another(sessions):
    ids = write_through_history(sessions, [("tier1", [
        ("acknowledged", "tier1", 60), ("escalated", "tier2", 600), ("resolved", "tier2", 3600),
        ("resolved", "tier2", 60), ("reopened", "tier2", 7200)])])
    with sessions() as session:
        rows = stay_rows(session)
    at = lambda seconds: T0 + timedelta(seconds=seconds)  # noqa: E731
    assert rows == [
        (ids[0], 1, "tier1", "opened", T0, at(60), at(660), 0),
        (ids[0], 2, "tier2", "escalated", at(660), None, at(4260), 2),
        # the batch's acknowledgment five minutes after the last step lands in the open stay
        (ids[0], 3, "tier2", "reopened", at(11520), at(11820), None, 0),
    ]


def test_migration_0011_fills_the_stays_of_a_history_recorded_before_it(database_url):
    engine = make_engine(database_url)
    try:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0010")
            connection.commit()
        with engine.begin() as connection:  # the events as the desk wrote them before 0011
            connection.execute(insert(Ticket.__table__), [dict(
                id=7, summary="s", customer="", severity="P2", impact="one_user", complexity="known_issue",
                level="tier2", status="resolved", cycle=2, requester_id="U0AGENT1", created_at=T0,
                updated_at=T0, vip=False, executive_contact=False, asked_for_manager=False, brand_risk=False,
                asked_again=False, steps_taken="")])
            connection.execute(insert(TicketEvent.__table__), [
                dict(ticket_id=7, kind=kind, to_level=level, at=T0 + timedelta(minutes=minutes), detail={})
                for kind, level, minutes in [("opened", "tier1", 0), ("acknowledged", None, 5),
                                             ("escalated", "tier2", 30), ("resolved", None, 90)]])
        upgrade(engine)
        with make_session_factory(engine)() as session:
            rows = stay_rows(session)
    finally:
        engine.dispose()
    at = lambda minutes: T0 + timedelta(minutes=minutes)  # noqa: E731
    assert rows == [(7, 1, "tier1", "opened", T0, at(5), at(30), 0),
                    (7, 2, "tier2", "escalated", at(30), None, at(90), 1)]
