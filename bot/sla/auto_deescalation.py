"""The sweep's pass over the policy's automatic de-escalation rules
(bot.policy.deescalation_rules): each due rule hands its ticket down once per stay,
as a manual de-escalation does (the note with Undo, the reason recorded).

Only active, live tickets at a level some rule starts from are read, a few grouped
queries per batch. A ticket found due is locked (SKIP LOCKED) and judged again on
fresh rows before it moves, and the move claims its ledger key in the same
transaction, so sweeps in several processes, or after a restart, move it once.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import alerts
from bot.db import transaction
from bot.desk import EscalationDesk
from bot.models import Ticket, TicketEvent, TicketNote, TicketPause, TicketStatus
from bot.policy import Policy
from bot.policy.deescalation_rules import Stay, first_due, target_of
from bot.routing import management_reasons

log = logging.getLogger("escalator.sla")

MOVES = ("opened", "escalated", "deescalated", "reopened")
TRIGGER = "deescalation_rule"


class AutoDeescalation:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, desk: EscalationDesk, batch: int = 200):
        self.sessions = sessions
        self.policy = policy
        self.desk = desk
        self.batch = batch
        self.rules = policy.deescalation
        self.levels = sorted({rule.from_level for rule in self.rules})

    def run(self, now: datetime) -> int:
        """Hand down every ticket a rule makes due by `now`; returns how many moved."""
        if not self.rules:
            return 0
        moved, after = 0, 0
        while True:
            with self.sessions() as session:
                tickets = session.scalars(
                    select(Ticket).where(Ticket.status.in_(TicketStatus.ACTIVE), Ticket.imported.is_(False),
                                         Ticket.level.in_(self.levels), Ticket.id > after)
                    .order_by(Ticket.id).limit(self.batch)).all()
                if not tickets:
                    return moved
                after = tickets[-1].id
                stays = stays_of(session, tickets, self.policy)
                due = [(ticket.id, ticket.cycle) for ticket in tickets
                       if first_due(self.rules, stays[ticket.id], now) is not None]
            for ticket_id, cycle in due:
                moved += self._hand_down(ticket_id, cycle, now)

    def _hand_down(self, ticket_id: int, seen_cycle: int, now: datetime) -> int:
        with transaction(self.sessions) as session:
            ticket = session.scalars(select(Ticket).where(Ticket.id == ticket_id)
                                     .with_for_update(skip_locked=True)
                                     .execution_options(populate_existing=True)).first()
            if ticket is None or ticket.cycle != seen_cycle or not ticket.is_active:
                return 0  # another process has it, or it moved since it was read
            stay = stays_of(session, [ticket], self.policy)[ticket.id]
            rule = first_due(self.rules, stay, now)
            if rule is None:
                return 0
            if not alerts.record_once(session, kind="auto_deescalation", ticket_id=ticket.id, level=ticket.level,
                                      threshold=f"rule{rule.number}", cycle=ticket.cycle):
                return 0
            target = target_of(rule, stay)
            reason = rule.describe(self.policy.level_name)
            self.desk.move(session, ticket, target, TRIGGER, reason, actor_id=None, now=now, kind="deescalated",
                           detail={"rule": rule.number, "when": rule.when})
            log.info("%s de-escalated automatically to %s: %s", ticket.key, target, reason)
            return 1


def stays_of(session: Session, tickets: list[Ticket], policy: Policy) -> dict[int, Stay]:
    """Each ticket's current stay, read with one grouped query per fact."""
    ids = [ticket.id for ticket in tickets]
    latest_move = (select(func.max(TicketEvent.id)).where(TicketEvent.ticket_id.in_(ids),
                                                          TicketEvent.kind.in_(MOVES))
                   .group_by(TicketEvent.ticket_id))
    entries = {event.ticket_id: event
               for event in session.scalars(select(TicketEvent).where(TicketEvent.id.in_(latest_move)))}
    acted = _latest(session, TicketEvent.at, TicketEvent.ticket_id, ids, TicketEvent.actor_id.is_not(None))
    noted = _latest(session, TicketNote.created_at, TicketNote.ticket_id, ids)
    facts = _latest(session, TicketEvent.at, TicketEvent.ticket_id, ids, TicketEvent.kind == "facts_changed")
    waiting = _latest(session, TicketPause.started_at, TicketPause.ticket_id, ids, TicketPause.ended_at.is_(None))
    stays = {}
    for ticket in tickets:
        entry = entries.get(ticket.id)
        entered_at = entry.at if entry is not None else ticket.created_at
        activity = max([entered_at] + [at for at in (acted.get(ticket.id), noted.get(ticket.id)) if at])
        stays[ticket.id] = Stay(
            level=ticket.level, entered_at=entered_at,
            came_from=entry.from_level if entry is not None and entry.kind in ("escalated", "deescalated") else None,
            entered_by_undo=entry is not None and entry.trigger == "undo",
            waiting_since=waiting.get(ticket.id) if ticket.status == TicketStatus.WAITING else None,
            last_activity=activity, at_risk=bool(management_reasons(ticket, policy)),
            risk_changed_at=facts.get(ticket.id),
        )
    return stays


def _latest(session: Session, column, ticket_column, ids: list[int], *where) -> dict[int, datetime]:
    rows = session.execute(select(ticket_column, func.max(column)).where(ticket_column.in_(ids), *where)
                           .group_by(ticket_column))
    return {ticket_id: at for ticket_id, at in rows}
