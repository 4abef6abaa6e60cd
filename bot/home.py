"""The App Home tab: a person's open tickets, their levels' queues ordered by priority
score, and the count of open tickets per level."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import bindparam, case, extract, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot import outbox
from bot.db import transaction
from bot.durations import format_duration
from bot.models import ClockKind, SlaClock, Ticket, TicketStatus, utcnow
from bot.policy import Policy, PriorityWeights
from bot.priority import priority_score
from bot.rendering import render
from bot.vocabulary import STATUS_LABELS

SHOWN_PER_SECTION = 10


# the soonest running response or time-limit deadline of each ticket (update reminders don't rank)
_NEXT_DUE = (
    select(func.min(SlaClock.due_at))
    .where(SlaClock.ticket_id == Ticket.id, SlaClock.stopped_at.is_(None), SlaClock.kind != ClockKind.UPDATE,
           SlaClock.due_at.is_not(None))
    .correlate(Ticket)
    .scalar_subquery()
)


def most_urgent(weights: PriorityWeights, limit: int = SHOWN_PER_SECTION):
    """A level's open tickets ranked by priority_score in SQL (parameters: level, now,
    within_hour = now + 1 h). The score's age term is weight x (now - created_at); `now`
    is the same for every row, so the ranking uses -weight x created_at and the database
    ranks the whole queue without handing each row to Python. The score shown is
    priority_score of the rows returned."""
    queue = (
        select(Ticket.id, Ticket.severity, Ticket.vip, Ticket.revenue_at_risk, Ticket.created_at,
               _NEXT_DUE.label("next_due"))
        .where(Ticket.status.in_(TicketStatus.ACTIVE), Ticket.level == bindparam("level"))
        .subquery()
    )
    rank = (
        case({severity: weight for severity, weight in weights.severity}, value=queue.c.severity, else_=0)
        + case((queue.c.vip, weights.vip), else_=0)
        + func.coalesce(queue.c.revenue_at_risk, 0) * (weights.per_thousand_revenue / 1000)
        - extract("epoch", queue.c.created_at) * (weights.per_hour_open / 3600)
        + case((queue.c.next_due <= bindparam("now"), weights.breached),
               (queue.c.next_due <= bindparam("within_hour"), weights.due_within_hour), else_=0)
    )
    return select(queue).order_by(rank.desc(), queue.c.severity, queue.c.created_at).limit(limit)


class HomeTab:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy):
        self.sessions = sessions
        self.policy = policy
        self._most_urgent = most_urgent(policy.priority)

    def publish(self, user_id: str) -> None:
        """Owe Slack this user's Home (rendered when sent; a pending one stands for all)."""
        with transaction(self.sessions) as session:
            outbox.publish_homes(session, [user_id])

    @staticmethod
    def refresh_for(session: Session, tickets: Iterable[Ticket], were_with: Iterable[str | None] = ()) -> None:
        """Tickets changed: refresh the Home of the people they show up for as "mine", and of
        those they showed up for until now (`were_with`), whose Home would still list them."""
        outbox.publish_homes(session, {person for ticket in tickets for person in (
            ticket.requester_id, ticket.acknowledged_by, ticket.assignee_id, *were_with) if person is not None})

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
        counts = dict(session.execute(select(Ticket.level, func.count()).where(Ticket.status.in_(TicketStatus.ACTIVE))
                                      .group_by(Ticket.level)).all())
        queues = []
        for level in self.policy.levels_of(user_id):
            # ranked by the database (this runs in the outbox worker beside the request
            # threads: scoring a long queue row by row in Python held them up); only the
            # tickets shown are loaded whole
            ranked = session.execute(self._most_urgent,
                                     {"level": level, "now": now, "within_hour": now + timedelta(hours=1)}).all()
            shown = {ticket.id: ticket for ticket in session.scalars(
                select(Ticket).where(Ticket.id.in_([row.id for row in ranked])))}
            rows = [(shown[row.id], priority_score(row, row.next_due, now, self.policy.priority),
                     self._clock_note(row.next_due, now)) for row in ranked]
            queues.append((self.policy.level_name(level), counts.get(level, 0), rows))
        return render("home.json.j2", mine=mine, queues=queues, status_labels=STATUS_LABELS,
                      level_names={key: level.name for key, level in self.policy.levels.items()},
                      counts=[(level.name, counts.get(key, 0), level.capacity)
                              for key, level in self.policy.levels.items()])

    @staticmethod
    def _clock_note(due: datetime | None, now: datetime) -> str:
        if due is None:
            return ""
        left = due - now
        return f"breached {format_duration(-left)} ago" if left.total_seconds() <= 0 else f"SLA in {format_duration(left)}"
