"""Overflow: a level with `capacity` and `overflow_to` sends an arrival past its capacity
to the overflow level instead, or (`overflow_to: {members: [...]}`) keeps it and gives
it to the least loaded person of its overflow pool. The reason, "overflow (Tier 2 at
12/12)", is recorded in the ticket's history and shown on its briefing. Only the
arrival is redirected: escalating on from there follows the normal path (the overflow
level's next rung is that of the level it took the ticket from, see Policy.next_level).
Management is told once per crossing (bot.capacity.CapacityWatch).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import history
from bot.briefings import TicketMessages
from bot.capacity import CapacityWatch, active_count
from bot.models import Ticket, TicketStatus
from bot.policy import Policy
from bot.rendering import Mrkdwn, escape_mrkdwn

_POOL_ARRIVALS = "overflow_pool_arrivals"  # session.info: ticket id → reason, for the assignment after the briefing


class OverflowRouter:
    def __init__(self, policy: Policy, capacity: CapacityWatch, slack: TicketMessages):
        self.policy = policy
        self.capacity = capacity
        self.slack = slack

    def route(self, session: Session, ticket: Ticket, level_key: str) -> tuple[str, str | None]:
        """Where an arrival at `level_key` goes, and why when it overflows."""
        level = self.policy.levels.get(level_key)
        if level is None or level.capacity is None or not (level.overflow_to or level.overflow_pool):
            return level_key, None
        load = active_count(session, level_key, excluding=ticket.id)
        if load < level.capacity:
            return level_key, None
        reason = f"overflow ({level.name} at {load}/{level.capacity})"
        if level.overflow_pool:
            session.info.setdefault(_POOL_ARRIVALS, {})[ticket.id] = reason
            return level_key, reason
        self.capacity.overflowed(session, level_key, load, self.policy.level_name(level.overflow_to))
        return level.overflow_to, reason

    def record(self, session: Session, ticket: Ticket, from_level: str, reason: str | None) -> None:
        if reason is not None:
            history.append(session, ticket, "overflowed", None, from_level=from_level, to_level=ticket.level,
                           reason=reason)

    def assign_from_pool(self, session: Session, ticket: Ticket) -> None:
        """desk.on_arrival (after round robin): an arrival kept by overflow goes to the pool."""
        reason = session.info.get(_POOL_ARRIVALS, {}).pop(ticket.id, None)
        level = self.policy.levels.get(ticket.level)
        if reason is None or level is None:
            return
        pool = self.policy.expand(level.overflow_pool)
        if not pool:
            return
        loads = dict(session.execute(
            select(Ticket.assignee_id, func.count()).where(Ticket.assignee_id.in_(pool),
                                                           Ticket.status.in_(TicketStatus.ACTIVE),
                                                           Ticket.id != ticket.id)
            .group_by(Ticket.assignee_id)).all())
        ticket.assignee_id = min(pool, key=lambda person: (loads.get(person, 0), pool.index(person)))
        briefing = self.slack.current_briefing(session, ticket)
        self.slack.note_text(session, ticket, briefing,
                             Mrkdwn(f"Assigned to <@{ticket.assignee_id}> from the overflow pool ({escape_mrkdwn(reason)})."))
        self.slack.refresh_briefing(session, ticket, briefing)
