"""Gauges read from the database when /metrics is scraped: the outbox backlog (all of it,
and the part this process has claimed) and the open tickets by level and severity.
Every process reads the same rows, so on a shared PostgreSQL database they agree."""
from __future__ import annotations

import logging
from typing import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.models import PENDING, OutboxMessage, Ticket, TicketStatus, utcnow
from bot.policy import Policy

log = logging.getLogger("escalator.metrics")

_BACKLOG = select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.status == PENDING)
_OPEN_TICKETS = (select(Ticket.level, Ticket.severity, func.count())
                 .where(Ticket.status.in_(TicketStatus.ACTIVE)).group_by(Ticket.level, Ticket.severity))


class DatabaseGauges(Collector):
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, worker_id: str):
        self.sessions = sessions
        self.policy = policy
        self.worker_id = worker_id

    def describe(self) -> list:
        return []  # read at scrape time only: registering must not query the database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("escalator_database_up", "1 when this scrape could read the database, else 0")
        try:
            with self.sessions() as session:
                backlog = session.execute(_BACKLOG).one()
                claimed = session.execute(_BACKLOG.where(OutboxMessage.claimed_by == self.worker_id)).one()
                open_tickets = session.execute(_OPEN_TICKETS).all()
        except Exception:
            log.exception("metrics: could not read the database")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = utcnow()
        yield _gauge("escalator_outbox_pending_messages",
                     "Outbox rows waiting to be delivered to Slack (all processes)", backlog[0])
        yield _gauge("escalator_outbox_oldest_pending_age_seconds",
                     "Age of the oldest outbox row still waiting, 0 when none (all processes)",
                     _age(now, backlog[1]))
        yield _gauge("escalator_outbox_claimed_messages",
                     "Outbox rows this process has claimed and not yet delivered", claimed[0])
        yield _gauge("escalator_outbox_claimed_oldest_age_seconds",
                     "Age of the oldest outbox row this process has claimed, 0 when none", _age(now, claimed[1]))
        counts = {(level, severity): 0 for level in self.policy.levels for severity in self.policy.severities}
        counts.update({(level, severity): count for level, severity, count in open_tickets})
        tickets = GaugeMetricFamily("escalator_open_tickets", "Tickets not yet resolved, by level and severity",
                                    labels=["level", "severity"])
        for (level, severity), count in sorted(counts.items()):
            tickets.add_metric([level, severity], count)
        yield tickets


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _age(now, oldest) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
