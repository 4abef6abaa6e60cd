"""Weekend and holiday coverage: outside a level's business hours (and for a P1 at
any hour) a new briefing, a warning and a breach alert mention the level's on-call
person and DM them, once each (ledger key + outbox row in the same transaction).
With no one on call, the thread says so and management is told, once per ticket.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlalchemy.orm import Session

from bot import alerts, outbox
from bot.briefings import TicketMessages
from bot.calendar import calendar_for
from bot.coverage.oncall import OnCallBook
from bot.messages import LINK_OPEN, thread_note
from bot.models import Ticket, utcnow
from bot.outbox import MessageRef
from bot.policy import Policy
from bot.rendering import Mrkdwn, escape_mrkdwn, render

WHAT = {"briefing": "came in", "warning": "is close to breaching its SLA", "breached": "breached its SLA"}


class OffHoursPager:
    def __init__(self, policy: Policy, oncall: OnCallBook, slack: TicketMessages,
                 clock: Callable[[], datetime] = utcnow):
        self.policy = policy
        self.oncall = oncall
        self.slack = slack
        self.clock = clock

    def off_hours(self, level_key: str, at: datetime) -> bool:
        return not calendar_for(self.policy, level_key).is_open(at)

    def why_page(self, ticket: Ticket, level_key: str, at: datetime) -> str | None:
        if self.off_hours(level_key, at):
            return "outside business hours"
        return "a P1 pages at any hour" if ticket.severity == "P1" else None

    def off_hours_assignee(self, session: Session, ticket: Ticket) -> str | None:
        """Round robin's pick for an arrival outside business hours: the person on call."""
        at = self.clock()
        if not self.off_hours(ticket.level, at):
            return None
        return self.oncall.person(session, ticket.level, at)

    # --- a new briefing (desk.on_arrival) ----------------------------------------
    def on_arrival(self, session: Session, ticket: Ticket) -> None:
        at = self.clock()
        why = self.why_page(ticket, ticket.level, at)
        if why is None:
            return
        if not alerts.record_once(session, kind="oncall_page", ticket_id=ticket.id, level=ticket.level,
                                  threshold="briefing", cycle=ticket.cycle):
            return
        briefing = self.slack.current_briefing(session, ticket)
        person = self.oncall.person(session, ticket.level, at)
        level_name = escape_mrkdwn(self.policy.level_name(ticket.level))
        if person is not None:
            self.slack.note(session, ticket, briefing, thread_note(Mrkdwn(
                f":pager: <@{person}>, you're on call for {level_name} ({why}): {ticket.key} needs you. "
                "I've sent you a DM too.")))
            self._dm(session, ticket, person, "briefing", why, briefing)
        else:
            self._no_one(session, ticket, briefing, at)

    # --- a warning or breach (the SLA sweep asks before writing its alert) -------------
    def alert_mentions(self, session: Session, ticket: Ticket, alert: str, clock_kind: str, level_key: str,
                       cycle: int, at: datetime, briefing: MessageRef | None) -> list[str]:
        """Whom the thread alert should mention; DMs them (or says no one is on call) once."""
        why = self.why_page(ticket, level_key, at)
        if why is None or not alerts.record_once(session, kind="oncall_page", ticket_id=ticket.id, level=level_key,
                                                 threshold=f"{alert}:{clock_kind}", cycle=cycle):
            return []
        person = self.oncall.person(session, level_key, at)
        if person is None:
            self._no_one(session, ticket, briefing, at)
            return []
        self._dm(session, ticket, person, alert, why, briefing)
        return [person]

    def _dm(self, session: Session, ticket: Ticket, person: str, what: str, why: str,
            briefing: MessageRef | None) -> None:
        payload = render("oncall_page.json.j2", ticket=ticket, what=WHAT[what], why=why,
                         level_name=self.policy.level_name(ticket.level),
                         briefing_link=LINK_OPEN if briefing is not None else None)
        outbox.post(session, channel=person, payload=payload, role="oncall_dm", ticket_id=ticket.id,
                    level=ticket.level, link_to=briefing)

    def _no_one(self, session: Session, ticket: Ticket, briefing: MessageRef | None, at: datetime) -> None:
        if not self.off_hours(ticket.level, at):
            return  # a P1 in business hours: the level's channel is staffed
        level_name = self.policy.level_name(ticket.level)
        if briefing is None:
            return
        told = self.slack.ping(session, ticket, briefing, {  # once per ticket (the ping's ledger key)
            "no_oncall": f"no one is on call at {level_name} outside business hours"})
        self.slack.note(session, ticket, briefing, thread_note(Mrkdwn(
            f":warning: No one is on call for {escape_mrkdwn(level_name)} outside business hours"
            + ("; management has been told." if told else "; management was told earlier."))))
