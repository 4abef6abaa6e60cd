"""`/escalate why ESC-n`: the ticket's clocks in the current level, explained."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.desk import EscalationDesk
from bot.models import SlaClock, TicketStatus, utcnow
from bot.policy import BusinessHours, Policy
from bot.rendering import render
from bot.sla.explain import ClockExplainer


def describe_hours(hours: BusinessHours) -> str:
    if hours.always_open:
        return "24x7"
    days = ", ".join(day.capitalize() for day in hours.days or ())
    holidays = f", closed on {hours.holidays} holidays" if hours.holidays else ""
    return f"{days} {hours.start}–{hours.end}{holidays}"


class WhyReport:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, desk: EscalationDesk):
        self.sessions = sessions
        self.policy = policy
        self.desk = desk
        self.explainer = ClockExplainer(policy)

    def reply(self, key: str) -> dict:
        ticket = self.desk.find(key)
        now = utcnow()
        with self.sessions() as session:
            clocks = session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id,
                                                            SlaClock.cycle == ticket.cycle)
                                     .order_by(SlaClock.id)).all()
            pauses = self.desk.clocks.pauses(session, ticket)
        stories = [self.explainer.story(ticket, clock, pauses, now) for clock in clocks]
        return render("replies/why.json.j2", ticket=ticket, level_name=self.policy.level_name(ticket.level),
                      stories=stories, waiting=ticket.status == TicketStatus.WAITING,
                      hours=describe_hours(self.policy.hours_for(ticket.level)),
                      timezone=self.policy.timezone.key)
