"""When the monthly review is due: on the first working day of each month (the review
level's business calendar, bot.calendar) at the policy's `review.at`, local time.

A process that was down then posts it when it comes back, any time in that month (the
alert ledger keeps it to once); after the month is over, that review is no longer due.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from bot.calendar import calendar_for
from bot.policy import Policy


def month_start(day: date) -> date:
    return day.replace(day=1)


def previous_month(month: date) -> date:
    return month_start(month_start(month) - timedelta(days=1))


def next_month(month: date) -> date:
    return month_start(month_start(month) + timedelta(days=32))


def first_working_day(policy: Policy, level_key: str, month: date) -> date:
    """The month's first day the level's calendar opens (the 1st when it never does, or 24x7)."""
    calendar = calendar_for(policy, level_key)
    day = month_start(month)
    while day.month == month.month:
        if calendar.works_on(day):
            return day
        day += timedelta(days=1)
    return month_start(month)


def review_moment(policy: Policy, month: date) -> datetime:
    """When the review of the month before `month` is posted (aware, the policy's time zone)."""
    assert policy.review is not None
    day = first_working_day(policy, policy.review.level, month)
    return datetime.combine(day, time.fromisoformat(policy.review.at), tzinfo=policy.timezone)


def month_due(policy: Policy, now: datetime) -> date | None:
    """The month whose review is due at `now` (its first day), or None."""
    if policy.review is None:
        return None
    local = now.astimezone(policy.timezone)
    this_month = month_start(local.date())
    if local < review_moment(policy, this_month):
        return None
    return previous_month(this_month)


def month_range(policy: Policy, month: date) -> tuple[datetime, datetime]:
    """[start, end) of a month in the policy's time zone, as aware datetimes."""
    start = datetime.combine(month_start(month), time(0), tzinfo=policy.timezone)
    end = datetime.combine(next_month(month), time(0), tzinfo=policy.timezone)
    return start, end
