"""Delivering the outbox to Slack: claimed safely, in order per thread, paced per channel.

A claim is an UPDATE of rows selected `FOR UPDATE SKIP LOCKED` (PostgreSQL) or
under SQLite's write lock, setting a lease; several processes never claim the same
row. Each send runs in a small thread pool so one slow or failing channel doesn't
hold up the others.

Rows claimed by a process that died are taken over at once: each worker holds a lock
the database server or the kernel drops with the process (bot.liveness), and the orphan
scan releases the claims of owners whose lock is free. The lease stays as the last
resort for an owner that is alive but out of reach.

The one window left: Slack accepts a post and this process dies before it records
the ts. Another attempt would post twice, so every post carries message metadata
naming its outbox row, and a retry first looks for that metadata in the channel (or
thread) history. Only if the history can't be read (missing scope, Slack down) and
the post did land could a duplicate appear.

What came of each send is written back by bot.delivery_records.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot import outbox
from bot.db import transaction
from bot.liveness import Liveness, liveness_for
from bot.liveness.takeover import take_over_dead_claims
from bot.logging_setup import log_context
from bot.metrics import Metrics
from bot.models import PENDING, ChannelPacing, OutboxMessage, SlackMessage, utcnow
from bot.slack_errors import FailureKind, SlackFailure, classify
from bot.delivery_records import DeliveryRecords
from bot.slack_send import Job, NotOurs, RenderFailed, Renderer, SlackSender

log = logging.getLogger("escalator.delivery")

ORPHAN_SCAN_INTERVAL = 2.0  # seconds between scans for rows stuck behind a failed post


def _due_rows():
    """Pending rows that may go out now, oldest first (parameters: see _due_params)."""
    earlier = aliased(OutboxMessage)
    parent = aliased(SlackMessage)
    linked = aliased(SlackMessage)
    target = aliased(SlackMessage)
    now = bindparam("now")
    return (
        select(OutboxMessage.id, OutboxMessage.channel)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.channel.not_in(bindparam("closed_channels", expanding=True)),
            OutboxMessage.not_before <= now,
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            ~exists().where(
                earlier.order_key == OutboxMessage.order_key,
                earlier.id < OutboxMessage.id,
                earlier.status == PENDING,
            ),
            # a reply waits for its thread's root, a link for its target, an update for its post
            or_(OutboxMessage.thread_message_id.is_(None),
                exists().where(parent.id == OutboxMessage.thread_message_id, parent.ts.is_not(None))),
            or_(OutboxMessage.link_message_id.is_(None),
                exists().where(linked.id == OutboxMessage.link_message_id, linked.ts.is_not(None))),
            or_(OutboxMessage.method != "chat.update",
                exists().where(target.id == OutboxMessage.message_id, target.ts.is_not(None))),
        )
        .order_by(OutboxMessage.id)
        .limit(bindparam("batch"))
    )


_DUE = _due_rows()
_CLAIMABLE = _DUE.with_for_update(skip_locked=True, of=OutboxMessage)
_PACED_CHANNELS = select(ChannelPacing.channel).where(ChannelPacing.not_before > bindparam("opens_after"))


@dataclass
class DeliveryOptions:
    concurrency: int = 8
    lease: timedelta = timedelta(seconds=60)
    poll_interval: float = 0.5
    channel_interval: timedelta = timedelta(seconds=1)  # Slack: ~1 message/second/channel
    max_backoff: float = 30.0
    batch: int = 200
    wake_debounce: float = 0.1  # seconds to gather a burst of new rows into one claim
    # claim a paced channel's next row this early and hold it until the channel opens,
    # so the claim's own latency doesn't stretch every per-channel gap
    claim_ahead: timedelta = timedelta(milliseconds=100)




class OutboxWorker:
    """Claims due rows and hands each to a SlackSender (renderers: see there)."""

    def __init__(self, sessions: sessionmaker[Session], client: WebClient, options: DeliveryOptions | None = None,
                 renderers: dict[str, Renderer] | None = None, liveness: Liveness | None = None,
                 metrics: Metrics | None = None):
        self.sessions = sessions
        self.metrics = metrics or Metrics()
        self.client = client
        self.options = options or DeliveryOptions()
        self.liveness = liveness or liveness_for(sessions.kw["bind"])
        self.worker_id = self.liveness.worker_id
        self.renderers = renderers if renderers is not None else {}
        self.sender = SlackSender(sessions, client, self.renderers, self.worker_id, still_ours=self._still_ours)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="outbox")
        self._wake = outbox.subscribe()
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()
        self._next_orphan_scan = 0.0
        self._slot_freed = False
        self.records = DeliveryRecords(sessions, self.worker_id, self.options)

    # --- running ----------------------------------------------------------
    def start(self) -> None:
        self.liveness.hold()  # before the first claim, so none is ever made by a worker that looks dead
        self._thread = threading.Thread(target=self._loop, name="outbox-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        outbox.unsubscribe(self._wake)
        if self._thread:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)
        self.liveness.release()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        """Keep up to `concurrency` sends in flight, one per channel, claiming more as
        each finishes, so a slow or failing channel never holds up the others."""
        while not self._stop.is_set():
            self._wake.clear()
            self._slot_freed = False
            try:
                free = self.options.concurrency - len(self._in_flight)
                claimed = self._dispatch(free) if free > 0 else 0
                if claimed and claimed == free:
                    continue  # more may be due right now
                timeout = self._seconds_until_next_due() if free > 0 else self.options.poll_interval
            except Exception:  # the worker must outlive a database hiccup
                log.exception("outbox: delivery round failed; retrying")
                timeout = self.options.poll_interval
            self._sleep(timeout)

    def _sleep(self, timeout: float) -> None:
        """Until `timeout` has passed, a send has finished, or new rows may be claimable.
        New rows only for channels that are sending or that this process has paced beyond
        the claim-ahead window can't be claimed yet (a claim would skip them), so they
        don't cost one: the send's end, or the wake-up already due for the channel's
        opening, takes them."""
        deadline = time.monotonic() + timeout
        while self._wake.wait(max(0.0, deadline - time.monotonic())):
            if self._slot_freed or self._stop.is_set():
                return
            # woken by new rows: commits come in bursts, gather them into one claim
            self._stop.wait(self.options.wake_debounce)
            channels = self._wake.take()
            if channels is None or not self._all_closed(channels):
                return

    def _all_closed(self, channels: set[str]) -> bool:
        """Whether each channel is sending now (its end wakes us) or paced by us until
        after the claim-ahead window, so a claim would skip its rows anyway."""
        closed_until = utcnow() + self.options.claim_ahead
        with self._in_flight_lock:
            busy = set(self._in_flight)
        return all(channel in busy or self.records.paced_until.get(channel, closed_until) > closed_until
                   for channel in channels)

    def _dispatch(self, limit: int) -> int:
        with self._in_flight_lock:
            busy = set(self._in_flight)
        claimed = self._claim(limit=limit, skip_channels=busy)
        for row_id, channel, opens_at in claimed:
            with self._in_flight_lock:
                self._in_flight.add(channel)
            self._pool.submit(self._deliver_logged, row_id, opens_at).add_done_callback(
                lambda _future, channel=channel: self._finished(channel))
        return len(claimed)

    def _finished(self, channel: str) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(channel)
        self._slot_freed = True
        self._wake.set()

    def _seconds_until_next_due(self) -> float:
        """Sleep until a paced channel opens or a backed-off row comes due, at most a poll."""
        now = utcnow()
        with self.sessions() as session:
            candidates = [
                _minus(session.scalar(select(func.min(ChannelPacing.not_before))
                                      .where(ChannelPacing.not_before > now + self.options.claim_ahead)),
                       self.options.claim_ahead),
                session.scalar(select(func.min(OutboxMessage.not_before)).where(
                    OutboxMessage.status == PENDING, OutboxMessage.not_before > now)),
            ]
        waits = [(moment - now).total_seconds() for moment in candidates if moment is not None]
        return max(0.005, min([self.options.poll_interval, *waits]))

    def run_once(self) -> int:
        """Claim what is due, deliver it and wait for the sends; returns how many rows
        were attempted. (Tests and the demo; the running worker uses _loop.)"""
        claimed = self._claim(limit=self.options.concurrency)
        if claimed:
            list(self._pool.map(lambda claim: self._deliver(claim[0], claim[2]), claimed))
        return len(claimed)

    def drain(self, timeout: float = 10.0) -> bool:
        """Deliver until nothing is pending (the demo and tests); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.run_once():
                if not self.pending():
                    return True
                time.sleep(0.05)
        return False

    def pending(self) -> int:
        with self.sessions() as session:
            return session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == PENDING))

    # --- claiming ---------------------------------------------------------
    def _claim(self, limit: int, skip_channels: set[str] = frozenset()) -> list[tuple[int, str, datetime | None]]:
        """(row id, channel, when the channel opens) of the rows claimed now."""
        if not self.liveness.held and not self.liveness.hold():
            return []  # others would take what we claimed for a dead process's
        now = utcnow()
        scan_orphans = time.monotonic() >= self._next_orphan_scan
        if not scan_orphans:
            # look before locking: most wake-ups find only paced channels, and on SQLite
            # a claim transaction would queue behind (and hold up) every writer
            with self.sessions() as session:
                if session.execute(_DUE, self._due_params(session, now, skip_channels, 1)).first() is None:
                    return []
        with transaction(self.sessions) as session:
            if not self.liveness.confirm(session):
                return []  # the lock went with its database session: others may take our claims
            if scan_orphans:
                self._next_orphan_scan = time.monotonic() + ORPHAN_SCAN_INTERVAL
                take_over_dead_claims(session, self.liveness, now)
                self.records.fail_orphans(session)
            chosen: dict[str, int] = {}
            params = self._due_params(session, now, skip_channels, self.options.batch)
            for row_id, channel in session.execute(_CLAIMABLE, params):
                if len(chosen) == limit:
                    break
                chosen.setdefault(channel, row_id)  # one per channel at a time: pacing
            ids = list(chosen.values())
            if ids:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids))
                    .values(lease_until=now + self.options.lease, claimed_by=self.worker_id,
                            attempts=OutboxMessage.attempts + 1)
                )
                opens = dict(session.execute(select(ChannelPacing.channel, ChannelPacing.not_before)
                                             .where(ChannelPacing.channel.in_(list(chosen)))).all())
            else:
                opens = {}
        return [(row_id, channel, opens.get(channel)) for channel, row_id in chosen.items()]

    def _due_params(self, session: Session, now: datetime, skip_channels: set[str], batch: int) -> dict:
        """The channels sending now or paced beyond the claim-ahead window are left out by
        name, before any per-row check: a paced channel's backlog of thousands of rows
        then costs the claim a comparison per row, not five index lookups."""
        paced = session.scalars(_PACED_CHANNELS, {"opens_after": now + self.options.claim_ahead}).all()
        return {"now": now, "closed_channels": sorted({*paced, *skip_channels}), "batch": batch}

    # --- sending ---------------------------------------------------------
    def _deliver_logged(self, row_id: int, opens_at: datetime | None) -> None:
        """In a pool thread whose future nobody reads: an exception is logged here or lost."""
        try:
            self._deliver(row_id, opens_at)
        except Exception:
            log.exception("outbox: delivering row %s failed; the lease will free it", row_id)

    def _deliver(self, row_id: int, opens_at: datetime | None = None) -> None:
        if opens_at is not None:  # claimed ahead: wait for the channel's turn
            wait = (opens_at - utcnow()).total_seconds()
            if wait > 0:
                time.sleep(min(wait, self.options.claim_ahead.total_seconds()))
        try:
            job = self.sender.load(row_id)
        except RenderFailed as failed:
            log.exception("outbox: could not render row %s", row_id)
            failure = SlackFailure(FailureKind.REJECTED, str(failed))
            self.records.failure(row_id, failure)
            self.metrics.delivery_failed(None, failure)
            return
        if job is None:
            return
        with log_context(ticket=job.ticket_key, slack_method=job.method, event="delivery"):
            self._send(job)

    def _send(self, job: Job) -> None:
        row_id = job.row_id
        try:
            result = self.sender.deliver(job)
        except NotOurs:  # others may already be taking this row over: leave it to them
            log.warning("outbox: lost this process's lock before sending row %s; leaving it to others", row_id)
            self.records.let_go(row_id)
            return
        except Exception as exc:  # classify every failure; never lose the row
            failure = classify(exc)
            self.records.failure(row_id, failure)
            self.metrics.delivery_failed(job.method, failure)
            return
        self.records.success(row_id, result)
        self.metrics.delivered(job.method, result, job.alert, utcnow())

    def _still_ours(self, row_id: int) -> bool:
        """Just before the Slack call: our lock is held (asked of the database, not the cached
        flag) and the row is still claimed by us (not taken over while the lock was lost
        and taken back)."""
        with self.sessions() as session:
            return self.liveness.confirm(session) and session.scalar(
                select(OutboxMessage.claimed_by).where(OutboxMessage.id == row_id)) == self.worker_id

def _minus(moment: datetime | None, delta: timedelta) -> datetime | None:
    return moment - delta if moment is not None else None
