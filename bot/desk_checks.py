"""The checks made before a ticket changes: who may act on it, where it may be escalated
to, and whether it is still as the person acting saw it (not resolved, not moved on).

They change nothing: they read the policy (who belongs to which level, the criteria
matrix, the escalation ladder) and, for a form gone stale, the ticket's events, and
either return or raise NotAllowed / Conflict with a message that says why. The desk's
operations (bot.desk) make them inside their write transactions before they change a
ticket, and so do the desk's other services (bot.assignment, bot.deescalation,
bot.facts, bot.quality.customer_updates, bot.policy.sandbox); handlers make them before
they open a modal or judge a form. EscalationDesk inherits them, so everyone asks the
desk (`desk.authorize(...)`); they live here so that the rules of who may act and when
can be read, unit-tested (tests/test_desk_authorization.py) and mutation-tested apart
from the transactions that change tickets.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import messages
from bot.errors import Conflict, NotAllowed
from bot.matrix import climb, explain
from bot.models import Ticket, TicketEvent, TicketStatus
from bot.policy import Policy
from bot.rendering import escape_mrkdwn


class DeskChecks:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy):
        self.sessions = sessions
        self.policy = policy

    # --- who may act ------------------------------------------------------------
    def authorize(self, ticket: Ticket, user_id: str, action: str, *, requester_may: bool = False) -> None:
        """Members of the ticket's level and managers may act on it."""
        if self.may_act(ticket, user_id):
            return
        if requester_may and ticket.requester_id == user_id:
            return
        people = self.policy.members_of(ticket.level)
        members = ", ".join(f"<@{m}>" for m in people) if people else "its members"
        who = f"{escape_mrkdwn(self.policy.level_name(ticket.level))} ({members})"
        # the note names everyone who can, the agent who opened the ticket too where they may
        who += f", management or <@{ticket.requester_id}> (who opened it)" if requester_may else " or management"
        raise NotAllowed(f"Only {who} can {action} {ticket.key}.")

    def may_act(self, ticket: Ticket, user_id: str) -> bool:
        return self._may_act_at(ticket.level, user_id)

    def _may_act_at(self, level: str, user_id: str) -> bool:
        return self.policy.is_member(level, user_id) or self.policy.is_member("management", user_id)

    # --- where to -----------------------------------------------------------------
    def escalation_choices(self, ticket: Ticket) -> tuple[str | None, str]:
        """The matrix's suggestion for the escalate modal; refused at the top of the ladder."""
        self.require_active(ticket, "escalated")  # before a form is filled in for nothing
        suggestion = self.suggestion(ticket)
        if not self.policy.escalation_targets(ticket.level, suggestion[0]):
            raise Conflict(f"{ticket.key} is with {escape_mrkdwn(self.policy.level_name(ticket.level))}, the top of "
                           "the ladder: there is no level above to escalate to.")
        return suggestion

    def suggestion(self, ticket: Ticket) -> tuple[str | None, str]:
        """The level the criteria matrix suggests above the current one, and why."""
        level, fired = climb(self.policy.criteria, ticket, ticket.level)
        if level == ticket.level:
            return None, ""
        return level, explain(fired, self.policy.level_name)

    # --- when: still open, still where the person saw it ----------------------------
    def require_active(self, ticket: Ticket, verb: str) -> None:
        if ticket.is_active:
            return
        if ticket.imported:  # `escalator import` history: no briefing, nobody worked it here
            source = next((e.detail.get("imported") for e in ticket.events if (e.detail or {}).get("imported")),
                          "a helpdesk")
            state = "resolved" if ticket.status == TicketStatus.RESOLVED else "still open"
            raise Conflict(f"{ticket.key} is history imported from {escape_mrkdwn(source)} ({state} there), so it "
                           f"can't be {verb} here. Nothing changed; `/escalate` opens a new escalation if it "
                           "needs work.")
        resolved = next((e for e in reversed(ticket.events) if e.kind == "resolved"), None)
        by = f" by <@{resolved.actor_id}> ({messages.local_time(resolved.at, self.policy)})" if resolved else ""
        raise Conflict(f"{ticket.key} was resolved{by}, so it can't be {verb}. Nothing changed; "
                       "reopen it from its briefing if it needs more work.")

    def require_current(self, ticket: Ticket, seen_cycle: int | None, verb: str) -> None:
        """require_active and require_unchanged before a form is judged (outside a write)."""
        self.require_active(ticket, verb)  # a ticket from find(): its events are loaded
        with self.sessions() as session:
            self.require_unchanged(session, ticket, seen_cycle)

    def require_unchanged(self, session: Session, ticket: Ticket, seen_cycle: int | None) -> None:
        """A modal opened during one stay of the ticket at a level is stale once the
        ticket has moved or been reopened: the person is told what happened instead."""
        if seen_cycle is None or seen_cycle == ticket.cycle:
            return
        moved = session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(("escalated", "deescalated", "reopened")))
            .order_by(TicketEvent.id.desc())).first()
        what = f": {messages.describe_event(moved, self.policy)}" if moved else ""
        raise Conflict(f"{ticket.key} changed while you had this open{what}. Nothing changed; it is now at "
                       f"{escape_mrkdwn(self.policy.level_name(ticket.level))}, so act on its briefing there.")
