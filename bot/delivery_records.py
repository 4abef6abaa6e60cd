"""What came of a send, written back to its outbox row: sent (and the channel paced),
retried later, failed for good (with what depended on it), or let go.

A process records a row only while it is still its own: if this process lost its
liveness lock while it sent, another may have taken the row over, and that one records
it, having first looked in Slack for what this process may have posted."""
from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.db import transaction
from bot.models import PENDING, ChannelPacing, OutboxMessage, OutboxStatus, utcnow
from bot.slack_errors import FailureKind, SlackFailure

if TYPE_CHECKING:
    from bot.delivery import DeliveryOptions

log = logging.getLogger("escalator.delivery")


class DeliveryRecords:
    """paced_until: channel -> until when this process paced it (the shared row may say
    later), so the worker's wake-ups skip channels it knows are closed."""

    def __init__(self, sessions: sessionmaker[Session], worker_id: str, options: "DeliveryOptions"):
        self.sessions = sessions
        self.worker_id = worker_id
        self.options = options
        self.paced_until: dict[str, datetime] = {}

    def ours(self, session: Session, row_id: int) -> OutboxMessage | None:
        """The claimed row, locked, unless another process took it over meanwhile (this one
        lost its liveness lock while it sent): then the taker records it, having first
        looked in Slack for what this process may have posted."""
        row = session.get(OutboxMessage, row_id, with_for_update=True, populate_existing=True)
        if row is not None and row.status == OutboxStatus.PENDING and row.claimed_by == self.worker_id:
            return row
        log.warning("outbox: row %s was taken over by another process while this one sent it", row_id)
        return None

    def let_go(self, row_id: int) -> None:
        with transaction(self.sessions) as session:
            session.execute(update(OutboxMessage)
                            .where(OutboxMessage.id == row_id, OutboxMessage.claimed_by == self.worker_id)
                            .values(lease_until=None, claimed_by=None, attempts=OutboxMessage.attempts - 1))

    def success(self, row_id: int, result: dict) -> None:
        now = utcnow()
        with transaction(self.sessions) as session:
            if (row := self.ours(session, row_id)) is None:
                return
            row.status, row.sent_at, row.lease_until, row.last_error = OutboxStatus.SENT, now, None, None
            if result.get("ts") and row.message is not None:
                row.message.ts = result["ts"]
                row.message.thread_ts = result.get("thread_ts")
            if result.get("found_earlier"):
                return  # posted long ago: the channel's next message needn't wait a turn for it
            self._pace(session, row.channel, now + self.options.channel_interval)
        self.paced(row.channel, now + self.options.channel_interval)

    def failure(self, row_id: int, failure: SlackFailure) -> None:
        now = utcnow()
        with transaction(self.sessions) as session:
            if (row := self.ours(session, row_id)) is None:
                return
            row.lease_until, row.last_error = None, str(failure)
            if failure.kind is FailureKind.RATE_LIMITED:
                row.attempts -= 1  # Slack refused before doing anything: not a failed attempt
                self._pace(session, row.channel, now + timedelta(seconds=failure.retry_after or 1))
                self.paced(row.channel, now + timedelta(seconds=failure.retry_after or 1))
                log.info("outbox: rate limited on %s; waiting %ss", row.channel, failure.retry_after)
            elif failure.kind.retryable:
                backoff = min(self.options.max_backoff, 2 ** min(row.attempts - 1, 10))
                row.not_before = now + timedelta(seconds=backoff * random.uniform(0.8, 1.0))
                log.warning("outbox: %s delivering row %s to %s; retry in %.0fs",
                            failure, row.id, row.channel, backoff)
            else:
                self._fail_permanently(session, row, failure)

    def _fail_permanently(self, session: Session, row: OutboxMessage, failure: SlackFailure) -> None:
        row.status = OutboxStatus.FAILED
        ticket = f"ESC-{row.ticket_id}" if row.ticket_id else "no ticket"
        log.error("outbox: giving up on row %s (%s, %s to %s): %s. The ticket is unchanged; "
                  "fix the channel in the policy or invite the bot, then re-queue.",
                  row.id, ticket, row.method, row.channel, failure)
        if row.method != "chat.postMessage" or row.message_id is None:
            return
        dependants = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.status == PENDING,
                or_(OutboxMessage.thread_message_id == row.message_id,
                    OutboxMessage.link_message_id == row.message_id,
                    and_(OutboxMessage.method == "chat.update", OutboxMessage.message_id == row.message_id)),
            )
        ).all()
        for dependant in dependants:
            self._give_up_on_dependant(session, dependant, row.id, failure.kind)

    def _give_up_on_dependant(self, session: Session, row: OutboxMessage, failed_row_id: int,
                              kind: FailureKind) -> None:
        """A reply in a lost thread, or an update of a lost message, can't be sent; a
        message that only links to a lost one goes out with the link's label as text."""
        failed = session.get(OutboxMessage, failed_row_id)
        only_links = (row.link_message_id == failed.message_id and row.thread_message_id != failed.message_id
                      and not (row.method == "chat.update" and row.message_id == failed.message_id))
        if only_links:
            row.link_message_id = None
            return
        self._fail_permanently(session, row, SlackFailure(kind, f"depends on row {failed_row_id}"))

    def paced(self, channel: str, not_before: datetime) -> None:
        if self.paced_until.get(channel, not_before) <= not_before:
            self.paced_until[channel] = not_before

    @staticmethod
    def _pace(session: Session, channel: str, not_before: datetime) -> None:
        pacing = session.get(ChannelPacing, channel, with_for_update=True)
        if pacing is None:
            try:
                with session.begin_nested():
                    session.add(ChannelPacing(channel=channel, not_before=not_before))
                return
            except IntegrityError:  # another process added it first
                pacing = session.get(ChannelPacing, channel, with_for_update=True, populate_existing=True)
        if pacing.not_before < not_before:
            pacing.not_before = not_before

    def fail_orphans(self, session: Session) -> None:
        """Fail rows that wait for a post which has already failed for good.

        _fail_permanently fails the dependants it can see, but a row recorded later
        (a note in the thread of a briefing whose channel is gone, recorded when
        someone acknowledges the ticket) would otherwise stay pending forever."""
        failed = aliased(OutboxMessage)
        waits_for_failed = and_(
            failed.status == OutboxStatus.FAILED,
            failed.method == "chat.postMessage",
            failed.message_id.is_not(None),
            or_(failed.message_id == OutboxMessage.thread_message_id,
                failed.message_id == OutboxMessage.link_message_id,
                and_(OutboxMessage.method == "chat.update", failed.message_id == OutboxMessage.message_id)),
        )
        orphans = session.execute(
            select(OutboxMessage, failed.id, failed.last_error)
            .join(failed, waits_for_failed)
            .where(OutboxMessage.status == PENDING)
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True, of=OutboxMessage)
        ).all()
        for row, failed_id, failed_error in orphans:
            if row.status != OutboxStatus.PENDING:  # waits for two failed posts, or failed as a dependant
                continue
            kind = next((k for k in FailureKind if (failed_error or "").startswith(k.value)), FailureKind.REJECTED)
            self._give_up_on_dependant(session, row, failed_id, kind)
