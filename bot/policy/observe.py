"""What the desk did, read back from a sandbox's database: the ledger (warnings, breaches,
pings), the event log (moves between levels) and the outbox (breach alerts that told
management). `policy test` compares it with a case's expectations; `simulate` counts it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Alert, OutboxMessage, SlackMessage, TicketEvent
from bot.sla.explain import CLOCK_NAMES

MOVES = ("escalated", "deescalated")
_ORDER = {"warning": 0, "breach": 1, "escalated": 2, "deescalated": 2}


@dataclass(frozen=True)
class Happening:
    """One thing the clocks or the rules did: a warning or breach of a clock (what: the
    clock's kind), or a move (what: the level it went to)."""

    at: datetime
    kind: str  # warning | breach | escalated | deescalated
    what: str
    tells: str | None = None  # a breach alert that also went to management
    automatic: bool = True  # False: a move a person made (a replayed action)
    reason: str = ""

    @property
    def sort_key(self) -> tuple:
        return self.at, _ORDER[self.kind], self.what


def ping_reason(threshold: str) -> str:
    """A ping's ledger threshold as a reason code: "escalated:17" names its event, which
    is the same escalation under any policy, so it reads "escalated"."""
    return threshold.split(":", 1)[0]


def timelines(session: Session, ticket_ids: list[int] | None = None) -> dict[int, list[Happening]]:
    """Each ticket's warnings, breaches and moves, in time order."""
    found: dict[int, list[Happening]] = defaultdict(list)
    told = _management_alerts(session, ticket_ids)
    alerts = select(Alert).where(Alert.kind.in_(("warning", "breach")))
    for alert in session.scalars(_only(alerts, Alert.ticket_id, ticket_ids)):
        clock = alert.threshold.split(":", 1)[0]
        tells = "management" if alert.kind == "breach" and (alert.ticket_id, alert.created_at, clock) in told else None
        found[alert.ticket_id].append(Happening(alert.created_at, alert.kind, clock, tells))
    moves = select(TicketEvent).where(TicketEvent.kind.in_(MOVES))
    for event in session.scalars(_only(moves, TicketEvent.ticket_id, ticket_ids)):
        found[event.ticket_id].append(Happening(event.at, event.kind, event.to_level or "",
                                                automatic=is_automatic(event), reason=event.reason or ""))
    return {ticket_id: sorted(happened, key=lambda h: h.sort_key) for ticket_id, happened in found.items()}


def pings(session: Session, ticket_ids: list[int] | None = None) -> dict[int, dict[str, list[str]]]:
    """Each ticket's pings: audience (management, executive) → reason codes, in order."""
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    query = select(Alert).where(Alert.kind == "ping").order_by(Alert.id)
    for alert in session.scalars(_only(query, Alert.ticket_id, ticket_ids)):
        found[alert.ticket_id][alert.level or ""].append(ping_reason(alert.threshold))
    return {ticket_id: dict(by_audience) for ticket_id, by_audience in found.items()}


def is_automatic(event: TicketEvent) -> bool:
    """A move the desk made by itself: no person behind it (time limit, a rule of the
    sweep), or one that followed from changed facts (the criteria matrix, a lowered
    severity), which any policy recomputes. An imported ticket's escalation (no actor
    recorded) was a person's in the helpdesk it came from: it stays."""
    detail = event.detail or {}
    if event.trigger == "imported":
        return False
    return event.actor_id is None or "rules" in detail or event.trigger == "severity_lowered"


def _management_alerts(session: Session, ticket_ids: list[int] | None) -> set[tuple[int, datetime, str]]:
    """(ticket, moment, clock kind) of each breach alert posted to management's channel;
    the clock is the one its text names (bot.sla.sweep renders CLOCK_NAMES into it)."""
    query = (select(SlackMessage.ticket_id, SlackMessage.created_at, OutboxMessage.payload)
             .join(OutboxMessage, OutboxMessage.message_id == SlackMessage.id)
             .where(SlackMessage.role == "alert", SlackMessage.level == "management"))
    told = set()
    for ticket_id, at, payload in session.execute(_only(query, SlackMessage.ticket_id, ticket_ids)):
        text = str((payload or {}).get("text", ""))
        told |= {(ticket_id, at, kind) for kind, name in CLOCK_NAMES.items() if f" {name} SLA " in text}
    return told


def _only(query, column, ticket_ids: list[int] | None):
    return query if ticket_ids is None else query.where(column.in_(ticket_ids))


def local(when: datetime | None, timezone) -> str | None:
    """A moment as a case writes it: local time of the policy, to the minute (or second)."""
    if when is None:
        return None
    moment = when.astimezone(timezone)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if moment.second else "%Y-%m-%d %H:%M")
