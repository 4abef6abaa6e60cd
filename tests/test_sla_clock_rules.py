"""What a ticket's SLA clocks say as it moves: which clocks run, when they warn and breach,
what stops them, and what a change of severity or a pause does to their deadlines."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from importlib import resources

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import make_engine
from bot.models import Base, SlaClock, Ticket, TicketPause, TicketStatus
from bot.policy import parse_policy
from bot.sla.clocks import ClockBook

UTC = timezone.utc
NOW = datetime(2026, 2, 9, 10, tzinfo=UTC)
H = timedelta(hours=1)


def policy(**overrides):
    data = yaml.safe_load(resources.files("bot").joinpath("default_policy.yaml").read_text())
    data.update(overrides)  # 24x7, warn_at 0.75; P2: response 4h, updates every 2h; tier1 time limit 4h
    return parse_policy(data)


@pytest.fixture
def session(sqlite_url):
    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def open_ticket(session, severity="P2", level="tier1", status=TicketStatus.OPEN) -> Ticket:
    ticket = Ticket(summary="Checkout fails", severity=severity, impact="single_user", complexity="known_fix",
                    level=level, status=status, requester_id="U0REQUEST", created_at=NOW)
    session.add(ticket)
    session.flush()
    return ticket


def clocks(session, ticket) -> dict[str, SlaClock]:
    session.flush()  # as the desk's transaction does before anyone reads them
    session.expire_all()
    rows = session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id)).all()
    return {row.kind: row for row in rows}


def test_a_new_p2_ticket_warns_at_three_quarters_and_breaches_at_the_target(session):
    book = ClockBook(policy())
    ticket = open_ticket(session)
    book.start_cycle(session, ticket, NOW)
    running = clocks(session, ticket)
    assert set(running) == {"response", "time_limit"}
    response, limit = running["response"], running["time_limit"]
    assert (response.level, response.cycle, response.target_seconds) == ("tier1", 1, 4 * 3600)
    assert (response.warn_at, response.due_at, response.next_check_at) == (NOW + 3 * H, NOW + 4 * H, NOW + 3 * H)
    assert (limit.warn_at, limit.due_at, limit.next_check_at) == (NOW + 3 * H, NOW + 4 * H, NOW + 3 * H)
    assert not response.warned and not response.breached and response.stopped_at is None


def test_each_level_has_its_own_time_limit_and_a_level_without_one_has_none(session):
    book = ClockBook(policy())
    tier2 = open_ticket(session, level="tier2")
    tier3 = open_ticket(session, level="tier3")
    book.start_cycle(session, tier2, NOW)
    book.start_cycle(session, tier3, NOW)
    assert clocks(session, tier2)["time_limit"].due_at == NOW + 8 * H
    assert set(clocks(session, tier3)) == {"response"}


def test_a_p4_request_gets_a_response_clock_but_never_a_time_limit(session):
    book = ClockBook(policy())
    ticket = open_ticket(session, severity="P4")
    book.start_cycle(session, ticket, NOW)
    assert set(clocks(session, ticket)) == {"response"}
    assert clocks(session, ticket)["response"].due_at == NOW + 24 * H


def test_acknowledging_stops_only_the_response_clock_and_starts_the_progress_cadence(session):
    book = ClockBook(policy())
    ticket, other = open_ticket(session), open_ticket(session)
    book.start_cycle(session, ticket, NOW)
    book.start_cycle(session, other, NOW)
    book.acknowledged(session, [ticket], NOW + H)
    running = clocks(session, ticket)
    assert (running["response"].stopped_at, running["response"].stop_reason) == (NOW + H, "acknowledged")
    assert running["response"].next_check_at is None
    assert running["time_limit"].stopped_at is None and running["time_limit"].next_check_at == NOW + 3 * H
    update = running["update"]
    # The cadence has no warning: the reminder itself is the nudge, every 2 h.
    assert (update.started_at, update.due_at, update.warn_at, update.next_check_at) == (
        NOW + H, NOW + 3 * H, None, NOW + 3 * H)
    assert clocks(session, other)["response"].stopped_at is None  # another ticket keeps its clock



def test_acknowledged_together_a_p2_gets_its_progress_cadence_even_after_a_p4_without_one(session):
    # clicks on several briefings are recorded together (bot/acknowledgment.py); a P4 has
    # no update_every, and must not keep the next ticket's reminders from starting
    book = ClockBook(policy())
    request, ticket = open_ticket(session, severity="P4", level="planning"), open_ticket(session)
    for each in (request, ticket):
        book.start_cycle(session, each, NOW)
    book.acknowledged(session, [request, ticket], NOW)
    assert "update" not in clocks(session, request)
    assert clocks(session, ticket)["update"].due_at == NOW + 2 * H

def test_a_progress_note_starts_the_cadence_over(session):
    book = ClockBook(policy())
    ticket = open_ticket(session)
    book.start_cycle(session, ticket, NOW)
    book.acknowledged(session, [ticket], NOW)
    update = clocks(session, ticket)["update"]
    update.warned, update.breached = True, False
    session.flush()
    book.progress_posted(session, ticket, NOW + 90 * timedelta(minutes=1))
    update = clocks(session, ticket)["update"]
    assert update.started_at == NOW + 90 * timedelta(minutes=1)
    assert update.due_at == update.next_check_at == NOW + 90 * timedelta(minutes=1) + 2 * H
    assert not update.warned
    assert clocks(session, ticket)["time_limit"].started_at == NOW  # only the cadence restarts


def test_a_progress_note_before_anyone_acknowledged_changes_nothing(session):
    book = ClockBook(policy())
    ticket = open_ticket(session)
    book.start_cycle(session, ticket, NOW)
    book.progress_posted(session, ticket, NOW + H)
    assert set(clocks(session, ticket)) == {"response", "time_limit"}
    assert clocks(session, ticket)["response"].due_at == NOW + 4 * H


def test_leaving_a_level_stops_its_clocks_and_a_new_stay_has_new_ones(session):
    book = ClockBook(policy())
    ticket = open_ticket(session)
    book.start_cycle(session, ticket, NOW)
    book.stop_cycle(session, ticket, NOW + H, "escalated")
    stopped = clocks(session, ticket)
    assert {(c.stopped_at, c.stop_reason, c.next_check_at) for c in stopped.values()} == {(NOW + H, "escalated", None)}
    assert book.running(session, ticket) == []
    ticket.level, ticket.cycle = "tier2", 2
    book.start_cycle(session, ticket, NOW + H)
    assert [(c.kind, c.level, c.cycle) for c in book.running(session, ticket)] == [
        ("response", "tier2", 2), ("time_limit", "tier2", 2)]


def test_turning_a_ticket_into_a_p4_stops_its_time_limit_and_moves_its_response_deadline(session):
    book = ClockBook(policy())
    ticket = open_ticket(session)
    book.start_cycle(session, ticket, NOW)
    ticket.severity = "P4"
    book.recompute_all(session, ticket)
    session.flush()
    limit, response = clocks(session, ticket)["time_limit"], clocks(session, ticket)["response"]
    assert (limit.stopped_at, limit.stop_reason, limit.next_check_at) == (NOW, "not applicable", None)
    assert (response.target_seconds, response.due_at, response.warn_at) == (24 * 3600, NOW + 24 * H, NOW + 18 * H)
    assert [c.kind for c in book.running(session, ticket)] == ["response"]



def test_raising_the_severity_keeps_the_levels_time_limit_and_shortens_the_response_deadline(session):
    # the time limit belongs to the level, not the severity: a P2 made P1 must still move
    # up on its own when the level's 4 h run out
    book = ClockBook(policy())
    ticket = open_ticket(session)
    book.start_cycle(session, ticket, NOW)
    ticket.severity = "P1"
    book.recompute_all(session, ticket)
    limit, response = clocks(session, ticket)["time_limit"], clocks(session, ticket)["response"]
    assert (limit.stopped_at, limit.target_seconds, limit.due_at) == (None, 4 * 3600, NOW + 4 * H)
    assert (response.target_seconds, response.due_at) == (3600, NOW + H)


def test_an_acknowledged_ticket_turned_into_a_p4_stops_its_time_limit_and_its_progress_cadence(session):
    book = ClockBook(policy())  # P4 has no update_every: nobody is reminded to post progress
    ticket = open_ticket(session)
    book.start_cycle(session, ticket, NOW)
    book.acknowledged(session, [ticket], NOW)
    ticket.severity = "P4"
    book.recompute_all(session, ticket)
    session.flush()
    stopped = clocks(session, ticket)
    assert (stopped["update"].stop_reason, stopped["update"].next_check_at) == ("not applicable", None)
    assert stopped["time_limit"].stop_reason == "not applicable"
    assert book.running(session, ticket) == []


def test_a_progress_note_restarts_the_cadence_of_its_own_ticket_only(session):
    book = ClockBook(policy())
    other, ticket = open_ticket(session), open_ticket(session)
    for each in (other, ticket):
        book.start_cycle(session, each, NOW)
    book.acknowledged(session, [other], NOW)  # the other ticket's cadence is the older clock
    book.acknowledged(session, [ticket], NOW)
    book.progress_posted(session, ticket, NOW + H)
    assert clocks(session, ticket)["update"].due_at == NOW + 3 * H
    assert clocks(session, other)["update"].due_at == NOW + 2 * H

def test_a_clock_started_while_waiting_on_the_customer_has_no_deadline_until_resumed(session):
    book = ClockBook(policy())
    ticket = open_ticket(session, status=TicketStatus.WAITING)
    session.add(TicketPause(ticket_id=ticket.id, started_at=NOW - H, ended_at=None, reason="asked for logs"))
    session.flush()
    book.start_cycle(session, ticket, NOW)
    response = clocks(session, ticket)["response"]
    assert (response.due_at, response.warn_at, response.next_check_at) == (None, None, None)
    pause = session.scalars(select(TicketPause)).one()
    pause.ended_at = NOW + 2 * H
    ticket.status = TicketStatus.OPEN
    book.recompute_all(session, ticket)
    assert clocks(session, ticket)["response"].due_at == NOW + 6 * H  # the 2 h paused are not counted


def test_a_fresh_clock_ignores_pauses_that_are_over(session):
    book = ClockBook(policy())
    ticket = open_ticket(session)
    session.add(TicketPause(ticket_id=ticket.id, started_at=NOW - 2 * H, ended_at=NOW - H))
    session.flush()
    book.start_cycle(session, ticket, NOW)
    assert clocks(session, ticket)["response"].due_at == NOW + 4 * H


@pytest.mark.parametrize("state, expected", [
    ({}, "warn_at"),
    ({"warned": True}, "due_at"),
    ({"warned": True, "breached": True}, None),
    ({"stopped_at": NOW}, None),
    ({"due_at": None}, None),
    ({"kind": "update"}, "due_at"),
    ({"kind": "update", "breached": True}, None),
    ({"warn_at": None}, "due_at"),
])
def test_the_sweep_looks_at_a_clock_next_at_its_warning_then_its_breach_then_never(state, expected):
    values = dict(kind="response", warned=False, breached=False, stopped_at=None,
                  warn_at=NOW + 3 * H, due_at=NOW + 4 * H)
    values.update(state)
    clock = SlaClock(**values)
    assert ClockBook.next_check(clock) == (getattr(clock, expected) if expected else None)
