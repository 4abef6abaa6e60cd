"""Deadline arithmetic: business time on a calendar, minus time paused."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.calendar import BusinessCalendar


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None  # None: still waiting on the customer
    reason: str = ""


def deadline(calendar: BusinessCalendar, started: datetime, target: timedelta,
             pauses: list[Pause]) -> datetime | None:
    """When `target` of business time, not counting pauses, has run since `started`;
    None while a pause that would come first is still open."""
    moment, remaining = started, target
    for pause in sorted(pauses, key=lambda p: p.start):
        if pause.end is not None and pause.end <= moment:
            continue
        candidate = calendar.add(moment, remaining)
        if pause.start >= candidate:
            return candidate
        if pause.start > moment:
            remaining -= calendar.business_time(moment, pause.start)
        if pause.end is None:
            return None
        moment = max(moment, pause.end)
    return calendar.add(moment, remaining)


def elapsed(calendar: BusinessCalendar, started: datetime, now: datetime, pauses: list[Pause]) -> timedelta:
    """Business time counted so far: open hours since `started`, less open hours paused."""
    total = calendar.business_time(started, now)
    for pause in pauses:
        start = max(pause.start, started)
        end = min(pause.end or now, now)
        if end > start:
            total -= calendar.business_time(start, end)
    return total
