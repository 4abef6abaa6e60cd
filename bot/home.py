"""The App Home tab: a person's open tickets and their levels' queues."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot import outbox
from bot.db import transaction
from bot.models import Ticket, TicketStatus
from bot.policy import Policy
from bot.rendering import render
from bot.vocabulary import STATUS_LABELS

SHOWN_PER_SECTION = 10


class HomeTab:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy):
        self.sessions = sessions
        self.policy = policy

    def publish(self, user_id: str) -> None:
        """Owe Slack a views.publish of this user's Home; a newer one replaces one not yet sent."""
        with transaction(self.sessions) as session:
            outbox.publish_home(session, user_id=user_id, view=self.render(session, user_id))

    def render(self, session: Session, user_id: str) -> dict:
        active = select(Ticket).where(Ticket.status.in_(TicketStatus.ACTIVE))
        by_urgency = (Ticket.severity, Ticket.created_at)
        mine = session.scalars(
            active.where(or_(Ticket.requester_id == user_id, Ticket.acknowledged_by == user_id))
            .order_by(*by_urgency).limit(SHOWN_PER_SECTION)).all()
        queues = []
        for level in self.policy.levels_of(user_id):
            in_level = active.where(Ticket.level == level)
            total = session.scalar(select(func.count()).select_from(in_level.subquery()))
            tickets = session.scalars(in_level.order_by(*by_urgency).limit(SHOWN_PER_SECTION)).all()
            queues.append((self.policy.level_name(level), total, tickets))
        return render("home.json.j2", mine=mine, queues=queues, status_labels=STATUS_LABELS,
                      level_names={key: level.name for key, level in self.policy.levels.items()})
