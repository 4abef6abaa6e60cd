"""The ledger of Slack event ids already handled (Slack retries a delivery up to 3 times)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import transaction
from bot.models import ProcessedEvent, utcnow

# Slack's last retry comes about 5 minutes after the first delivery.
KEEP_FOR = timedelta(days=1)


class EventLedger:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def claim(self, event_id: str) -> bool:
        """True the first time an event id is seen, in this or any other process."""
        try:
            with transaction(self.sessions) as session:
                session.add(ProcessedEvent(event_id=event_id[:64], received_at=utcnow()))
            return True
        except IntegrityError:
            return False

    def release(self, event_id: str) -> None:
        """Forget an event whose handling failed, so Slack's retry can try again."""
        with transaction(self.sessions) as session:
            session.execute(delete(ProcessedEvent).where(ProcessedEvent.event_id == event_id[:64]))

    def prune(self) -> int:
        with transaction(self.sessions) as session:
            result = session.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < utcnow() - KEEP_FOR))
            return result.rowcount or 0
