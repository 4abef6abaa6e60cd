"""Overflow: a level over its capacity of open tickets tells management once per crossing."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import alerts, outbox
from bot.models import LevelState, Ticket, TicketStatus
from bot.policy import Policy
from bot.rendering import render


class CapacityWatch:
    def __init__(self, policy: Policy):
        self.policy = policy

    def check(self, session: Session, level_key: str) -> bool:
        """Call after a ticket entered or left a level; True when management was told now."""
        level = self.policy.levels.get(level_key)
        if level is None or level.capacity is None:
            return False
        state = locked_level_state(session, level_key)  # concurrent changes count one after another
        active = select(Ticket).where(Ticket.level == level_key, Ticket.status.in_(TicketStatus.ACTIVE))
        count = session.scalar(select(func.count()).select_from(active.subquery()))
        if count <= level.capacity:
            state.over_capacity = False
            return False
        if state.over_capacity:
            return False
        state.over_capacity, state.crossings = True, state.crossings + 1
        if not alerts.record_once(session, kind="overflow", level=level_key, threshold=str(level.capacity),
                                  cycle=state.crossings):
            return False
        oldest = session.scalars(active.order_by(Ticket.created_at).limit(3)).all()
        payload = render("overflow.json.j2", level_name=level.name, count=count, capacity=level.capacity,
                         managers=self.policy.managers, oldest=oldest)
        outbox.post(session, channel=self.policy.level("management").channel, payload=payload,
                    role="overflow", level="management")
        return True


def locked_level_state(session: Session, level_key: str) -> LevelState:
    """The level's state row, locked for this transaction; created on first use."""
    state = session.get(LevelState, level_key, with_for_update=True, populate_existing=True)
    if state is not None:
        return state
    try:
        with session.begin_nested():
            session.add(LevelState(level=level_key))  # the model's defaults: not over, no crossings
    except IntegrityError:  # another process created it first
        pass
    return session.get(LevelState, level_key, with_for_update=True, populate_existing=True)
