"""The Slack messages a ticket change owes: briefings, their updates, thread notes, pings.

All of them go through the outbox, inside the caller's transaction.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from bot import alerts, messages, outbox
from bot.models import ClockKind, SlackMessage, SlaClock, Ticket, TicketEvent, TicketNote
from bot.outbox import MessageRef
from bot.policy import Policy
from bot.rendering import Mrkdwn

NOTES_SHOWN = 6  # the latest notes from earlier levels a briefing carries
_ARRIVALS = ("opened", "escalated", "deescalated", "reopened", "overflowed")

_BRIEFINGS = (select(*outbox.REF_COLUMNS)
              .where(SlackMessage.ticket_id == bindparam("ticket_id"), SlackMessage.role == "briefing")
              .order_by(SlackMessage.id.desc()).limit(1))
_BRIEFINGS_OF = (select(*outbox.REF_COLUMNS)
                 .where(SlackMessage.ticket_id.in_(bindparam("ticket_ids", expanding=True)),
                        SlackMessage.role == "briefing")
                 .order_by(SlackMessage.id))
_EARLIER_BRIEFING = _BRIEFINGS.where(SlackMessage.id < bindparam("before"))
# a briefing's hand-off facts (_handoff_facts), built once: every opening and every move asks them
_RESPONSE_DUE = select(SlaClock.due_at).where(
    SlaClock.ticket_id == bindparam("ticket_id"), SlaClock.cycle == bindparam("cycle"),
    SlaClock.kind == ClockKind.RESPONSE, SlaClock.stopped_at.is_(None))
_MOVES = select(func.count()).select_from(TicketEvent).where(
    TicketEvent.ticket_id == bindparam("ticket_id"), TicketEvent.kind.in_(("escalated", "deescalated")))
_LATEST_ARRIVAL = (select(TicketEvent.kind, TicketEvent.reason)
                   .where(TicketEvent.ticket_id == bindparam("ticket_id"), TicketEvent.kind.in_(_ARRIVALS))
                   .order_by(TicketEvent.id.desc()).limit(1))


class TicketMessages:
    def __init__(self, policy: Policy):
        self.policy = policy

    @classmethod
    def current_briefing(cls, session: Session, ticket: Ticket) -> MessageRef | None:
        return cls.current_briefings(session, [ticket]).get(ticket.id)

    @staticmethod
    def current_briefings(session: Session, tickets: Sequence[Ticket]) -> dict[int, MessageRef]:
        """The latest briefing of each ticket at its current level, by ticket id."""
        levels = {ticket.id: ticket.level for ticket in tickets}
        found = {}
        for row in session.connection().execute(_BRIEFINGS_OF, {"ticket_ids": list(levels)}):
            if row.level == levels[row.ticket_id]:
                found[row.ticket_id] = outbox.ref(row)  # in id order: the latest stays
        return found

    def post_briefing(self, session: Session, ticket: Ticket, came_from: TicketEvent | None = None,
                      earlier: MessageRef | None = None) -> MessageRef:
        payload = messages.briefing(ticket, ticket.level, self.policy, came_from, linked=earlier is not None,
                                    notes=self.earlier_notes(session, ticket, ticket.level),
                                    **self._handoff_facts(session, ticket))
        return outbox.post(session, channel=self.policy.level(ticket.level).channel, payload=payload,
                           role="briefing", ticket_id=ticket.id, level=ticket.level, link_to=earlier)

    def refresh_briefing(self, session: Session, ticket: Ticket, briefing: MessageRef | None) -> None:
        self.refresh_briefings(session, [(ticket, briefing)])

    def refresh_briefings(self, session: Session, briefings: Iterable[tuple[Ticket, MessageRef | None]]) -> None:
        """Owe Slack an update of each briefing after a change (status, buttons). It is
        rendered when sent, from the ticket as it is then, so a burst of changes
        costs one update and the request that caused it doesn't wait for a render."""
        outbox.update_all(session, [
            outbox.Update(message=briefing, ticket_id=ticket.id,
                          link_to=self._earlier_briefing(session, briefing) if ticket.cycle > 1 else None,
                          payload={"render": "briefing", "ticket_id": ticket.id, "message_id": briefing.id})
            for ticket, briefing in briefings if briefing is not None])

    def render_briefing(self, session: Session, payload: dict) -> dict:
        """The renderer behind refresh_briefing (see bot.delivery.OutboxWorker)."""
        ticket = session.get(Ticket, payload["ticket_id"])
        briefing = session.get(SlackMessage, payload["message_id"])
        came_from = self._arrival_event(session, ticket, briefing)
        linked = came_from is not None and self._earlier_briefing(session, briefing) is not None
        facts = self._handoff_facts(session, ticket) if ticket.level == briefing.level else {}
        return messages.briefing(ticket, briefing.level, self.policy, came_from, linked=linked,
                                 notes=self.earlier_notes(session, ticket, briefing.level), **facts)

    def _handoff_facts(self, session: Session, ticket: Ticket) -> dict:
        """SLA time left at this level and how often the ticket has changed levels."""
        session.flush()
        due = session.scalar(_RESPONSE_DUE, {"ticket_id": ticket.id, "cycle": ticket.cycle})
        moves = session.scalar(_MOVES, {"ticket_id": ticket.id})
        # bot.coverage.overflow: the arrival at this level was routed by overflow (its event follows the arrival's)
        arrival = session.execute(_LATEST_ARRIVAL, {"ticket_id": ticket.id}).first()
        overflow = arrival.reason if arrival is not None and arrival.kind == "overflowed" else None
        return {"response_due": due, "handoffs": moves or 0, "overflow": overflow}

    def earlier_notes(self, session: Session, ticket: Ticket, level: str) -> list[tuple[str, str, str]]:
        """(level name, author, text) of the latest notes written at other levels."""
        if ticket.cycle <= 1:
            return []
        rows = session.scalars(select(TicketNote).where(TicketNote.ticket_id == ticket.id, TicketNote.level != level)
                               .order_by(TicketNote.id.desc()).limit(NOTES_SHOWN)).all()
        return [(self.policy.level_name(n.level), n.author_id, n.text) for n in reversed(rows)]

    def note(self, session: Session, ticket: Ticket, briefing: MessageRef | None, payload: dict,
             link_to: MessageRef | None = None) -> None:
        """A bot reply in the briefing's thread."""
        self.notes(session, [(ticket, briefing, payload)], link_to)

    @staticmethod
    def notes(session: Session, notes: Iterable[tuple[Ticket, MessageRef | None, dict]],
              link_to: MessageRef | None = None) -> None:
        """Bot replies in briefing threads, (ticket, briefing, payload) each, written together."""
        outbox.post_all(session, [
            outbox.Post(channel=briefing.channel, payload=payload, role="note", ticket_id=ticket.id,
                        level=briefing.level, thread=briefing, link_to=link_to)
            for ticket, briefing, payload in notes if briefing is not None])

    def note_text(self, session: Session, ticket: Ticket, briefing: MessageRef | None, text: Mrkdwn,
                  link_to: MessageRef | None = None) -> None:
        self.note(session, ticket, briefing, messages.thread_note(text), link_to)

    def ping(self, session: Session, ticket: Ticket, briefing: MessageRef, reasons: dict[str, str],
             audience: str = "management") -> list[str]:
        """Tell management (or the executive level), mentioning its members: once per
        ticket per reason, ever. Returns the reasons told now."""
        fresh = [text for code, text in reasons.items()
                 if alerts.record_once(session, kind="ping", ticket_id=ticket.id, level=audience,
                                       threshold=code)]
        if not fresh:
            return []
        told = self.policy.level(audience)
        in_thread = briefing.channel == told.channel  # the briefing is already there
        outbox.post(
            session, channel=told.channel,
            payload=messages.leadership_ping(ticket, self.policy, audience, fresh, linked=not in_thread),
            role="ping", ticket_id=ticket.id, level=audience,
            thread=briefing if in_thread else None, link_to=None if in_thread else briefing,
        )
        return fresh

    @staticmethod
    def _earlier_briefing(session: Session, briefing: MessageRef | SlackMessage) -> MessageRef | None:
        return outbox.ref(session.connection().execute(
            _EARLIER_BRIEFING, {"ticket_id": briefing.ticket_id, "before": briefing.id}).first())

    @staticmethod
    def _arrival_event(session: Session, ticket: Ticket, briefing: SlackMessage) -> TicketEvent | None:
        return session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(("escalated", "deescalated")),
                   TicketEvent.to_level == briefing.level, TicketEvent.at <= briefing.created_at)
            .order_by(TicketEvent.id.desc())
        ).first()
