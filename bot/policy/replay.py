"""The recorded tickets, as `escalator simulate` replays them: each ticket's facts when it
was opened and what people did to it, with their times, read from the live database's
event log in a read-only transaction (SQLite `query_only`, PostgreSQL `READ ONLY`).

What the desk did by itself (moves at a time limit, a rule of the sweep, the criteria
matrix after facts changed, a lowered severity's hand-down) is left out: the replay
recomputes it under each policy. Notes people wrote in a ticket's threads are replayed
by their authors (they acknowledge, or restart the progress cadence, where the author
is a member of the level the replayed ticket is at; and they end a "quiet" stay).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Iterator

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.forms import TicketFacts
from bot.models import Ticket, TicketEvent, TicketNote
from bot.policy.observe import MOVES, is_automatic
from bot.vocabulary import COMPLEXITIES, IMPACTS, TICKET_FLAGS

PEOPLES_ACTIONS = ("note", "acknowledged", "paused", "resumed", "facts_changed", "resolved", "reopened", *MOVES)
_IMPACT_OF = {label: key for key, label in IMPACTS.items()}
_COMPLEXITY_OF = {label: key for key, label in COMPLEXITIES.items()}
_FLAG_OF = {label: key for key, label in TICKET_FLAGS.items()}
CHUNK = 2000  # tickets read per query: memory stays flat however long the history


@dataclass(frozen=True)
class Action:
    at: datetime
    kind: str  # one of PEOPLES_ACTIONS
    facts: TicketFacts | None = None  # facts_changed: the facts after the change
    to_level: str | None = None  # a move made by hand
    trigger: str = ""
    reason: str = ""
    author: str | None = None  # a note: who wrote it


@dataclass(frozen=True)
class RecordedTicket:
    key: str
    opened_at: datetime
    facts: TicketFacts  # as opened
    customer: str
    actions: tuple[Action, ...] = field(default_factory=tuple)


def read_recorded(engine: Engine, start: date | None = None, end: date | None = None,
                  zone: tzinfo = timezone.utc) -> list[RecordedTicket]:
    """Tickets opened from `start` to `end` (days in `zone`, the policy's timezone; both
    included), oldest first."""
    with engine.connect() as connection:
        _read_only(connection)
        try:
            with Session(bind=connection) as session:
                return list(_tickets(session, start, end, zone))
        finally:
            connection.rollback()


def _read_only(connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
    else:
        connection.execute(text("SET TRANSACTION READ ONLY"))


def _tickets(session: Session, start: date | None, end: date | None, zone: tzinfo) -> Iterator[RecordedTicket]:
    query = select(Ticket).order_by(Ticket.created_at, Ticket.id)
    if start is not None:
        query = query.where(Ticket.created_at >= datetime.combine(start, time(), zone))
    if end is not None:
        query = query.where(Ticket.created_at < datetime.combine(end + timedelta(days=1), time(), zone))
    last = None
    while True:
        page = query.limit(CHUNK)
        if last is not None:
            page = page.where((Ticket.created_at > last.created_at)
                              | ((Ticket.created_at == last.created_at) & (Ticket.id > last.id)))
        tickets = session.scalars(page).all()
        if not tickets:
            return
        events: dict[int, list[TicketEvent]] = {ticket.id: [] for ticket in tickets}
        for event in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(list(events)))
                                     .order_by(TicketEvent.at, TicketEvent.id)):
            events[event.ticket_id].append(event)
        notes: dict[int, list[TicketNote]] = {ticket.id: [] for ticket in tickets}
        for note in session.scalars(select(TicketNote).where(TicketNote.ticket_id.in_(list(notes)))
                                    .order_by(TicketNote.created_at, TicketNote.id)):
            notes[note.ticket_id].append(note)
        for ticket in tickets:
            yield recorded(ticket, events[ticket.id], notes[ticket.id])
        last = tickets[-1]
        session.expunge_all()


def recorded(ticket: Ticket, events: list[TicketEvent], notes: list[TicketNote] = ()) -> RecordedTicket:
    """A ticket's opening facts (its facts now, each recorded change undone, newest
    first) and the actions people took, in order."""
    now = TicketFacts(ticket.severity, ticket.impact, ticket.complexity, ticket.revenue_at_risk,
                      frozenset(flag for flag in TICKET_FLAGS if getattr(ticket, flag)))
    changes = [event for event in events if event.kind == "facts_changed"]
    after: dict[int, TicketFacts] = {}
    facts = now
    for event in reversed(changes):
        after[event.id] = facts
        facts = _apply(facts, event, before=True)
    opened = next((event.at for event in events if event.kind == "opened"), ticket.created_at)
    actions = []
    for event in events:
        if event.kind not in PEOPLES_ACTIONS or (event.kind in MOVES and is_automatic(event)):
            continue
        actions.append(Action(event.at, event.kind, facts=after.get(event.id),
                              to_level=event.to_level if event.kind in MOVES else None,
                              trigger=event.trigger or "", reason=event.reason or ""))
    actions += [Action(note.created_at, "note", author=note.author_id) for note in notes]
    actions.sort(key=lambda action: action.at)  # stable: at one moment, events before notes
    return RecordedTicket(ticket.key, opened, facts, ticket.customer or "", tuple(actions))


def _apply(facts: TicketFacts, event: TicketEvent, *, before: bool) -> TicketFacts:
    """The facts with one recorded change applied (or undone: before=True)."""
    flags = set(facts.flags)
    for label, old, new in (event.detail or {}).get("changes", []):
        value = old if before else new
        if label == "Severity":
            facts = replace(facts, severity=value)
        elif label == "Impact":
            facts = replace(facts, impact=_IMPACT_OF.get(value, facts.impact))
        elif label == "Complexity":
            facts = replace(facts, complexity=_COMPLEXITY_OF.get(value, facts.complexity))
        elif label == "Revenue at risk":
            facts = replace(facts, revenue_at_risk=_money(value))
        elif label in _FLAG_OF:
            (flags.add if value == "yes" else flags.discard)(_FLAG_OF[label])
    return replace(facts, flags=frozenset(flags))


def _money(shown: str) -> Decimal | None:
    """An amount as the event shows it ("12,000", whole units; "none")."""
    try:
        return None if shown == "none" else Decimal(shown.replace(",", ""))
    except InvalidOperation:
        return None
