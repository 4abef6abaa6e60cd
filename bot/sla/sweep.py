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

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from bot import alerts, messages, outbox
from bot.db import transaction
from bot.metrics import ALERT_MARK
from bot.desk import EscalationDesk
from bot.durations import format_duration
from bot.logging_setup import log_context
from bot.models import ClockKind, SlackMessage, SlaClock, Ticket, TicketPause, TicketStatus, utcnow
from bot.policy import Policy
from bot.quality import customer_updates
from bot.rendering import render
from bot.sla.auto_deescalation import AutoDeescalation
from bot.sla.deadlines import Pause
from bot.sla.explain import CLOCK_NAMES, ClockExplainer

log = logging.getLogger("escalator.sla")


@dataclass
class SweepResult:
    clocks: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    reminders: int = 0
    deescalations: int = 0
    notices: list[str] = field(default_factory=list)


class SlaSweep:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, desk: EscalationDesk, batch: int = 200):
        self.sessions = sessions
        self.policy = policy
        self.desk = desk
        self.batch = batch
        self.explainer = ClockExplainer(policy)
        self.deescalation = AutoDeescalation(sessions, policy, desk, batch)
        # built once, not at every sweep (in a replay, a sweep runs at each moment a clock is due)
        due_tickets = (select(SlaClock.ticket_id).where(SlaClock.next_check_at <= bindparam("now"))
                       .order_by(SlaClock.next_check_at).limit(batch))
        self._due_tickets = (select(Ticket).where(Ticket.id.in_(due_tickets)).order_by(Ticket.id)
                             .with_for_update(skip_locked=True))

    def run(self, now: datetime | None = None) -> SweepResult:
        result = SweepResult()
        now = now or utcnow()
        while True:
            handled = self._sweep_batch(now, result)
            if handled < self.batch:
                break
        result.deescalations = self.deescalation.run(now)
        return result

    def _sweep_batch(self, now: datetime, result: SweepResult) -> int:
        with transaction(self.sessions) as session:
            tickets = session.scalars(self._due_tickets, {"now": now}).all()
            if not tickets:
                return 0
            batch = _Batch.load(session, [ticket.id for ticket in tickets], now)
            notices = []
            for ticket in tickets:
                for clock in batch.clocks.get(ticket.id, []):
                    notice = self._decide(session, ticket, clock, now, batch)
                    result.clocks += 1
                    if notice is not None:
                        notices.append(notice)
            # a ticket whose time limit passed now leaves the level: its progress reminder is moot
            leaving = {n.ticket.id for n in notices if n.kind == "breach" and n.clock.kind == ClockKind.TIME_LIMIT}
            notices = [n for n in notices if not (n.kind == "update_reminder" and n.ticket.id in leaving)]
            # one statement claims every ledger key of the batch; only the winners are sent
            won = alerts.claim_many(session, [notice.claim for notice in notices])
            with session.no_autoflush:
                for notice in notices:
                    if notice.key in won:
                        with log_context(ticket=notice.ticket.key, ticket_level=notice.clock.level,
                                         event=f"sla.{notice.kind}"):
                            self._send(session, notice, now, result, batch)
            return len(tickets)

    def _decide(self, session: Session, ticket: Ticket, clock: SlaClock, now: datetime,
                batch: _Batch) -> _Notice | None:
        """Which notice a due clock owes now, if any; moves the clock to its next check."""
        notice = None
        if clock.stopped_at is not None or clock.cycle != ticket.cycle or not ticket.is_active:
            clock.next_check_at = None  # a stale clock: the ticket moved on
            return None
        if clock.kind == ClockKind.UPDATE:
            if ticket.status != TicketStatus.WAITING and clock.due_at is not None and now >= clock.due_at:
                notice = _Notice(ticket, clock, "update_reminder", clock.due_at.isoformat(timespec="seconds"))
                # the next reminder comes one cadence after this one, not after each missed one
                clock.started_at = max(clock.due_at, now)
                self.desk.clocks.recompute(session, ticket, clock, pauses=batch.pauses.get(ticket.id, []))
        elif clock.due_at is not None and now >= clock.due_at and not clock.breached:
            clock.breached = clock.warned = True  # a late sweep sends the breach, not a stale warning too
            notice = _Notice(ticket, clock, "breach", clock.kind)
        elif clock.warn_at is not None and now >= clock.warn_at and not clock.warned:
            clock.warned = True
            notice = _Notice(ticket, clock, "warning", f"{clock.kind}:{self.policy.warn_at}")
        clock.next_check_at = self.desk.clocks.next_check(clock)
        return notice

    # --- the notices ------------------------------------------------------------
    def _send(self, session: Session, notice: _Notice, now: datetime, result: SweepResult, batch: _Batch) -> None:
        ticket, clock = notice.ticket, notice.clock
        if notice.kind == "update_reminder":
            self._remind(session, ticket, clock, now, result, batch)
        elif notice.kind == "warning":
            self._thread_alert(session, ticket, clock, now, "warning", batch)
            result.warnings += 1
        else:
            result.breaches += 1
            self._thread_alert(session, ticket, clock, now, "breached", batch)
            if clock.kind == ClockKind.TIME_LIMIT:
                self._escalate_on_time_limit(session, ticket, clock, now, result)
            elif ticket.severity in ("P1", "P2") or ticket.vip:
                self._management_alert(session, ticket, clock, now, batch)

    def _escalate_on_time_limit(self, session, ticket, clock, now, result) -> None:
        target = self.policy.next_level(clock.level)
        if target is None or ticket.severity == "P4":
            return
        limit = format_duration(timedelta(seconds=clock.target_seconds))
        reason = f"{limit} in {self.policy.level_name(clock.level)} without resolution (time limit)"
        self.desk.move(session, ticket, target, "time_limit", reason, actor_id=None, now=now)
        result.escalations += 1
        log.info("%s escalated automatically to %s: %s", ticket.key, target, reason)

    def _remind(self, session, ticket, clock, now, result, batch) -> None:
        owner = ticket.assignee_id or ticket.acknowledged_by
        mentions = [owner] if owner else list(self.policy.members_of(ticket.level))
        customer_due = customer_updates.due_phrase(
            customer_updates.customer_update_due(session, ticket, self.policy), now, self.policy)
        payload = render("update_reminder.json.j2", ticket=ticket, mentions=mentions, customer_due=customer_due,
                         every=format_duration(timedelta(seconds=clock.target_seconds)))
        self.desk.slack.note(session, ticket, batch.briefing(ticket), payload)
        result.reminders += 1

    def _escalates_to(self, ticket: Ticket, clock: SlaClock) -> str | None:
        if clock.kind != ClockKind.TIME_LIMIT or ticket.severity == "P4":
            return None
        target = self.policy.next_level(clock.level)
        return self.policy.level_name(target) if target else None

    def _thread_alert(self, session, ticket, clock, now, alert: str, batch) -> None:
        mentions = [person for hook in self.desk.on_alert for person in hook(
            session, ticket, alert, clock.kind, clock.level, clock.cycle, now, batch.briefing(ticket))]
        payload = self._alert_payload(ticket, clock, now, alert, batch, mentions=mentions)
        self.desk.slack.note(session, ticket, batch.briefing(ticket), payload)

    def _management_alert(self, session, ticket, clock, now, batch) -> None:
        briefing = batch.briefing(ticket)
        management = self.policy.level("management")
        if briefing is not None and briefing.channel == management.channel:
            return  # the thread alert is already in management's channel
        payload = self._alert_payload(ticket, clock, now, "breached", batch, managers=True,
                                      linked=briefing is not None)
        outbox.post(session, channel=management.channel, payload=payload, role="alert", ticket_id=ticket.id,
                    level="management", link_to=briefing)

    def _alert_payload(self, ticket, clock, now, alert: str, batch, managers: bool = False,
                       linked: bool = False, mentions: list[str] = ()) -> dict:
        story = self.explainer.story(ticket, clock, batch.pauses.get(ticket.id, []), now)
        payload = render(
            "sla_alert.json.j2", ticket=ticket, alert=alert, clock_name=CLOCK_NAMES[clock.kind],
            level_name=self.policy.level_name(clock.level), used=story.used,
            target=format_duration(timedelta(seconds=clock.target_seconds)),
            due=self.explainer.when(clock.due_at, now) if clock.due_at else "when resumed",
            explanation=", ".join(story.stretches), summary=managers, escalates_to=self._escalates_to(ticket, clock),
            mentions=list(self.policy.managers) if managers else list(mentions),
            briefing_link=messages.LINK_OPEN if linked else None,
        )
        due = clock.due_at if alert == "breached" else clock.warn_at
        if due is not None:  # for its lateness when delivered (bot.metrics)
            payload[ALERT_MARK] = {"kind": "breach" if alert == "breached" else "warning", "due": due.isoformat()}
        return payload


@dataclass
class _Notice:
    ticket: Ticket
    clock: SlaClock
    kind: str  # warning | breach | update_reminder
    threshold: str

    @property
    def claim(self) -> dict:
        return dict(kind=self.kind, ticket_id=self.ticket.id, level=self.clock.level, threshold=self.threshold,
                    cycle=self.clock.cycle)

    @property
    def key(self) -> str:
        return alerts.alert_key(self.ticket.id, self.kind, self.clock.level, self.threshold, self.clock.cycle)


_TICKET_IDS = bindparam("ticket_ids", expanding=True)
_DUE_CLOCKS = (select(SlaClock).where(SlaClock.ticket_id.in_(_TICKET_IDS), SlaClock.next_check_at <= bindparam("now"))
               .order_by(SlaClock.id))
_BRIEFINGS = (select(SlackMessage).where(SlackMessage.ticket_id.in_(_TICKET_IDS), SlackMessage.role == "briefing")
              .order_by(SlackMessage.id))
_PAUSES = select(TicketPause).where(TicketPause.ticket_id.in_(_TICKET_IDS)).order_by(TicketPause.started_at)


@dataclass
class _Batch:
    """What a batch of due tickets needs, read with one query per kind instead of per ticket."""

    clocks: dict[int, list[SlaClock]]
    briefings: dict[tuple[int, str], SlackMessage]
    pauses: dict[int, list[Pause]]

    @classmethod
    def load(cls, session: Session, ticket_ids: list[int], now: datetime) -> _Batch:
        clocks: dict[int, list[SlaClock]] = {}
        for clock in session.scalars(_DUE_CLOCKS, {"ticket_ids": ticket_ids, "now": now}):
            clocks.setdefault(clock.ticket_id, []).append(clock)
        briefings: dict[tuple[int, str], SlackMessage] = {}
        for message in session.scalars(_BRIEFINGS, {"ticket_ids": ticket_ids}):
            briefings[(message.ticket_id, message.level)] = message  # the latest per level wins
        pauses: dict[int, list[Pause]] = {}
        for pause in session.scalars(_PAUSES, {"ticket_ids": ticket_ids}):
            pauses.setdefault(pause.ticket_id, []).append(Pause(pause.started_at, pause.ended_at, pause.reason))
        return cls(clocks, briefings, pauses)

    def briefing(self, ticket: Ticket) -> SlackMessage | None:
        return self.briefings.get((ticket.id, ticket.level))
