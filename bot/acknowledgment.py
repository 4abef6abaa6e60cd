"""Acknowledging tickets: the busiest write there is.

The usual click is a member's, on the current level's briefing of a ticket nobody has
acknowledged yet. Such clicks go in together (bot.batching): they are claimed with one
conditional UPDATE per person and level among them, then what all of them owe (events,
clocks, thread notes, briefing updates, Homes) is written with one statement per kind
of row, in one transaction. A click whose claim finds the ticket acknowledged, moved on
or resolved, held by another transaction, or already clicked earlier in the batch,
changes nothing and takes the desk's checked path alone, which says what stood in the
way; so does every click of a batch that failed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Sequence

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from bot import history, messages
from bot.batching import Batcher
from bot.db import transaction
from bot.models import Ticket, TicketStatus, utcnow
from bot.rendering import Mrkdwn

if TYPE_CHECKING:
    from bot.desk import EscalationDesk

log = logging.getLogger("escalator.acknowledgment")

_TICKETS = Ticket.__table__
_CLAIMABLE = (  # on PostgreSQL the rows another transaction holds are skipped, not waited for
    select(_TICKETS.c.id)
    .where(_TICKETS.c.id.in_(bindparam("claim_tickets", expanding=True)),
           _TICKETS.c.level == bindparam("claim_level"),
           _TICKETS.c.acknowledged_by.is_(None), _TICKETS.c.status.in_(TicketStatus.ACTIVE))
    .order_by(_TICKETS.c.id)
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(_TICKETS)
    .where(_TICKETS.c.id.in_(_CLAIMABLE.scalar_subquery()))
    .values(acknowledged_by=bindparam("claim_user"), acknowledged_at=bindparam("claim_now"),
            updated_at=bindparam("claim_now"),
            status=case((_TICKETS.c.status == TicketStatus.OPEN, TicketStatus.ACKNOWLEDGED),
                        else_=_TICKETS.c.status))
    .returning(*_TICKETS.c)
)
_CLAIMED_TICKETS = select(Ticket).from_statement(_CLAIM)


@dataclass(frozen=True)
class Click:
    ticket_id: int
    level: str  # the level whose briefing was clicked
    user_id: str


class Acknowledgments:
    def __init__(self, desk: EscalationDesk):
        self.desk = desk
        self._clicks: Batcher[Click, Ticket | None] = Batcher(self.claim_together)

    def claim(self, click: Click) -> Ticket | None:
        """Acknowledge with the clicks that come at the same moment: the acknowledged
        ticket (loaded in the batch's session, detached once it closed), or None when
        nothing changed and the click needs the checked path."""
        try:
            return self._clicks.submit(click)
        except Exception:
            log.warning("a batch of acknowledgments failed; each of its clicks is tried alone", exc_info=True)
            return None

    def record(self, session: Session, tickets: Sequence[Ticket], now: datetime, via: str | None = None) -> None:
        """What acknowledgments owe (each ticket's acknowledged_by is set): the events,
        the clocks, a note in each briefing's thread, the briefings and Homes refreshed."""
        if not tickets:
            return
        desk = self.desk
        briefings = desk.slack.current_briefings(session, tickets)
        history.append_all(session, [(ticket, "acknowledged", ticket.acknowledged_by, {"from_level": ticket.level})
                                    for ticket in tickets])
        desk.clocks.acknowledged(session, tickets, now)
        suffix = f" ({via})" if via else ""
        notes: dict[str, dict] = {}  # a person's clicks in one batch share one rendered note

        def note_by(user_id: str) -> dict:
            if user_id not in notes:
                notes[user_id] = messages.thread_note(Mrkdwn(f"Acknowledged by <@{user_id}>{suffix}."))
            return notes[user_id]

        desk.slack.notes(session, [(ticket, briefings.get(ticket.id), note_by(ticket.acknowledged_by))
                                   for ticket in tickets])
        desk.slack.refresh_briefings(session, [(ticket, briefings.get(ticket.id)) for ticket in tickets])
        desk.changed(session, *tickets)

    def claim_together(self, clicks: Sequence[Click]) -> list[Ticket | None]:
        """What a batch does: the acknowledged ticket for each click, or None where the
        click changed nothing. A ticket clicked more than once counts for its first click;
        a ticket another transaction holds is left to the checked path (which waits for
        it alone), so a batch never waits on a lock."""
        first_clicks: dict[int, Click] = {}
        for click in clicks:
            first_clicks.setdefault(click.ticket_id, click)
        by_person: dict[tuple[str, str], list[int]] = {}
        for click in first_clicks.values():
            by_person.setdefault((click.level, click.user_id), []).append(click.ticket_id)
        with transaction(self.desk.sessions) as session:
            now = utcnow()
            claimed: dict[int, Ticket] = {}
            for (level, user_id), ticket_ids in by_person.items():
                for ticket in session.scalars(_CLAIMED_TICKETS, {"claim_tickets": ticket_ids, "claim_level": level,
                                                                 "claim_user": user_id, "claim_now": now}):
                    claimed[ticket.id] = ticket
            outcomes = [claimed.pop(click.ticket_id, None) if first_clicks.get(click.ticket_id) is click else None
                        for click in clicks]
            self.record(session, [ticket for ticket in outcomes if ticket is not None], now)
            return outcomes
