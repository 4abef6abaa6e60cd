"""De-escalation: by hand, when engineering has mitigated, when severity drops below the
level's entry; each one undoable from its message for the policy's undo window."""
from __future__ import annotations

from sqlalchemy import select

from bot.db import transaction
from bot.desk import EscalationDesk
from bot.errors import Conflict, NotAllowed
from bot.models import Ticket, TicketEvent, utcnow
from bot.rendering import escape_mrkdwn

MOVES = ("escalated", "deescalated")


class Deescalation:
    def __init__(self, desk: EscalationDesk):
        self.desk = desk
        self.policy = desk.policy

    def deescalate(self, ticket_id: int, to_level: str, reason: str, actor_id: str,
                   *, seen_cycle: int | None = None) -> Ticket:
        with transaction(self.desk.sessions) as session:
            ticket = self.desk.lock(session, ticket_id)
            self.desk.require_active(ticket, "de-escalated")
            self.desk.require_unchanged(session, ticket, seen_cycle)
            self.desk.authorize(ticket, actor_id, "de-escalate")
            if to_level not in self.policy.deescalation_targets(ticket.level):
                raise Conflict(f"{ticket.key} is at {escape_mrkdwn(self.policy.level_name(ticket.level))}; "
                               f"it can't be de-escalated to {escape_mrkdwn(self.policy.level_name(to_level))}.")
            self.desk.move(session, ticket, to_level, "de-escalation", reason, actor_id, kind="deescalated")
            return ticket

    def mitigated(self, ticket_id: int, actor_id: str) -> Ticket:
        """Engineering has mitigated: back to the follow-up level for the customer."""
        with transaction(self.desk.sessions) as session:
            ticket = self.desk.lock(session, ticket_id)
            self.desk.require_active(ticket, "de-escalated")
            self.desk.authorize(ticket, actor_id, "mark mitigated")
            target = self.policy.mitigated_to
            if target not in self.policy.deescalation_targets(ticket.level):
                raise Conflict(f"{ticket.key} is already at {escape_mrkdwn(self.policy.level_name(ticket.level))}.")
            reason = (f"mitigated by {self.policy.level_name(ticket.level)}; back to "
                      f"{self.policy.level_name(target)} for the customer follow-up")
            self.desk.move(session, ticket, target, "mitigated", reason, actor_id, kind="deescalated")
            return ticket

    def undo(self, ticket_id: int, event_id: int | None, actor_id: str) -> Ticket:
        with transaction(self.desk.sessions) as session:
            ticket = self.desk.lock(session, ticket_id)
            self.desk.require_active(ticket, "changed")
            event = session.get(TicketEvent, event_id) if event_id else None
            if event is None or event.ticket_id != ticket.id or event.kind != "deescalated":
                raise Conflict("There is no de-escalation to undo here.")
            latest = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                               TicketEvent.kind.in_(MOVES))
                                     .order_by(TicketEvent.id.desc())).first()
            if latest.id != event.id or ticket.level != event.to_level:
                raise Conflict(f"{ticket.key} has moved since; this de-escalation can't be undone.")
            if utcnow() - event.at > self.policy.undo_window:
                raise Conflict(f"The undo window ({int(self.policy.undo_window.total_seconds() // 60)} min) "
                               f"has passed; escalate {ticket.key} instead.")
            allowed = (actor_id == event.actor_id or self.desk.may_act(ticket, actor_id)
                       or self.policy.is_member(event.from_level or "", actor_id))
            if not allowed:
                raise NotAllowed(f"Only {escape_mrkdwn(self.policy.level_name(event.from_level or ''))}, "
                                 f"{escape_mrkdwn(self.policy.level_name(ticket.level))} or management "
                                 f"can undo this de-escalation.")
            self.desk.move(session, ticket, event.from_level, "undo",
                           f"undid the de-escalation to {self.policy.level_name(event.to_level or '')}", actor_id)
            return ticket
