"""Who works a ticket at a level: round robin over the level's members, "Take it", Reassign."""
from __future__ import annotations

from typing import Callable

from sqlalchemy.orm import Session

from bot import history
from bot.briefings import TicketMessages
from bot.capacity import locked_level_state
from bot.db import transaction
from bot.desk import EscalationDesk
from bot.errors import Conflict, InvalidInput, NotAllowed
from bot.ids import BlockId
from bot.models import Ticket
from bot.rendering import Mrkdwn, escape_mrkdwn


class Assignment:
    def __init__(self, desk: EscalationDesk,
                 off_hours_assignee: Callable[[Session, Ticket], str | None] | None = None):
        self.desk = desk
        self.policy = desk.policy
        self.off_hours_assignee = off_hours_assignee  # bot.coverage: the person on call, outside business hours
        desk.on_arrival.append(self.assign_on_arrival)

    def assign_on_arrival(self, session: Session, ticket: Ticket) -> None:
        """Called by the desk whenever a ticket enters a level (opened, moved, reopened)."""
        level = self.policy.levels.get(ticket.level)
        ticket.assignee_id = None
        members = self.policy.members_of(ticket.level)
        if level is None or level.assignment != "round_robin":
            return
        on_call = self.off_hours_assignee(session, ticket) if self.off_hours_assignee else None
        if on_call is not None:  # the turns of the day shift wait for the morning
            ticket.assignee_id = on_call
            self._announce(session, ticket, Mrkdwn(f"Assigned to <@{on_call}> (on call outside business hours)."))
            return
        if not members:
            return
        state = locked_level_state(session, ticket.level)  # two arrivals take turns
        ticket.assignee_id = members[state.next_member % len(members)]
        state.next_member = (state.next_member + 1) % len(members)
        self._announce(session, ticket, Mrkdwn(f"Assigned to <@{ticket.assignee_id}> (round robin)."))

    def take(self, ticket_id: int, user_id: str) -> Ticket:
        with transaction(self.desk.sessions) as session:
            ticket = self.desk.lock(session, ticket_id)
            if not self.policy.is_member(ticket.level, user_id):
                raise NotAllowed(f"Only members of {escape_mrkdwn(self.policy.level_name(ticket.level))} "
                                 f"can take {ticket.key}.")
            if ticket.assignee_id == user_id:
                raise Conflict(f"{ticket.key} is already yours.")
            if ticket.assignee_id:
                raise Conflict(f"<@{ticket.assignee_id}> has {ticket.key} already; use Reassign to change that.")
            self._assign(session, ticket, user_id, user_id, "took it")
            return ticket

    def reassign(self, ticket_id: int, assignee_id: str | None, actor_id: str, *,
                 seen_cycle: int | None = None) -> Ticket:
        with transaction(self.desk.sessions) as session:
            ticket = self.desk.lock(session, ticket_id)
            self.desk.require_active(ticket, "reassigned")
            self.desk.require_unchanged(session, ticket, seen_cycle)
            self.desk.authorize(ticket, actor_id, "reassign")
            if not assignee_id or not self.policy.is_member(ticket.level, assignee_id):
                raise InvalidInput({BlockId.ASSIGNEE: f"Choose a member of {self.policy.level_name(ticket.level)}."})
            self._assign(session, ticket, assignee_id, actor_id, "reassigned")
            return ticket

    def _assign(self, session: Session, ticket: Ticket, assignee_id: str, actor_id: str, how: str) -> None:
        self.desk.require_active(ticket, "assigned")
        were_with = ticket.assignee_id
        ticket.assignee_id = assignee_id
        history.append(session, ticket, "assigned", actor_id, reason=f"{how}: {assignee_id}")
        text = (f"<@{assignee_id}> took {ticket.key}." if how == "took it"
                else f"Assigned to <@{assignee_id}> by <@{actor_id}>.")
        self._announce(session, ticket, Mrkdwn(text))
        self.desk.changed(session, ticket, were_with=(were_with,))

    def _announce(self, session: Session, ticket: Ticket, text: Mrkdwn) -> None:
        slack: TicketMessages = self.desk.slack
        briefing = slack.current_briefing(session, ticket)
        slack.note_text(session, ticket, briefing, text)
        slack.refresh_briefing(session, ticket, briefing)
