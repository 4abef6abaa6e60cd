"""Overflow: a level over its capacity of open tickets tells management once per crossing.

A level that sends arrivals past its capacity elsewhere (`overflow_to`, bot.coverage.overflow)
never holds more than its capacity: for it, the crossing is the first arrival sent away, and
it stays crossed until a ticket leaves it (no other change checks it while it is full).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import alerts, outbox
from bot.db import locked_row
from bot.models import LevelState, Ticket, TicketStatus
from bot.policy import Policy
from bot.rendering import render


def active_tickets(level_key: str):
    return select(Ticket).where(Ticket.level == level_key, Ticket.status.in_(TicketStatus.ACTIVE))


def active_count(session: Session, level_key: str, excluding: int | None = None) -> int:
    query = active_tickets(level_key)
    if excluding is not None:
        query = query.where(Ticket.id != excluding)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


class CapacityWatch:
    def __init__(self, policy: Policy):
        self.policy = policy

    def check(self, session: Session, level_key: str) -> bool:
        """Call after a ticket entered or left a level; True when management was told now."""
        level = self.policy.levels.get(level_key)
        if level is None or level.capacity is None:
            return False
        state = locked_level_state(session, level_key)  # concurrent changes count one after another
        count = active_count(session, level_key)
        if count <= level.capacity:
            state.over_capacity = False
            return False
        return self._crossed(session, level_key, state, count)

    def overflowed(self, session: Session, level_key: str, count: int, overflow_name: str) -> bool:
        """An arrival at a full level was sent to its overflow level; True when management was told now."""
        return self._crossed(session, level_key, locked_level_state(session, level_key), count, overflow_name)

    def _crossed(self, session: Session, level_key: str, state: LevelState, count: int,
                 overflow_name: str | None = None) -> bool:
        level = self.policy.level(level_key)
        if state.over_capacity:
            return False
        state.over_capacity, state.crossings = True, state.crossings + 1
        if not alerts.record_once(session, kind="overflow", level=level_key, threshold=str(level.capacity),
                                  cycle=state.crossings):
            return False
        oldest = session.scalars(active_tickets(level_key).order_by(Ticket.created_at).limit(3)).all()
        payload = render("overflow.json.j2", level_name=level.name, count=count, capacity=level.capacity,
                         managers=self.policy.managers, oldest=oldest, overflow_name=overflow_name)
        outbox.post(session, channel=self.policy.level("management").channel, payload=payload,
                    role="overflow", level="management")
        return True


def locked_level_state(session: Session, level_key: str) -> LevelState:
    """The level's state row, locked for this transaction; created on first use."""
    return locked_row(session, LevelState, level_key, level=level_key)  # the model's defaults: not over, no crossings
