"""The daily digest per level channel: open, due soon, breached, waiting on customer.

Sent once a day per level at the policy's `digest_at` (local time), on days the level
works; a process that was down at that time sends it when it comes back, once.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import alerts, outbox
from bot.calendar import calendar_for
from bot.db import transaction
from bot.models import ClockKind, SlaClock, Ticket, TicketStatus, utcnow
from bot.policy import Policy
from bot.rendering import render
from bot.sla.explain import ClockExplainer

SHOWN = 8
DUE_SOON = timedelta(hours=4)


class DailyDigest:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, oncall=None):
        self.sessions = sessions
        self.policy = policy
        self.oncall = oncall  # bot.coverage.oncall.OnCallBook: the digest names who is on call
        self.explainer = ClockExplainer(policy)

    def send_due(self, now: datetime | None = None) -> list[str]:
        """Send today's digest to every level whose time has come; returns those levels."""
        now = now or utcnow()
        local = now.astimezone(self.policy.timezone)
        if local.strftime("%H:%M") < self.policy.digest_at:
            return []
        sent = []
        for level_key in self.policy.levels:
            if not self._works_on(level_key, local):
                continue
            with transaction(self.sessions) as session:
                if alerts.record_once(session, kind="digest", level=level_key, threshold=local.date().isoformat()):
                    outbox.post(session, channel=self.policy.level(level_key).channel, role="digest",
                                level=level_key, payload=self.render(session, level_key, now))
                    sent.append(level_key)
        return sent

    def render(self, session: Session, level_key: str, now: datetime) -> dict:
        active = select(Ticket).where(Ticket.level == level_key, Ticket.status.in_(TicketStatus.ACTIVE))
        running = (select(SlaClock).join(Ticket, Ticket.id == SlaClock.ticket_id)
                   .where(Ticket.level == level_key, Ticket.status.in_(TicketStatus.ACTIVE),
                          SlaClock.cycle == Ticket.cycle, SlaClock.stopped_at.is_(None),
                          SlaClock.kind != ClockKind.UPDATE))
        due_soon = running.where(SlaClock.breached.is_(False), SlaClock.due_at <= now + DUE_SOON)
        breached = running.where(SlaClock.breached.is_(True))
        waiting = active.where(Ticket.status == TicketStatus.WAITING)
        sections = [
            ("Open", *self._tickets(session, active.order_by(Ticket.severity, Ticket.created_at))),
            ("Due soon", *self._clocks(session, due_soon.order_by(SlaClock.due_at), now, "due")),
            ("Breached", *self._clocks(session, breached.order_by(SlaClock.due_at), now, "breached")),
            ("Waiting on customer", *self._tickets(session, waiting.order_by(Ticket.created_at))),
        ]
        on_call = self.oncall.now(session, level_key, now) if self.oncall else None
        return render("digest.json.j2", level_name=self.policy.level_name(level_key), level_key=level_key,
                      day=now.astimezone(self.policy.timezone).strftime("%a %d %b"), sections=sections,
                      on_call=on_call if on_call and (on_call.turn or on_call.override) else None)

    @staticmethod
    def _tickets(session: Session, query) -> tuple[int, list]:
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        return total, [(ticket, "") for ticket in session.scalars(query.limit(SHOWN))]

    def _clocks(self, session: Session, query, now: datetime, verb: str) -> tuple[int, list]:
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = []
        for clock in session.scalars(query.limit(SHOWN)):
            ticket = session.get(Ticket, clock.ticket_id)
            what = "response" if clock.kind == ClockKind.RESPONSE else "time limit"
            rows.append((ticket, f"{what} {verb} {self.explainer.when(clock.due_at, now)}"))
        return total, rows

    def _works_on(self, level_key: str, local: datetime) -> bool:
        return calendar_for(self.policy, level_key).works_on(local.date())
