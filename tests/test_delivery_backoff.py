"""When a failed send is tried again (bot.delivery_records): after a Slack server error,
1 s, 2 s, 4 s … (up to max_backoff, less up to a fifth of jitter) from the failure;
after a 429, the channel waits out Retry-After (1 s without one) and the refused call
does not count as an attempt. A retry too soon hammers a struggling Slack; too late
delays an alert."""
from __future__ import annotations

import dataclasses
import logging

import pytest
from sqlalchemy import update

from bot import outbox
from bot.db import transaction
from bot.models import ChannelPacing, OutboxMessage, OutboxStatus, utcnow
from bot.slack_errors import FailureKind, SlackFailure
from tests.harness import FAST_DELIVERY, Harness
from tests.processes import claim

OPTIONS = dataclasses.replace(FAST_DELIVERY, max_backoff=30.0)


@pytest.fixture
def claimed(database_url):
    """(harness, row id) of a message claimed by the (stopped) worker."""
    with Harness(database_url, delivery=OPTIONS, start_worker=False) as h:
        h.sim.add_channel("C0RETRY", "retry")
        with transaction(h.runtime.sessions) as session:
            outbox.post(session, channel="C0RETRY", payload={"text": "hello"}, role="note")
        h.runtime.worker.liveness.hold()
        [(row_id, _, _)] = claim(h.runtime.worker)
        yield h, row_id


def fail(h: Harness, row_id: int, failure: SlackFailure, attempts: int | None = None):
    """Record the failure of the claimed row (its attempt number set first); returns
    (seconds from the failure to the row's next try, the row)."""
    if attempts is not None:
        with transaction(h.runtime.sessions) as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(attempts=attempts))
    before = utcnow()
    h.runtime.worker.records.failure(row_id, failure)
    with h.runtime.sessions() as session:
        row = session.get(OutboxMessage, row_id)
        session.expunge(row)
    return (row.not_before - before).total_seconds(), row


def logged(caplog) -> list[tuple[int, str]]:
    """What the failure's record told the operator (the delivery logger's lines)."""
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "escalator.delivery"]


@pytest.mark.parametrize("attempts, backoff", [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (40, 30.0)])
def test_a_server_error_is_retried_after_a_backoff_doubling_per_attempt(claimed, attempts, backoff, caplog):
    h, row_id = claimed
    with caplog.at_level(logging.INFO, logger="escalator.delivery"):
        wait, row = fail(h, row_id, SlackFailure(FailureKind.SERVER_ERROR, "internal_error"), attempts)
    assert 0.8 * backoff - 0.05 <= wait <= backoff + 0.05, f"retry in {wait:.2f}s, not {0.8 * backoff}–{backoff}s"
    assert row.status == OutboxStatus.PENDING and row.lease_until is None and row.attempts == attempts
    assert row.last_error == "Slack server error (internal_error)"
    assert logged(caplog) == [(logging.WARNING, f"outbox: Slack server error (internal_error) delivering row "
                                                f"{row_id} to C0RETRY; retry in {backoff:.0f}s")]


@pytest.mark.parametrize("retry_after, wait", [(3.0, 3.0), (None, 1.0)])
def test_a_429_paces_the_channel_for_retry_after_and_costs_no_attempt(claimed, retry_after, wait, caplog):
    h, row_id = claimed
    before = utcnow()
    with caplog.at_level(logging.INFO, logger="escalator.delivery"):
        _, row = fail(h, row_id, SlackFailure(FailureKind.RATE_LIMITED, "ratelimited", retry_after=retry_after))
    assert logged(caplog) == [(logging.INFO, f"outbox: rate limited on C0RETRY; waiting {retry_after}s")]
    assert row.attempts == 0 and row.status == OutboxStatus.PENDING and row.lease_until is None
    with h.runtime.sessions() as session:
        opens = session.get(ChannelPacing, "C0RETRY").not_before
    assert wait - 0.05 <= (opens - before).total_seconds() <= wait + 0.5
    paced = h.runtime.worker.records.paced_until["C0RETRY"]
    assert wait - 0.05 <= (paced - before).total_seconds() <= wait + 0.5


def test_a_refused_message_fails_at_once_and_says_why(claimed):
    h, row_id = claimed
    _, row = fail(h, row_id, SlackFailure(FailureKind.REJECTED, "invalid_blocks"))
    assert row.status == OutboxStatus.FAILED and row.last_error == "rejected by Slack (invalid_blocks)"
