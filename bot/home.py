"""The App Home tab: a person's open tickets, their levels' queues ordered by priority
score, and the count of open tickets per level."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot import outbox
from bot.db import transaction
from bot.durations import format_duration
from bot.models import ClockKind, SlaClock, Ticket, TicketStatus, utcnow
from bot.policy import Policy
from bot.priority import priority_score
from bot.rendering import render
from bot.vocabulary import STATUS_LABELS

SHOWN_PER_SECTION = 10
RANKED_PER_LEVEL = 500  # the most urgent by severity and age are scored; a queue that long needs help anyway


# a level's open tickets, most severe and oldest first, with what priority_score needs
_NEXT_DUE = (
    select(func.min(SlaClock.due_at))
    .where(SlaClock.ticket_id == Ticket.id, SlaClock.stopped_at.is_(None), SlaClock.kind != ClockKind.UPDATE,
           SlaClock.due_at.is_not(None))
    .correlate(Ticket)
    .scalar_subquery()
)
_CANDIDATES = (
    select(Ticket.id, Ticket.severity, Ticket.vip, Ticket.revenue_at_risk, Ticket.created_at,
           _NEXT_DUE.label("next_due"))
    .where(Ticket.status.in_(TicketStatus.ACTIVE), Ticket.level == bindparam("level"))
    .order_by(Ticket.severity, Ticket.created_at)
    .limit(RANKED_PER_LEVEL)
)


class HomeTab:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy):
        self.sessions = sessions
        self.policy = policy

    def publish(self, user_id: str) -> None:
        """Owe Slack this user's Home (rendered when sent; a pending one stands for all)."""
        with transaction(self.sessions) as session:
            outbox.publish_homes(session, [user_id])

    @staticmethod
    def refresh_for(session: Session, ticket: Ticket) -> None:
        """A ticket changed: refresh the Home of the people it shows up for as "mine"."""
        outbox.publish_homes(session, {ticket.requester_id, ticket.acknowledged_by, ticket.assignee_id} - {None})

    def render_payload(self, session: Session, payload: dict) -> dict:
        """The renderer behind publish (see bot.delivery.OutboxWorker)."""
        return {"view": self.render(session, payload["user_id"])}

    def render(self, session: Session, user_id: str, now: datetime | None = None) -> dict:
        now = now or utcnow()
        active = select(Ticket).where(Ticket.status.in_(TicketStatus.ACTIVE))
        mine = session.scalars(
            active.where(or_(Ticket.requester_id == user_id, Ticket.acknowledged_by == user_id,
                             Ticket.assignee_id == user_id))
            .order_by(Ticket.severity, Ticket.created_at).limit(SHOWN_PER_SECTION)).all()
        queues = []
        for level in self.policy.levels_of(user_id):
            # the candidates are ranked from the columns the score needs (rows, not ORM
            # objects: up to 500 of them, and this runs in the outbox worker beside the
            # request threads); only the tickets shown are loaded whole
            candidates = session.execute(_CANDIDATES, {"level": level}).all()
            ranked = sorted(((priority_score(row, row.next_due, now, self.policy.priority), row)
                             for row in candidates), key=lambda pair: -pair[0])[:SHOWN_PER_SECTION]
            shown = {ticket.id: ticket for ticket in session.scalars(
                select(Ticket).where(Ticket.id.in_([row.id for _, row in ranked])))}
            rows = [(shown[row.id], score, self._clock_note(row.next_due, now)) for score, row in ranked]
            queues.append((self.policy.level_name(level), len(candidates), rows))
        counts = dict(session.execute(select(Ticket.level, func.count()).where(Ticket.status.in_(TicketStatus.ACTIVE))
                                      .group_by(Ticket.level)).all())
        return render("home.json.j2", mine=mine, queues=queues, status_labels=STATUS_LABELS,
                      level_names={key: level.name for key, level in self.policy.levels.items()},
                      counts=[(level.name, counts.get(key, 0)) for key, level in self.policy.levels.items()])

    @staticmethod
    def _clock_note(due: datetime | None, now: datetime) -> str:
        if due is None:
            return ""
        left = due - now
        return f"breached {format_duration(-left)} ago" if left.total_seconds() <= 0 else f"SLA in {format_duration(left)}"
