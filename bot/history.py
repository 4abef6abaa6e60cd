"""A ticket's history: the append-only event log that every change writes to.

Written with one Core statement per call (an event is in every change, and an
acknowledgment batch appends many), without a flush of its own rows; the events that
begin, acknowledge or end a stay at a level also keep its row (bot.quality.stays), which
is why a caller appending to a ticket that others may change holds its row lock (the
desk's lock, the acknowledgment's FOR UPDATE), as it does for the change itself.
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.models import Ticket, TicketEvent, utcnow
from bot.quality import stays

_INSERT_EVENT = insert(TicketEvent.__table__)


def _row(ticket: Ticket, kind: str, actor_id: str | None, fields: dict, at: datetime) -> dict:
    return {"from_level": None, "to_level": None, "trigger": None, "reason": None, "detail": {}, **fields,
            "ticket_id": ticket.id, "kind": kind, "actor_id": actor_id, "at": at}


def append(session: Session, ticket: Ticket, kind: str, actor_id: str | None, **fields) -> TicketEvent:
    """Append one event; returns a copy of the stored row, not attached to the session."""
    values = _row(ticket, kind, actor_id, fields, utcnow())
    session.flush()  # the ticket row first
    event_id = session.connection().execute(_INSERT_EVENT, values).inserted_primary_key[0]
    stays.follow(session.connection(), [values])
    return TicketEvent(id=event_id, **values)


def append_all(session: Session, events: Sequence[tuple[Ticket, str, str | None, dict]]) -> None:
    """Append several events, (ticket, kind, actor, fields) each, with one statement."""
    if not events:
        return
    at = utcnow()
    session.flush()
    rows = [_row(ticket, kind, actor_id, fields, at) for ticket, kind, actor_id, fields in events]
    session.connection().execute(_INSERT_EVENT, rows)
    stays.follow(session.connection(), rows)
