"""The SLA sweep: warnings, breaches, automatic escalation at a time limit, and
progress-update reminders, each exactly once.

It works from state, not timers: it reads the clocks whose indexed next_check_at
has come, so a restart, a misfired or coalesced run, or a clock jump catches up on
everything that came due, and its cost grows with what is due, not with every open
ticket. Ticket rows are locked (SKIP LOCKED, in id order) before their clocks, the
same order the desk uses, so sweeps in several processes share the work without
deadlocks; the ledger's unique keys make each notice happen once even so.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import alerts, messages, outbox
from bot.db import transaction
from bot.desk import EscalationDesk
from bot.durations import format_duration
from bot.models import ClockKind, SlaClock, Ticket, TicketStatus, utcnow
from bot.policy import Policy
from bot.rendering import render
from bot.sla.explain import CLOCK_NAMES, ClockExplainer

log = logging.getLogger("escalator.sla")


@dataclass
class SweepResult:
    clocks: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    reminders: int = 0
    notices: list[str] = field(default_factory=list)


class SlaSweep:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, desk: EscalationDesk, batch: int = 200):
        self.sessions = sessions
        self.policy = policy
        self.desk = desk
        self.batch = batch
        self.explainer = ClockExplainer(policy)

    def run(self, now: datetime | None = None) -> SweepResult:
        result = SweepResult()
        while True:
            handled = self._sweep_batch(now or utcnow(), result)
            if handled < self.batch:
                return result

    def _sweep_batch(self, now: datetime, result: SweepResult) -> int:
        with transaction(self.sessions) as session:
            due_tickets = (select(SlaClock.ticket_id).where(SlaClock.next_check_at <= now)
                           .order_by(SlaClock.next_check_at).limit(self.batch))
            tickets = session.scalars(
                select(Ticket).where(Ticket.id.in_(due_tickets)).order_by(Ticket.id)
                .with_for_update(skip_locked=True)).all()
            for ticket in tickets:
                clocks = session.scalars(
                    select(SlaClock).where(SlaClock.ticket_id == ticket.id, SlaClock.next_check_at <= now)
                    .order_by(SlaClock.id)).all()
                for clock in clocks:
                    self._evaluate(session, ticket, clock, now, result)
                    result.clocks += 1
            return len(tickets)

    def _evaluate(self, session: Session, ticket: Ticket, clock: SlaClock, now: datetime,
                  result: SweepResult) -> None:
        if clock.stopped_at is not None or clock.cycle != ticket.cycle or not ticket.is_active:
            clock.next_check_at = None  # a stale clock: the ticket moved on
            return
        if clock.kind == ClockKind.UPDATE:
            self._remind(session, ticket, clock, now, result)
        elif clock.due_at is not None and now >= clock.due_at and not clock.breached:
            clock.breached = clock.warned = True  # a late sweep sends the breach, not a stale warning too
            self._breach(session, ticket, clock, now, result)
        elif clock.warn_at is not None and now >= clock.warn_at and not clock.warned:
            clock.warned = True
            self._warn(session, ticket, clock, now, result)
        clock.next_check_at = self.desk.clocks.next_check(clock)

    # --- the notices ------------------------------------------------------------
    def _warn(self, session, ticket, clock, now, result) -> None:
        if alerts.record_once(session, kind="warning", ticket_id=ticket.id, level=clock.level,
                              threshold=f"{clock.kind}:{self.policy.warn_at}", cycle=clock.cycle):
            self._thread_alert(session, ticket, clock, now, "warning")
            result.warnings += 1

    def _breach(self, session, ticket, clock, now, result) -> None:
        if not alerts.record_once(session, kind="breach", ticket_id=ticket.id, level=clock.level,
                                  threshold=clock.kind, cycle=clock.cycle):
            return
        result.breaches += 1
        self._thread_alert(session, ticket, clock, now, "breached")
        if clock.kind == ClockKind.TIME_LIMIT:
            self._escalate_on_time_limit(session, ticket, clock, now, result)
        elif ticket.severity in ("P1", "P2") or ticket.vip:
            self._management_alert(session, ticket, clock, now)

    def _escalate_on_time_limit(self, session, ticket, clock, now, result) -> None:
        target = self.policy.next_level(clock.level)
        if target is None or ticket.severity == "P4":
            return
        limit = format_duration(timedelta(seconds=clock.target_seconds))
        reason = f"{limit} in {self.policy.level_name(clock.level)} without resolution (time limit)"
        self.desk.move(session, ticket, target, "time_limit", reason, actor_id=None, now=now)
        result.escalations += 1
        log.info("%s escalated automatically to %s: %s", ticket.key, target, reason)

    def _remind(self, session, ticket, clock, now, result) -> None:
        if ticket.status == TicketStatus.WAITING or clock.due_at is None or now < clock.due_at:
            return
        if alerts.record_once(session, kind="update_reminder", ticket_id=ticket.id, level=clock.level,
                              threshold=clock.due_at.isoformat(timespec="seconds"), cycle=clock.cycle):
            briefing = self.desk.slack.current_briefing(session, ticket)
            level = self.policy.levels.get(ticket.level)
            mentions = [ticket.acknowledged_by] if ticket.acknowledged_by else list(level.members if level else ())
            payload = render("update_reminder.json.j2", ticket=ticket, mentions=mentions,
                             every=format_duration(timedelta(seconds=clock.target_seconds)))
            self.desk.slack.note(session, ticket, briefing, payload)
            result.reminders += 1
        # the next reminder comes one cadence after this one, not after each missed one
        clock.started_at = max(clock.due_at, now)
        self.desk.clocks.recompute(session, ticket, clock)

    def _escalates_to(self, ticket: Ticket, clock: SlaClock) -> str | None:
        if clock.kind != ClockKind.TIME_LIMIT or ticket.severity == "P4":
            return None
        target = self.policy.next_level(clock.level)
        return self.policy.level_name(target) if target else None

    def _thread_alert(self, session, ticket, clock, now, alert: str) -> None:
        briefing = self.desk.slack.current_briefing(session, ticket)
        self.desk.slack.note(session, ticket, briefing, self._alert_payload(session, ticket, clock, now, alert))

    def _management_alert(self, session, ticket, clock, now) -> None:
        briefing = self.desk.slack.current_briefing(session, ticket)
        management = self.policy.level("management")
        if briefing is not None and briefing.channel == management.channel:
            return  # the thread alert is already in management's channel
        payload = self._alert_payload(session, ticket, clock, now, "breached", managers=True,
                                      linked=briefing is not None)
        outbox.post(session, channel=management.channel, payload=payload, role="alert", ticket_id=ticket.id,
                    level="management", link_to=briefing)

    def _alert_payload(self, session, ticket, clock, now, alert: str, managers: bool = False,
                       linked: bool = False) -> dict:
        story = self.explainer.story(ticket, clock, self.desk.clocks.pauses(session, ticket), now)
        return render(
            "sla_alert.json.j2", ticket=ticket, alert=alert, clock_name=CLOCK_NAMES[clock.kind],
            level_name=self.policy.level_name(clock.level), used=story.used,
            target=format_duration(timedelta(seconds=clock.target_seconds)),
            due=self.explainer.when(clock.due_at, now) if clock.due_at else "when resumed",
            explanation=", ".join(story.stretches), summary=managers, escalates_to=self._escalates_to(ticket, clock),
            mentions=list(self.policy.managers) if managers else [],
            briefing_link=messages.LINK_OPEN if linked else None,
        )
