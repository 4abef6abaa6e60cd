"""The monthly review: checked every minute, posted once a month (see bot/quality/review.py,
which logs what it owed)."""
from __future__ import annotations

from bot.models import utcnow
from bot.runtime import Runtime


def schedule(scheduler, runtime: Runtime) -> None:
    if runtime.policy.review is None:
        return
    scheduler.add_job(send_review, "interval", minutes=1, args=[runtime], id="monthly_review",
                      misfire_grace_time=None, coalesce=True,
                      next_run_time=utcnow())  # a review missed while down goes out at once on start


def send_review(runtime: Runtime) -> None:
    runtime.review.send_due()
