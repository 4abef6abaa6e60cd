"""Who a rotation puts on call at a moment, and when it hands over next (pure rules).

Handoffs happen at a wall-clock time in the policy's time zone, every `every_days`
days from an anchor day (the first `handoff_day` on or after `start`, or after a
fixed epoch). Counting in local days, not seconds, keeps "Monday 09:00" at 09:00
across DST. A handoff time a DST change skips or repeats is read as business hours
read theirs (bot.calendar.resolve_wall_time): at the jump itself, or the first time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.calendar import resolve_wall_time
from bot.policy.coverage_fields import WEEKDAY_INDEX
from bot.policy.model import OnCall

EPOCH = date(2024, 1, 1)  # a Monday: rotations without `start` count their turns from here


@dataclass(frozen=True)
class Turn:
    number: int  # which handoff began this turn (can be negative before `start`)
    person: str | None  # None when the rotation has nobody in it (an empty user group)
    began: datetime  # UTC
    ends: datetime  # UTC: the next handoff


def anchor_day(oncall: OnCall) -> date:
    first = oncall.start or EPOCH
    if oncall.handoff_day is None:
        return first
    return first + timedelta(days=(WEEKDAY_INDEX[oncall.handoff_day] - first.weekday()) % 7)


def handoff_at(oncall: OnCall, number: int, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of the rotation's handoff number `number` (0 is the anchor day's)."""
    day = anchor_day(oncall) + timedelta(days=number * oncall.every_days)
    hour, minute = (int(part) for part in oncall.handoff_time.split(":"))
    # the business calendar's DST rule: a skipped time is the jump, a repeated one its first
    return resolve_wall_time(day, time(hour, minute), tz)


def turn_at(oncall: OnCall, people: tuple[str, ...], at: datetime, tz: ZoneInfo) -> Turn:
    """The turn running at `at`: `people` are the rotation's current people, in order."""
    at = at.astimezone(timezone.utc)
    days = (at.astimezone(tz).date() - anchor_day(oncall)).days
    number = days // oncall.every_days
    if handoff_at(oncall, number, tz) > at:  # today's handoff hasn't come yet
        number -= 1
    person = people[number % len(people)] if people else None
    return Turn(number, person, handoff_at(oncall, number, tz), handoff_at(oncall, number + 1, tz))
