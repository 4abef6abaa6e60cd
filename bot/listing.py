"""`/escalate list [mine|LEVEL]`: open tickets, most severe and oldest first, a page at a time."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.models import Ticket, TicketStatus
from bot.policy import Policy

PAGE_SIZE = 10


@dataclass(frozen=True)
class TicketPage:
    title: str
    scope: str  # mine, a level key, or "" for everything
    tickets: list[Ticket]
    total: int
    page: int  # from 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @property
    def has_previous(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return self.page + 1 < self.pages


class TicketListing:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy):
        self.sessions = sessions
        self.policy = policy

    def page(self, scope: str, user_id: str, page: int = 0) -> TicketPage:
        """Open tickets: `mine` (opened by, acknowledged by, assigned to the user, or at
        one of the user's levels), a level key, or all. A page past the end shows the last."""
        query = select(Ticket).where(Ticket.status.in_(TicketStatus.ACTIVE))
        if scope == "mine":
            title = "Your open escalations"
            query = query.where((Ticket.requester_id == user_id) | (Ticket.acknowledged_by == user_id)
                                | (Ticket.assignee_id == user_id)
                                | Ticket.level.in_(self.policy.levels_of(user_id) or ["-"]))
        elif scope in self.policy.levels:
            title = f"Open escalations at {self.policy.level_name(scope)}"
            query = query.where(Ticket.level == scope)
        else:
            scope, title = "", "Open escalations"
        with self.sessions() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            capacity = self.policy.levels[scope].capacity if scope in self.policy.levels else None
            if capacity is not None:  # bot.coverage: load against capacity
                title += f" · load {total}/{capacity}" + (" (full)" if total >= capacity else "")
            last = max(0, -(-total // PAGE_SIZE) - 1)
            page = min(max(0, page), last)
            rows = session.scalars(query.order_by(Ticket.severity, Ticket.created_at, Ticket.id)
                                   .offset(page * PAGE_SIZE).limit(PAGE_SIZE)).all()
        return TicketPage(title, scope, list(rows), total, page)
