"""The ledger of Slack event ids already handled (Slack retries a delivery up to 3 times)."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import transaction
from bot.liveness import Liveness
from bot.models import ProcessedEvent, utcnow

log = logging.getLogger("escalator.events")

# Slack's last retry comes about 5 minutes after the first delivery.
KEEP_FOR = timedelta(days=1)


class EventLedger:
    """liveness: this process's (its outbox worker's), naming it as each event's handler."""

    def __init__(self, sessions: sessionmaker[Session], liveness: Liveness | None = None):
        self.sessions = sessions
        self.liveness = liveness

    def claim(self, event_id: str, *, take_over: bool = True) -> bool:
        """True the first time an event id is seen, in this or any other process, and for a
        retry of one whose process died before it answered Slack (Slack retries because it
        got no answer). Handling an event again changes nothing twice: a reply is kept by
        its ts, a Home is published whole. take_over=False for what is not idempotent
        (an interaction: a second ticket): a dead process's claim then stands."""
        event_id = event_id[:64]
        try:
            with transaction(self.sessions) as session:
                session.add(ProcessedEvent(event_id=event_id, received_at=utcnow(), claimed_by=self._me))
            return True
        except IntegrityError:
            return take_over and self._take_over(event_id)

    def _take_over(self, event_id: str) -> bool:
        if self.liveness is None:
            return False
        with transaction(self.sessions) as session:
            event = session.get(ProcessedEvent, event_id, with_for_update=True)
            if event is None or not event.claimed_by or not self.liveness.is_dead(session, event.claimed_by):
                return False  # handled, or being handled by a process that is alive
            log.warning("event %s was claimed by %s, a process that is gone; handling Slack's retry",
                        event_id, event.claimed_by)
            event.claimed_by = self._me
            return True

    @property
    def _me(self) -> str | None:
        return self.liveness.worker_id if self.liveness is not None else None

    def handled(self, event_id: str) -> None:
        """The handler finished: the event is no longer any process's to finish, so a late
        retry is dropped even once this process is gone (replaying an older edit over a
        newer one would not be harmless)."""
        with transaction(self.sessions) as session:
            session.execute(update(ProcessedEvent).where(ProcessedEvent.event_id == event_id[:64])
                            .values(claimed_by=None))

    def release(self, event_id: str) -> None:
        """Forget an event whose handling failed, so Slack's retry can try again."""
        with transaction(self.sessions) as session:
            session.execute(delete(ProcessedEvent).where(ProcessedEvent.event_id == event_id[:64]))

    def prune(self) -> int:
        with transaction(self.sessions) as session:
            result = session.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < utcnow() - KEEP_FOR))
            return result.rowcount or 0
