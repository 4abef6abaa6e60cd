"""Starting, stopping, pausing and recomputing a ticket's SLA clocks.

Called by the desk inside its transactions, so a ticket change and its clocks'
new deadlines are stored together. Each stay in a level is a cycle with its own
clocks; re-entering a level starts a new cycle.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.calendar import calendar_for
from bot.models import ClockKind, SlaClock, Ticket, TicketPause, TicketStatus
from bot.policy import Policy
from bot.sla.deadlines import Pause, deadline

_INSERT_CLOCK = insert(SlaClock.__table__)
_CLOCK_COLUMNS = tuple(column.key for column in SlaClock.__table__.columns if column.key != "id")
_CLOCKS = SlaClock.__table__
_STOP_ALL = (update(_CLOCKS)
             .where(_CLOCKS.c.ticket_id == bindparam("clock_ticket"), _CLOCKS.c.cycle == bindparam("clock_cycle"),
                    _CLOCKS.c.stopped_at.is_(None))
             .values(stopped_at=bindparam("now"), stop_reason=bindparam("reason"), next_check_at=None))
_STOP_KIND = _STOP_ALL.where(_CLOCKS.c.kind == bindparam("clock_kind"))


class ClockBook:
    def __init__(self, policy: Policy):
        self.policy = policy

    # --- targets ----------------------------------------------------------------
    def target(self, ticket: Ticket, kind: str, level: str) -> timedelta | None:
        severity = self.policy.severities[ticket.severity]
        if kind == ClockKind.RESPONSE:
            return severity.response
        if kind == ClockKind.TIME_LIMIT:
            # P4 requests wait in planning and never escalate by themselves
            return None if ticket.severity == "P4" else self.policy.time_limits.get(level)
        return severity.update_every

    # --- lifecycle ----------------------------------------------------------------
    def start_cycle(self, session: Session, ticket: Ticket, now: datetime) -> None:
        """Entering a level: the response clock and the level's time limit start."""
        self._start(session, [(ticket, ClockKind.RESPONSE), (ticket, ClockKind.TIME_LIMIT)], now)

    def acknowledged(self, session: Session, tickets: Sequence[Ticket], now: datetime) -> None:
        self._stop(session, tickets, now, "acknowledged", kind=ClockKind.RESPONSE)
        self._start(session, [(ticket, ClockKind.UPDATE) for ticket in tickets], now)

    def progress_posted(self, session: Session, ticket: Ticket, now: datetime) -> None:
        """A note in the thread: the progress-update cadence starts over."""
        clock = self._running(session, ticket, ClockKind.UPDATE)
        if clock is not None:
            clock.started_at, clock.warned = now, False
            self.recompute(session, ticket, clock)

    def stop_cycle(self, session: Session, ticket: Ticket, now: datetime, reason: str) -> None:
        self._stop(session, [ticket], now, reason)

    def recompute_all(self, session: Session, ticket: Ticket) -> None:
        """After a pause, a resume or a severity change: same starts, new deadlines."""
        for clock in self.running(session, ticket):
            target = self.target(ticket, clock.kind, clock.level)
            if target is None:
                clock.stopped_at, clock.stop_reason, clock.next_check_at = clock.started_at, "not applicable", None
                continue
            clock.target_seconds = int(target.total_seconds())
            self.recompute(session, ticket, clock)

    def recompute(self, session: Session, ticket: Ticket, clock: SlaClock, *, fresh: bool = False,
                  pauses: list[Pause] | None = None) -> None:
        """fresh: the clock starts now, so only a pause still open can matter;
        pauses: the ticket's pauses when the caller has them already."""
        calendar = calendar_for(self.policy, clock.level)
        if pauses is None:
            pauses = [] if fresh and ticket.status != TicketStatus.WAITING else self.pauses(session, ticket)
        target = timedelta(seconds=clock.target_seconds)
        clock.due_at = deadline(calendar, clock.started_at, target, pauses)
        warns = clock.kind != ClockKind.UPDATE
        clock.warn_at = deadline(calendar, clock.started_at, target * self.policy.warn_at, pauses) if warns else None
        clock.next_check_at = self.next_check(clock)

    @staticmethod
    def next_check(clock: SlaClock) -> datetime | None:
        if clock.stopped_at is not None or clock.due_at is None:
            return None
        if clock.kind != ClockKind.UPDATE and not clock.warned and clock.warn_at is not None:
            return clock.warn_at
        return None if clock.breached else clock.due_at

    # --- queries --------------------------------------------------------------------
    @staticmethod
    def running(session: Session, ticket: Ticket) -> list[SlaClock]:
        return list(session.scalars(
            select(SlaClock).where(SlaClock.ticket_id == ticket.id, SlaClock.cycle == ticket.cycle,
                                   SlaClock.stopped_at.is_(None)).order_by(SlaClock.id)))

    @staticmethod
    def pauses(session: Session, ticket: Ticket) -> list[Pause]:
        rows = session.scalars(select(TicketPause).where(TicketPause.ticket_id == ticket.id)
                               .order_by(TicketPause.started_at))
        return [Pause(row.started_at, row.ended_at, row.reason) for row in rows]

    # --- helpers --------------------------------------------------------------------
    def _running(self, session: Session, ticket: Ticket, kind: str) -> SlaClock | None:
        return next((c for c in self.running(session, ticket) if c.kind == kind), None)

    def _start(self, session: Session, starts: Sequence[tuple[Ticket, str]], now: datetime) -> None:
        """New clocks, (ticket, kind) each: their deadlines are computed here and the rows
        written with one statement (every acknowledgment and every move starts clocks)."""
        rows = []
        for ticket, kind in starts:
            target = self.target(ticket, kind, ticket.level)
            if target is None:
                continue
            clock = SlaClock(ticket_id=ticket.id, kind=kind, level=ticket.level, cycle=ticket.cycle,
                             started_at=now, target_seconds=int(target.total_seconds()),
                             warned=False, breached=False, stopped_at=None, stop_reason=None)
            self.recompute(session, ticket, clock, fresh=True)
            rows.append({column: getattr(clock, column) for column in _CLOCK_COLUMNS})
        if rows:
            session.flush()  # the ticket rows first
            session.connection().execute(_INSERT_CLOCK, rows)

    @staticmethod
    def _stop(session: Session, tickets: Sequence[Ticket], now: datetime, reason: str,
              kind: str | None = None) -> None:
        """One statement. Clocks of the tickets this session loaded already are expired,
        so they are read again rather than keep their old values."""
        session.flush()
        session.connection().execute(_STOP_KIND if kind else _STOP_ALL, [
            {"clock_ticket": ticket.id, "clock_cycle": ticket.cycle, "now": now, "reason": reason, "clock_kind": kind}
            for ticket in tickets])
        ticket_ids = {ticket.id for ticket in tickets}
        for loaded in list(session.identity_map.values()):
            if isinstance(loaded, SlaClock) and loaded.ticket_id in ticket_ids:
                session.expire(loaded)
