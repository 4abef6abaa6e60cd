"""The monthly review in Slack: last month's figures, prevention lists and charts,
posted to the policy's `review.level` channel on the first working day of each month
(bot.quality.review_schedule), exactly once.

Once: the alert ledger's key `review:<level>:<YYYY-MM>` is claimed in the same
transaction that owes Slack the review (outbox) and its charts (outbox.share_files), so
any number of processes, and restarts, post it once; the outbox delivers the message
and then the charts into its thread, retrying either as it retries anything.
"""
from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import alerts, outbox
from bot.db import transaction
from bot.models import Alert, utcnow
from bot.policy import Policy
from bot.quality.review_content import ReviewDraft, compose, draw_charts
from bot.quality.review_schedule import month_due, month_start

log = logging.getLogger("escalator.quality")

KIND = "review"


class MonthlyReview:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, draw: Callable = draw_charts):
        self.sessions = sessions
        self.policy = policy
        self.draw = draw

    def send_due(self, now: datetime | None = None) -> date | None:
        """Post the review that is due now, unless it was posted; the month posted, or None."""
        month = month_due(self.policy, now or utcnow())
        if month is None or not self.send(month):
            return None
        return month

    def send(self, month: date) -> bool:
        """Owe Slack the review of `month` unless it was owed before; whether it is now."""
        schedule = self.policy.review
        if schedule is None:
            raise ValueError("the policy has no review: {level, at}")
        month = month_start(month)
        threshold = month.strftime("%Y-%m")
        key = alerts.alert_key(None, KIND, schedule.level, threshold, 0)
        with self.sessions() as session:  # every process asks each minute: a look-up, not a month's metrics
            if session.scalar(select(Alert.id).where(Alert.key == key)) is not None:
                return False
            draft = compose(session, self.policy, month, level_key=schedule.level, draw=self.draw)
        with transaction(self.sessions) as session:
            if not alerts.record_once(session, kind=KIND, level=schedule.level, threshold=threshold):
                return False  # another process got there while this one drew
            self._owe(session, draft)
        log.info("monthly review of %s owed to %s (%d charts)", draft.month_name, schedule.level, len(draft.charts))
        return True

    def _owe(self, session: Session, draft: ReviewDraft) -> None:
        level = self.policy.review.level
        channel = self.policy.level(level).channel
        message = outbox.post(session, channel=channel, payload=draft.payload, role="review", level=level)
        if draft.charts:
            outbox.share_files(session, channel=channel, thread=message, files=draft.charts,
                               initial_comment=f"Charts for the {draft.month_name} review")
