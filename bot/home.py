"""The App Home tab: a person's open tickets, their levels' queues ordered by priority
score, and the count of open tickets per level."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
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


class HomeTab:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy):
        self.sessions = sessions
        self.policy = policy

    def publish(self, user_id: str) -> None:
        """Owe Slack this user's Home (rendered when sent; a pending one stands for all)."""
        with transaction(self.sessions) as session:
            self.publish_in(session, user_id)

    def publish_in(self, session: Session, user_id: str) -> None:
        outbox.publish_home(session, user_id=user_id, view={"render": "home", "user_id": user_id})

    def refresh_for(self, session: Session, ticket: Ticket) -> None:
        """A ticket changed: refresh the Home of the people it shows up for as "mine"."""
        for user_id in {ticket.requester_id, ticket.acknowledged_by, ticket.assignee_id} - {None}:
            self.publish_in(session, user_id)

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
            candidates = session.scalars(active.where(Ticket.level == level)
                                         .order_by(Ticket.severity, Ticket.created_at).limit(RANKED_PER_LEVEL)).all()
            due = self._next_due(session, [t.id for t in candidates])
            ranked = sorted(((priority_score(t, due.get(t.id), now, self.policy.priority), t) for t in candidates),
                            key=lambda pair: -pair[0])
            rows = [(t, score, self._clock_note(due.get(t.id), now)) for score, t in ranked[:SHOWN_PER_SECTION]]
            queues.append((self.policy.level_name(level), len(candidates), rows))
        counts = dict(session.execute(select(Ticket.level, func.count()).where(Ticket.status.in_(TicketStatus.ACTIVE))
                                      .group_by(Ticket.level)).all())
        return render("home.json.j2", mine=mine, queues=queues, status_labels=STATUS_LABELS,
                      level_names={key: level.name for key, level in self.policy.levels.items()},
                      counts=[(level.name, counts.get(key, 0)) for key, level in self.policy.levels.items()])

    @staticmethod
    def _next_due(session: Session, ticket_ids: list[int]) -> dict[int, datetime]:
        if not ticket_ids:
            return {}
        rows = session.execute(
            select(SlaClock.ticket_id, func.min(SlaClock.due_at))
            .where(SlaClock.ticket_id.in_(ticket_ids), SlaClock.stopped_at.is_(None),
                   SlaClock.kind != ClockKind.UPDATE, SlaClock.due_at.is_not(None))
            .group_by(SlaClock.ticket_id)).all()
        return {ticket_id: due for ticket_id, due in rows}

    @staticmethod
    def _clock_note(due: datetime | None, now: datetime) -> str:
        if due is None:
            return ""
        left = due - now
        return f"breached {format_duration(-left)} ago" if left.total_seconds() <= 0 else f"SLA in {format_duration(left)}"
