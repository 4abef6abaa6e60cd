"""The escalation desk: opening, acknowledging, escalating and resolving tickets.

Each operation is one transaction that changes the ticket, appends its event and
records every Slack message it owes in the outbox, so they happen together or
not at all. Rows are locked (`SELECT … FOR UPDATE` on PostgreSQL, the write lock
on SQLite) so two people acting at once get one consistent outcome.
"""
from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import alerts, messages, outbox
from bot.db import transaction
from bot.errors import Conflict, NotAllowed, TicketNotFound
from bot.forms import EscalationRequest, NewTicket
from bot.models import SlackMessage, Ticket, TicketEvent, TicketStatus, utcnow
from bot.policy import Policy
from bot.rendering import Mrkdwn, escape_mrkdwn
from bot.routing import management_reasons

_KEY = re.compile(r"^ESC-(\d{1,9})$", re.IGNORECASE)
LIST_LIMIT = 20


def parse_key(text: str) -> int | None:
    match = _KEY.match(text.strip())
    return int(match.group(1)) if match else None


class EscalationDesk:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy):
        self.sessions = sessions
        self.policy = policy

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
            briefing = self._current_briefing(session, ticket)
            return briefing.permalink if briefing else None

    def list_open(self, scope: str, user_id: str) -> tuple[str, list[Ticket], int]:
        """Open tickets: `mine` (opened by or waiting on the user), a level key, or all."""
        query = select(Ticket).where(Ticket.status.in_(TicketStatus.ACTIVE))
        if scope == "mine":
            title = "Your open escalations"
            query = query.where((Ticket.requester_id == user_id) | (Ticket.acknowledged_by == user_id)
                                | Ticket.level.in_(self.policy.levels_of(user_id) or ["-"]))
        elif scope:
            title = f"Open escalations at {self.policy.level_name(scope)}"
            query = query.where(Ticket.level == scope)
        else:
            title = "Open escalations"
        with self.sessions() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery()))
            rows = session.scalars(query.order_by(Ticket.severity, Ticket.created_at).limit(LIST_LIMIT)).all()
        return f"{title} ({total})", list(rows), max(0, total - len(rows))

    def authorize(self, ticket: Ticket, user_id: str, action: str, *, requester_may: bool = False) -> None:
        """Members of the ticket's level and managers may act on it."""
        if self.policy.is_member(ticket.level, user_id) or self.policy.is_member("management", user_id):
            return
        if requester_may and ticket.requester_id == user_id:
            return
        level = self.policy.levels.get(ticket.level)
        members = ", ".join(f"<@{m}>" for m in level.members) if level and level.members else "its members"
        raise NotAllowed(
            f"Only {escape_mrkdwn(self.policy.level_name(ticket.level))} ({members}) or management "
            f"can {action} {ticket.key}."
        )

    # --- opening --------------------------------------------------------------
    def open_ticket(self, form: NewTicket, *, requester_id: str, source_channel: str | None = None,
                    source_permalink: str | None = None) -> Ticket:
        entry = self.policy.severities[form.severity].entry
        with transaction(self.sessions) as session:
            ticket = Ticket(
                summary=form.summary, customer=form.customer, severity=form.severity,
                impact=form.impact, complexity=form.complexity, steps_taken=form.steps_taken,
                revenue_at_risk=form.revenue_at_risk, level=entry, status=TicketStatus.OPEN,
                requester_id=requester_id, source_channel=source_channel,
                source_permalink=source_permalink, **{flag: True for flag in form.flags},
            )
            session.add(ticket)
            session.flush()
            self._event(session, ticket, "opened", requester_id, to_level=entry)
            briefing = self._post_briefing(session, ticket)
            self._ping_management(session, ticket, briefing, management_reasons(ticket, self.policy))
            return ticket

    # --- acknowledging --------------------------------------------------------
    def acknowledge(self, ticket_id: int, user_id: str, *, at_level: str | None = None) -> Ticket:
        with transaction(self.sessions) as session:
            ticket = self._lock(session, ticket_id)
            self._require_active(ticket, "acknowledged")
            if at_level and at_level != ticket.level:
                raise Conflict(f"{ticket.key} has moved on to {escape_mrkdwn(self.policy.level_name(ticket.level))}; "
                               "act on its briefing there.")
            self.authorize(ticket, user_id, "acknowledge")
            if ticket.status == TicketStatus.ACKNOWLEDGED:
                raise Conflict(f"{ticket.key} was already acknowledged by <@{ticket.acknowledged_by}>.")
            self._mark_acknowledged(session, ticket, user_id)
            return ticket

    def acknowledge_by_reply(self, channel: str, thread_ts: str, user_id: str) -> Ticket | None:
        """A level member replying in the current briefing's thread acknowledges it;
        any other reply changes nothing."""
        with transaction(self.sessions) as session:
            briefing = session.scalars(
                select(SlackMessage).where(SlackMessage.channel == channel, SlackMessage.ts == thread_ts,
                                           SlackMessage.role == "briefing")
            ).first()
            if briefing is None:
                return None
            ticket = self._lock(session, briefing.ticket_id)
            if (ticket.status != TicketStatus.OPEN or ticket.level != briefing.level
                    or not (self.policy.is_member(ticket.level, user_id)
                            or self.policy.is_member("management", user_id))):
                return None
            self._mark_acknowledged(session, ticket, user_id, via="a reply in this thread")
            return ticket

    def _mark_acknowledged(self, session: Session, ticket: Ticket, user_id: str, via: str | None = None) -> None:
        ticket.status, ticket.acknowledged_by, ticket.acknowledged_at = TicketStatus.ACKNOWLEDGED, user_id, utcnow()
        self._event(session, ticket, "acknowledged", user_id, from_level=ticket.level)
        briefing = self._current_briefing(session, ticket)
        suffix = f" ({via})" if via else ""
        self._note(session, ticket, briefing, Mrkdwn(f"Acknowledged by <@{user_id}>{suffix}."))
        self._refresh_briefing(session, ticket, briefing)

    # --- escalating -----------------------------------------------------------
    def escalate(self, ticket_id: int, request: EscalationRequest, actor_id: str) -> Ticket:
        with transaction(self.sessions) as session:
            ticket = self._lock(session, ticket_id)
            self._require_active(ticket, "escalated")
            self.authorize(ticket, actor_id, "escalate", requester_may=True)
            if request.to_level not in self.policy.escalation_targets(ticket.level):
                raise Conflict(f"{ticket.key} is already at {escape_mrkdwn(self.policy.level_name(ticket.level))}; "
                               f"it can't go to {escape_mrkdwn(self.policy.level_name(request.to_level))} from there.")
            old_briefing = self._current_briefing(session, ticket)
            from_level = ticket.level
            ticket.level, ticket.status = request.to_level, TicketStatus.OPEN
            ticket.acknowledged_by = ticket.acknowledged_at = None
            event = self._event(session, ticket, "escalated", actor_id, from_level=from_level,
                                to_level=request.to_level, trigger=request.trigger, reason=request.reason)
            new_briefing = self._post_briefing(session, ticket, came_from=event, earlier=old_briefing)
            if old_briefing is not None:
                self._refresh_briefing(session, ticket, old_briefing)
                to_name = escape_mrkdwn(self.policy.level_name(request.to_level))
                self._note(session, ticket, old_briefing,
                           Mrkdwn(f"Escalated to {to_name} by <@{actor_id}>: {escape_mrkdwn(request.reason)}\n"
                                  f"{messages.LINK_OPEN}{ticket.key} briefing in {to_name}>"),
                           link_to=new_briefing)
            if request.to_level in ("management", "executive"):
                reason = f"escalated to {self.policy.level_name(request.to_level)}: {request.reason}"
                self._ping_management(session, ticket, new_briefing, {f"escalated:{event.id}": reason})
            return ticket

    # --- resolving ------------------------------------------------------------
    def resolve(self, ticket_id: int, resolution: str, actor_id: str) -> Ticket:
        with transaction(self.sessions) as session:
            ticket = self._lock(session, ticket_id)
            self._require_active(ticket, "resolved")
            self.authorize(ticket, actor_id, "resolve")
            ticket.status, ticket.resolution, ticket.resolved_at = TicketStatus.RESOLVED, resolution, utcnow()
            self._event(session, ticket, "resolved", actor_id, from_level=ticket.level, reason=resolution)
            briefing = self._current_briefing(session, ticket)
            self._note(session, ticket, briefing,
                       Mrkdwn(f"Resolved by <@{actor_id}>: {escape_mrkdwn(resolution)}"))
            self._refresh_briefing(session, ticket, briefing)
            return ticket

    # --- helpers --------------------------------------------------------------
    def _lock(self, session: Session, ticket_id: int) -> Ticket:
        ticket = session.get(Ticket, ticket_id, with_for_update=True, populate_existing=True)
        if ticket is None:
            raise TicketNotFound(f"ESC-{ticket_id}")
        return ticket

    @staticmethod
    def _require_active(ticket: Ticket, verb: str) -> None:
        if not ticket.is_active:
            raise Conflict(f"{ticket.key} is already resolved, so it can't be {verb}.")

    @staticmethod
    def _event(session: Session, ticket: Ticket, kind: str, actor_id: str | None, **fields) -> TicketEvent:
        event = TicketEvent(ticket_id=ticket.id, kind=kind, actor_id=actor_id, at=utcnow(), detail={}, **fields)
        session.add(event)
        session.flush()
        return event

    @staticmethod
    def _current_briefing(session: Session, ticket: Ticket) -> SlackMessage | None:
        return session.scalars(
            select(SlackMessage)
            .where(SlackMessage.ticket_id == ticket.id, SlackMessage.role == "briefing",
                   SlackMessage.level == ticket.level)
            .order_by(SlackMessage.id.desc())
        ).first()

    def _post_briefing(self, session: Session, ticket: Ticket, came_from: TicketEvent | None = None,
                       earlier: SlackMessage | None = None) -> SlackMessage:
        payload = messages.briefing(ticket, ticket.level, self.policy, came_from, linked=earlier is not None)
        return outbox.post(session, channel=self.policy.level(ticket.level).channel, payload=payload,
                           role="briefing", ticket_id=ticket.id, level=ticket.level, link_to=earlier)

    def _refresh_briefing(self, session: Session, ticket: Ticket, briefing: SlackMessage | None) -> None:
        if briefing is None:
            return
        came_from = self._arrival_event(session, ticket, briefing)
        earlier = self._earlier_briefing(session, briefing) if came_from else None
        payload = messages.briefing(ticket, briefing.level, self.policy, came_from, linked=earlier is not None)
        outbox.update(session, message=briefing, payload=payload, ticket_id=ticket.id, link_to=earlier)

    @staticmethod
    def _earlier_briefing(session: Session, briefing: SlackMessage) -> SlackMessage | None:
        return session.scalars(
            select(SlackMessage)
            .where(SlackMessage.ticket_id == briefing.ticket_id, SlackMessage.role == "briefing",
                   SlackMessage.id < briefing.id)
            .order_by(SlackMessage.id.desc())
        ).first()

    @staticmethod
    def _arrival_event(session: Session, ticket: Ticket, briefing: SlackMessage) -> TicketEvent | None:
        return session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "escalated",
                   TicketEvent.to_level == briefing.level, TicketEvent.at <= briefing.created_at)
            .order_by(TicketEvent.id.desc())
        ).first()

    def _note(self, session: Session, ticket: Ticket, briefing: SlackMessage | None, text: Mrkdwn,
              link_to: SlackMessage | None = None) -> None:
        if briefing is None:
            return
        outbox.post(session, channel=briefing.channel, payload=messages.thread_note(text), role="note",
                    ticket_id=ticket.id, level=briefing.level, thread=briefing, link_to=link_to)

    def _ping_management(self, session: Session, ticket: Ticket, briefing: SlackMessage,
                         reasons: dict[str, str]) -> None:
        """Tell management, mentioning the managers: once per ticket per reason, ever."""
        fresh = [text for code, text in reasons.items()
                 if alerts.record_once(session, kind="ping", ticket_id=ticket.id, level="management",
                                       threshold=code)]
        if not fresh:
            return
        management = self.policy.level("management")
        in_thread = briefing.channel == management.channel  # the briefing is already there
        outbox.post(
            session, channel=management.channel,
            payload=messages.management_ping(ticket, self.policy, fresh, linked=not in_thread),
            role="ping", ticket_id=ticket.id, level="management",
            thread=briefing if in_thread else None, link_to=None if in_thread else briefing,
        )
        self._event(session, ticket, "management_pinged", None, to_level="management", reason=", ".join(fresh))
