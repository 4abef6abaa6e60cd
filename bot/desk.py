"""The escalation desk: opening, acknowledging, escalating and resolving tickets.

Each operation is one transaction that changes the ticket, appends its event and
records every Slack message it owes in the outbox, so they happen together or
not at all. Rows are locked (`SELECT … FOR UPDATE` on PostgreSQL, the write lock
on SQLite) so two people acting at once get one consistent outcome.

The checks of who may act and when (authorize, may_act, require_active,
require_unchanged, the escalation choices) are bot.desk_checks: the desk inherits
them and makes them on the locked row before it changes anything.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Callable, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import history, messages
from bot.acknowledgment import Acknowledgments, Click
from bot.briefings import TicketMessages
from bot.capacity import CapacityWatch
from bot.customer import CustomerUpdates
from bot.db import transaction
from bot.desk_checks import DeskChecks
from bot.errors import Conflict, TicketNotFound
from bot.forms import EscalationRequest, NewTicket, Resolution
from bot.matrix import climb, explain
from bot.models import SlackMessage, Ticket, TicketEvent, TicketNote, TicketPause, TicketStatus, utcnow
from bot.outbox import MessageRef
from bot.policy import Policy
from bot.rendering import Mrkdwn, escape_mrkdwn
from bot.routing import executive_reasons, management_reasons
from bot.sla.clocks import ClockBook

_KEY = re.compile(r"^ESC-(\d{1,9})$", re.IGNORECASE)

def parse_key(text: str) -> int | None:
    match = _KEY.match(text.strip())
    return int(match.group(1)) if match else None


class EscalationDesk(DeskChecks):
    def __init__(self, sessions: sessionmaker[Session], policy: Policy):
        super().__init__(sessions, policy)
        self.slack = TicketMessages(policy)
        self.clocks = ClockBook(policy)
        self.capacity = CapacityWatch(policy)
        self.customer = CustomerUpdates(sessions, policy)
        # called with (session, ticket, level) before a ticket enters a level; returns the level it goes to
        # instead and why, or (level, None) (bot.coverage.overflow hooks in here)
        self.route_arrival: Callable[[Session, Ticket, str], tuple[str, str | None]] | None = None
        # called with (session, ticket, from_level, reason) once the ticket has been routed elsewhere
        self.record_route: Callable[[Session, Ticket, str, str | None], None] | None = None
        # called with (session, ticket) whenever a ticket enters a level (assignment hooks in here)
        self.on_arrival: list[Callable[[Session, Ticket], None]] = []
        # called with (session, tickets, were_with) after any change people see (the App Home refresh
        # hooks in); were_with: people a ticket concerned before the change (who acknowledged it at the
        # level it left, its former assignee)
        self.on_change: list[Callable[[Session, Sequence[Ticket], Iterable[str | None]], None]] = []
        # called with (session, ticket) once a ticket is resolved (the customer's confirmation)
        self.on_resolved: list[Callable[[Session, Ticket], None]] = []
        # called by the SLA sweep before it writes a warning or breach alert in a ticket's thread, with
        # (session, ticket, alert, clock kind, level, cycle, now, briefing); returns people it should mention
        self.on_alert: list[Callable[..., list[str]]] = []
        self.acknowledgments = Acknowledgments(self)

    # --- reading ------------------------------------------------------------
    def find(self, key: str) -> Ticket:
        ticket_id = parse_key(key)
        with self.sessions() as session:
            ticket = session.get(Ticket, ticket_id) if ticket_id else None
            if ticket is None:
                raise TicketNotFound(escape_mrkdwn(key.strip()[:40]))
            ticket.events  # load the history while the session is open
            return ticket

    def briefing_permalink(self, ticket: Ticket) -> str | None:
        with self.sessions() as session:
            briefing = self.slack.current_briefing(session, ticket)
            return briefing.permalink if briefing else None

    # --- opening --------------------------------------------------------------
    def open_ticket(self, form: NewTicket, *, requester_id: str, source_channel: str | None = None,
                    source_permalink: str | None = None) -> Ticket:
        entry = self.policy.severities[form.severity].entry
        with transaction(self.sessions) as session:
            now = utcnow()
            ticket = Ticket(
                summary=form.summary, customer=form.customer, severity=form.severity,
                impact=form.impact, complexity=form.complexity, steps_taken=form.steps_taken,
                revenue_at_risk=form.revenue_at_risk, level=entry, status=TicketStatus.OPEN, cycle=1,
                requester_id=requester_id, source_channel=source_channel, created_at=now,
                source_permalink=source_permalink, **{flag: True for flag in form.flags},
            )
            ticket.level, fired = climb(self.policy.criteria, ticket, entry)
            session.add(ticket)
            session.flush()
            meant_for = ticket.level
            ticket.level, overflow = self._route(session, ticket, meant_for)
            routed = f"criteria matrix: {explain(fired, self.policy.level_name)}" if fired else None
            history.append(session, ticket, "opened", requester_id, to_level=ticket.level, reason=routed,
                           detail={"entry": entry, "rules": [f.label for f in fired]})
            self._record_route(session, ticket, meant_for, overflow)
            self.clocks.start_cycle(session, ticket, now)  # SLA clocks start when the ticket is created
            briefing = self.slack.post_briefing(session, ticket)
            self._tell_customer(session, ticket)
            self.tell_leaders(session, ticket, briefing)
            self._arrived(session, ticket)
            self.capacity.check(session, ticket.level)
            self.changed(session, ticket)
            return ticket

    # --- acknowledging and working ----------------------------------------------
    def acknowledge(self, ticket_id: int, user_id: str, *, at_level: str | None = None) -> Ticket:
        """The usual click (a member, on the current level's briefing, not yet acknowledged)
        goes in with the clicks of the same moment (bot.acknowledgment): the busiest write
        there is stays short. Anything else takes the checked path, which says what stood
        in the way."""
        if at_level and self._may_act_at(at_level, user_id):
            claimed = self.acknowledgments.claim(Click(ticket_id, at_level, user_id))
            if claimed is not None:
                return claimed
        with transaction(self.sessions) as session:
            ticket = self._lock(session, ticket_id)
            self.require_active(ticket, "acknowledged")
            if at_level and at_level != ticket.level:
                raise Conflict(f"{ticket.key} has moved on to {escape_mrkdwn(self.policy.level_name(ticket.level))}; "
                               "act on its briefing there.")
            self.authorize(ticket, user_id, "acknowledge")
            if ticket.acknowledged_by:
                raise Conflict(f"{ticket.key} was already acknowledged by <@{ticket.acknowledged_by}>.")
            self._mark_acknowledged(session, ticket, user_id)
            return ticket

    def reply_in_thread(self, channel: str, thread_ts: str, user_id: str, text: str, ts: str) -> Ticket | None:
        """A person's reply in one of a ticket's briefing threads is kept as a note.
        In the current level's thread, a member's reply acknowledges the ticket or,
        once acknowledged, counts as a progress update."""
        with transaction(self.sessions) as session:
            briefing = session.scalars(
                select(SlackMessage).where(SlackMessage.channel == channel, SlackMessage.ts == thread_ts,
                                           SlackMessage.role == "briefing")
            ).first()
            if briefing is None:
                return None
            ticket = self._lock(session, briefing.ticket_id)
            if session.scalar(select(TicketNote.id).where(TicketNote.channel == channel, TicketNote.ts == ts)):
                return ticket  # the same message again
            session.add(TicketNote(ticket_id=ticket.id, level=briefing.level, author_id=user_id, text=text,
                                   channel=channel, ts=ts, created_at=utcnow()))
            if not ticket.is_active or ticket.level != briefing.level or not self.may_act(ticket, user_id):
                return ticket
            if ticket.acknowledged_by is None:
                self._mark_acknowledged(session, ticket, user_id, via="a reply in this thread")
            else:
                self.clocks.progress_posted(session, ticket, utcnow())
            return ticket

    def note_edited(self, channel: str, ts: str, text: str) -> bool:
        with transaction(self.sessions) as session:
            note = session.scalars(select(TicketNote).where(TicketNote.channel == channel,
                                                            TicketNote.ts == ts)).first()
            if note is None:
                return False
            note.text, note.edited_at = text, utcnow()
            return True

    def _mark_acknowledged(self, session: Session, ticket: Ticket, user_id: str, via: str | None = None) -> None:
        now = utcnow()
        ticket.acknowledged_by, ticket.acknowledged_at = user_id, now
        if ticket.status == TicketStatus.OPEN:
            ticket.status = TicketStatus.ACKNOWLEDGED
        self.acknowledgments.record(session, [ticket], now, via)

    def wait_on_customer(self, ticket_id: int, actor_id: str, reason: str,
                         *, seen_cycle: int | None = None) -> Ticket:
        """Pause the SLA clocks until the customer answers; the paused time is kept."""
        with transaction(self.sessions) as session:
            ticket = self._lock(session, ticket_id)
            self.require_active(ticket, "paused")
            self.require_unchanged(session, ticket, seen_cycle)
            self.authorize(ticket, actor_id, "pause")
            if ticket.status == TicketStatus.WAITING:
                raise Conflict(f"{ticket.key} is already waiting on the customer.")
            now = utcnow()
            ticket.status = TicketStatus.WAITING
            session.add(TicketPause(ticket_id=ticket.id, started_at=now, reason=reason, actor_id=actor_id))
            session.flush()
            history.append(session, ticket, "paused", actor_id, from_level=ticket.level, reason=reason)
            self.clocks.recompute_all(session, ticket)
            briefing = self.slack.current_briefing(session, ticket)
            self.slack.note_text(session, ticket, briefing, Mrkdwn(
                f"Waiting on the customer (<@{actor_id}>): {escape_mrkdwn(reason)}. SLA clocks are paused."))
            self.slack.refresh_briefing(session, ticket, briefing)
            self.changed(session, ticket)
            return ticket

    def resume(self, ticket_id: int, actor_id: str, reason: str = "", *, seen_cycle: int | None = None) -> Ticket:
        with transaction(self.sessions) as session:
            ticket = self._lock(session, ticket_id)
            self.require_active(ticket, "resumed")
            self.require_unchanged(session, ticket, seen_cycle)
            self.authorize(ticket, actor_id, "resume")
            if ticket.status != TicketStatus.WAITING:
                raise Conflict(f"{ticket.key} isn't waiting on the customer.")
            pause = session.scalars(select(TicketPause).where(TicketPause.ticket_id == ticket.id,
                                                              TicketPause.ended_at.is_(None))).first()
            if pause is not None:
                pause.ended_at = utcnow()
            ticket.status = TicketStatus.ACKNOWLEDGED if ticket.acknowledged_by else TicketStatus.OPEN
            history.append(session, ticket, "resumed", actor_id, from_level=ticket.level, reason=reason or None)
            self.clocks.recompute_all(session, ticket)
            briefing = self.slack.current_briefing(session, ticket)
            said = f": {escape_mrkdwn(reason)}" if reason else ""
            self.slack.note_text(session, ticket, briefing,
                                 Mrkdwn(f"Resumed by <@{actor_id}>{said}. SLA clocks are running again."))
            self.slack.refresh_briefing(session, ticket, briefing)
            self.changed(session, ticket)
            return ticket

    # --- escalating -----------------------------------------------------------
    def escalate(self, ticket_id: int, request: EscalationRequest, actor_id: str,
                 *, seen_cycle: int | None = None) -> Ticket:
        with transaction(self.sessions) as session:
            ticket = self._lock(session, ticket_id)
            self.require_active(ticket, "escalated")
            self.require_unchanged(session, ticket, seen_cycle)
            self.authorize(ticket, actor_id, "escalate", requester_may=True)
            if request.to_level not in self.policy.escalation_targets(ticket.level, self.suggestion(ticket)[0]):
                raise Conflict(f"{ticket.key} is already at {escape_mrkdwn(self.policy.level_name(ticket.level))}; "
                               f"it can't go to {escape_mrkdwn(self.policy.level_name(request.to_level))} from there.")
            self.move(session, ticket, request.to_level, request.trigger, request.reason, actor_id)
            return ticket

    def move(self, session: Session, ticket: Ticket, to_level: str, trigger: str, reason: str,
             actor_id: str | None, now: datetime | None = None, kind: str = "escalated",
             detail: dict | None = None) -> TicketEvent:
        """Hand the ticket to another level (the ticket row is locked by the caller):
        a new cycle of clocks, a briefing there, a link in the old thread. kind is
        "escalated" or "deescalated" (whose note in the old thread offers Undo)."""
        now = now or utcnow()
        old_briefing = self.slack.current_briefing(session, ticket)
        from_level, meant_for = ticket.level, to_level
        were_with = (ticket.acknowledged_by, ticket.assignee_id)  # it stops being theirs here
        to_level, overflow = self._route(session, ticket, to_level)
        self.clocks.stop_cycle(session, ticket, now, f"moved to {to_level}")
        ticket.level, ticket.cycle = to_level, ticket.cycle + 1
        ticket.status = TicketStatus.WAITING if ticket.status == TicketStatus.WAITING else TicketStatus.OPEN
        ticket.acknowledged_by = ticket.acknowledged_at = None
        event = history.append(session, ticket, kind, actor_id, from_level=from_level, to_level=to_level,
                               trigger=trigger, reason=reason, detail=detail or {})
        self._record_route(session, ticket, meant_for, overflow)
        self.clocks.start_cycle(session, ticket, now)
        new_briefing = self.slack.post_briefing(session, ticket, came_from=event, earlier=old_briefing)
        if old_briefing is not None:
            self.slack.refresh_briefing(session, ticket, old_briefing)
            to_name = escape_mrkdwn(self.policy.level_name(to_level))
            who = f"<@{actor_id}>" if actor_id else "Escalator"
            verb = "De-escalated" if kind == "deescalated" else "Escalated"
            text = Mrkdwn(f"{verb} to {to_name} by {who}: {escape_mrkdwn(reason)}\n"
                          f"{messages.LINK_OPEN}{ticket.key} briefing in {to_name}>")
            if kind == "deescalated":
                session.flush()  # the Undo button names the event
                payload = messages.deescalation_note(text, ticket, event, self.policy.undo_window)
            else:
                payload = messages.thread_note(text)
            self.slack.note(session, ticket, old_briefing, payload, link_to=new_briefing)
        if kind == "escalated":
            self._tell_customer(session, ticket)
        if to_level in ("management", "executive"):
            session.flush()  # the ping's ledger key names the escalation event
            told = f"escalated to {self.policy.level_name(to_level)}: {reason}"
            self.tell_leaders(session, ticket, new_briefing, {f"escalated:{event.id}": told})
        self._arrived(session, ticket)
        session.flush()
        self.capacity.check(session, from_level)
        self.capacity.check(session, to_level)
        self.changed(session, ticket, were_with=were_with)
        return event

    # --- resolving ------------------------------------------------------------
    def resolve(self, ticket_id: int, resolution: Resolution, actor_id: str,
                *, seen_cycle: int | None = None) -> Ticket:
        with transaction(self.sessions) as session:
            ticket = self._lock(session, ticket_id)
            self.require_active(ticket, "resolved")
            self.require_unchanged(session, ticket, seen_cycle)
            self.authorize(ticket, actor_id, "resolve")
            now = utcnow()
            self._close_pause(session, ticket, now)
            ticket.status, ticket.resolved_at = TicketStatus.RESOLVED, now
            ticket.resolution, ticket.root_cause, ticket.kb_gap = resolution.text, resolution.root_cause, resolution.kb_gap
            ticket.kb_article, ticket.training_need = resolution.kb_article, resolution.training_need
            ticket.product_link = resolution.product_link
            history.append(session, ticket, "resolved", actor_id, from_level=ticket.level,
                           reason=resolution.text, trigger=resolution.root_cause)
            self.clocks.stop_cycle(session, ticket, now, "resolved")
            briefing = self.slack.current_briefing(session, ticket)
            self.slack.note_text(session, ticket, briefing, Mrkdwn(
                f"Resolved by <@{actor_id}> ({escape_mrkdwn(resolution.root_cause)}): "
                f"{escape_mrkdwn(resolution.text)}"))
            self.slack.refresh_briefing(session, ticket, briefing)
            for hook in self.on_resolved:
                hook(session, ticket)
            session.flush()
            self.capacity.check(session, ticket.level)
            self.changed(session, ticket)
            return ticket

    def reopen(self, ticket_id: int, actor_id: str) -> Ticket:
        """Back to work at the level that resolved it: a new cycle, its clocks from now."""
        with transaction(self.sessions) as session:
            ticket = self._lock(session, ticket_id)
            if ticket.is_active:
                raise Conflict(f"{ticket.key} is already open.")
            if not (self.may_act(ticket, actor_id) or ticket.requester_id == actor_id):
                self.authorize(ticket, actor_id, "reopen", requester_may=True)
            now = utcnow()
            ticket.status, ticket.resolved_at, ticket.cycle = TicketStatus.OPEN, None, ticket.cycle + 1
            ticket.acknowledged_by = ticket.acknowledged_at = None
            history.append(session, ticket, "reopened", actor_id, to_level=ticket.level)
            self.clocks.start_cycle(session, ticket, now)
            briefing = self.slack.current_briefing(session, ticket)
            self.slack.note_text(session, ticket, briefing,
                                 Mrkdwn(f"Reopened by <@{actor_id}>. SLA clocks start again."))
            self.slack.refresh_briefing(session, ticket, briefing)
            self._arrived(session, ticket)
            session.flush()
            self.capacity.check(session, ticket.level)
            self.changed(session, ticket)
            return ticket

    def _tell_customer(self, session: Session, ticket: Ticket) -> None:
        told_in = self.customer.tell(session, ticket)
        if told_in:
            history.append(session, ticket, "customer_notified", None, reason=f"update in {told_in}")

    # --- helpers --------------------------------------------------------------
    def lock(self, session: Session, ticket_id: int) -> Ticket:
        return self._lock(session, ticket_id)

    def _route(self, session: Session, ticket: Ticket, level: str) -> tuple[str, str | None]:
        return self.route_arrival(session, ticket, level) if self.route_arrival else (level, None)

    def _record_route(self, session: Session, ticket: Ticket, meant_for: str, why: str | None) -> None:
        if why is not None and self.record_route is not None:
            self.record_route(session, ticket, meant_for, why)

    def _arrived(self, session: Session, ticket: Ticket) -> None:
        for hook in self.on_arrival:
            hook(session, ticket)

    def changed(self, session: Session, *tickets: Ticket, were_with: Iterable[str | None] = ()) -> None:
        for hook in self.on_change:
            hook(session, tickets, were_with)

    def _lock(self, session: Session, ticket_id: int | None) -> Ticket:
        if ticket_id is None:  # a button or modal that names no ticket
            raise TicketNotFound("this message")
        ticket = session.get(Ticket, ticket_id, with_for_update=True, populate_existing=True)
        if ticket is None:
            raise TicketNotFound(f"ESC-{ticket_id}")
        return ticket

    @staticmethod
    def _close_pause(session: Session, ticket: Ticket, now) -> None:
        for pause in session.scalars(select(TicketPause).where(TicketPause.ticket_id == ticket.id,
                                                               TicketPause.ended_at.is_(None))):
            pause.ended_at = now

    def tell_leaders(self, session: Session, ticket: Ticket, briefing: MessageRef | None,
                     management: dict[str, str] | None = None) -> None:
        """Ping management, and the executive level for critical business impact, about
        every reason that holds now and wasn't told before (`management`: extra reasons)."""
        if briefing is None:
            return
        reasons = {**management_reasons(ticket, self.policy), **(management or {})}
        for audience, why in (("management", reasons), ("executive", executive_reasons(ticket, self.policy))):
            told = self.slack.ping(session, ticket, briefing, why, audience)
            if told:
                history.append(session, ticket, f"{audience}_pinged", None, to_level=audience,
                               reason=", ".join(told))
