"""Business-hours calendar: when is a level "open", and how much open time has passed.

SLA clocks only tick while a level is open. Business hours are local wall-clock
times in the policy time zone on the listed weekdays, minus whole-day holidays.
Every instant is handled in UTC internally so that elapsed time is real time.

DST choice: an opening or closing wall time is turned into an instant by
  * an ambiguous time (the repeated hour in autumn) -> its first occurrence;
  * a nonexistent time (the skipped hour in spring) -> the instant the clocks jump.
This mapping never goes backwards, so every local day is a contiguous run of
instants (23 or 25 hours long on transition days), windows never overlap and
never end before they start. A window that straddles a transition counts the
real time between its two instants (e.g. 01:00-04:00 in Berlin is 2 h on the
spring day and 4 h on the autumn day); a window that lies wholly inside the
skipped hour is empty. Windows that avoid the transition (09:00-17:00 in every
zone with a night-time switch) are always their nominal length.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator
from zoneinfo import ZoneInfo

from bot.policy import WEEKDAYS, BusinessHours

if TYPE_CHECKING:
    from bot.policy import Policy

UTC = timezone.utc
OPEN_CAUSE = "business hours"
ALWAYS_OPEN_CAUSE = "24x7"
OFF_HOURS = "off-hours"
WEEKEND = "weekend"
COMPANY_HOLIDAY = "company holiday"
# add/next_open give up after this many consecutive days without an opening,
# so an impossible configuration fails loudly instead of looping.
MAX_CLOSED_DAYS = 5 * 366
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Segment:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    open: bool
    cause: str  # "business hours", "off-hours", "weekend", "holiday: <name>", "24x7"


@dataclass(frozen=True)
class _Day:
    """One local calendar day as UTC instants, with its open window if any."""

    start: datetime
    end: datetime
    window: tuple[datetime, datetime] | None
    closed_cause: str

    def pieces(self) -> Iterator[Segment]:
        if self.window is None:
            yield Segment(self.start, self.end, False, self.closed_cause)
            return
        opens, closes = self.window
        for seg in (
            Segment(self.start, opens, False, self.closed_cause),
            Segment(opens, closes, True, OPEN_CAUSE),
            Segment(closes, self.end, False, self.closed_cause),
        ):
            if seg.start < seg.end:
                yield seg


class BusinessCalendar:
    def __init__(self, hours: BusinessHours, tz: ZoneInfo):
        self.hours = hours
        self.tz = tz
        if hours.always_open:
            return
        unknown = [d for d in hours.days if d.lower() not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday(s) {unknown!r}; use {', '.join(WEEKDAYS)}")
        if not hours.start or not hours.end:
            raise ValueError("business hours need both start and end (HH:MM)")
        self._weekdays = frozenset(WEEKDAYS.index(d.lower()) for d in hours.days)
        self._opens = time.fromisoformat(hours.start)
        self._closes = time.fromisoformat(hours.end)
        self._extra = frozenset(hours.extra_holidays)
        # Each day is computed once; a bounded cache keeps a long-running bot small.
        self._day = lru_cache(maxsize=4096)(self._compute_day)

    @property
    def always_open(self) -> bool:
        return self.hours.always_open

    # -- public API ---------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        if self.always_open:
            return True
        return any(w[0] <= at < w[1] for w in self._windows(at, at))

    def segments(self, start: datetime, end: datetime) -> list[Segment]:
        start, end = _utc(start), _utc(end)
        if end <= start:
            return []
        if self.always_open:
            return [Segment(start, end, True, ALWAYS_OPEN_CAUSE)]
        merged: list[Segment] = []
        for day in self._days(start, end):
            for seg in day.pieces():
                lo, hi = max(seg.start, start), min(seg.end, end)
                if lo >= hi:
                    continue
                last = merged[-1] if merged else None
                if last and last.end == lo and (last.open, last.cause) == (seg.open, seg.cause):
                    merged[-1] = Segment(last.start, hi, last.open, last.cause)
                else:
                    merged.append(Segment(lo, hi, seg.open, seg.cause))
        return merged

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        start, end = _utc(start), _utc(end)
        if end <= start:
            return timedelta(0)
        if self.always_open:
            return end - start
        total = timedelta(0)
        for opens, closes in self._windows(start, end):
            lo, hi = max(opens, start), min(closes, end)
            if lo < hi:
                total += hi - lo
        return total

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Earliest t >= start with business_time(start, t) == duration."""
        start = _utc(start)
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if self.always_open:
            return start + duration
        remaining = duration
        day = start.astimezone(self.tz).date() - _ONE_DAY
        closed_days = 0
        while closed_days <= MAX_CLOSED_DAYS:
            window = self._day(day).window
            day += _ONE_DAY
            if window is None or window[1] <= start:
                closed_days += window is None
                continue
            closed_days = 0
            counted_from = max(window[0], start)
            available = window[1] - counted_from
            if remaining <= available:
                return counted_from + remaining
            remaining -= available
        raise ValueError(
            f"business hours {self._describe()} never open within {MAX_CLOSED_DAYS} days"
        )

    def works_on(self, day: date) -> bool:
        """Whether the calendar opens at all on this local day (every day, 24x7)."""
        return self.always_open or self._day(day).window is not None

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when open, else the next opening."""
        return self.add(at, timedelta(0))

    # -- internals ----------------------------------------------------------

    def _days(self, start: datetime, end: datetime) -> Iterator[_Day]:
        # One day of slack either side is cheap and guards odd zone histories.
        day = start.astimezone(self.tz).date() - _ONE_DAY
        last = end.astimezone(self.tz).date() + _ONE_DAY
        while day <= last:
            yield self._day(day)
            day += _ONE_DAY

    def _windows(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        for day in self._days(start, end):
            if day.window is not None:
                yield day.window

    def _compute_day(self, day: date) -> _Day:
        begins = resolve_wall_time(day, time(0), self.tz)
        ends = resolve_wall_time(day + _ONE_DAY, time(0), self.tz)
        if day.weekday() not in self._weekdays:
            return _Day(begins, ends, None, WEEKEND)
        holiday = self._holiday_name(day)
        if holiday:
            return _Day(begins, ends, None, f"holiday: {holiday}")
        opens = resolve_wall_time(day, self._opens, self.tz)
        closes = resolve_wall_time(day, self._closes, self.tz)
        window = (opens, closes) if opens < closes else None
        return _Day(begins, ends, window, OFF_HOURS)

    def _holiday_name(self, day: date) -> str | None:
        if self.hours.holidays:
            name = _public_holidays(self.hours.holidays, day.year).get(day)
            if name:
                return name
        return COMPANY_HOLIDAY if day in self._extra else None

    def _describe(self) -> str:
        return f"{','.join(self.hours.days)} {self.hours.start}-{self.hours.end} ({self.tz.key})"


def calendar_for(policy: Policy, level_key: str) -> BusinessCalendar:
    """The calendar a level's SLA clocks run on (its own hours or the policy's)."""
    return _cached_calendar(policy.hours_for(level_key), policy.timezone)


@lru_cache(maxsize=64)
def _cached_calendar(hours: BusinessHours, tz: ZoneInfo) -> BusinessCalendar:
    return BusinessCalendar(hours, tz)


@lru_cache(maxsize=256)
def _public_holidays(code: str, year: int) -> dict[date, str]:
    """Holidays of one country/subdivision and year, loaded on first use."""
    import holidays

    country, _, subdivision = code.upper().partition("-")
    try:
        table = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError as exc:
        raise ValueError(f"unknown holiday calendar {code!r}: {exc}") from None
    return dict(table.items())


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: pass a timezone-aware datetime")
    return at.astimezone(UTC)


def resolve_wall_time(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time, by the product's one DST rule (see the module
    docstring): a repeated time is its first occurrence, a skipped one the jump instant.
    Public so that every wall time the product turns into an instant follows it."""
    wall = datetime.combine(day, clock)
    first = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: first occurrence
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # The wall time was skipped: fold=0 and fold=1 land either side of the jump.
    other = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = min(first, other), max(first, other)
    after = hi.astimezone(tz).utcoffset()
    # Binary search (to the second, as tzdata is) for the jump instant.
    while hi - lo > timedelta(seconds=1):
        mid = lo + timedelta(seconds=(hi - lo).total_seconds() // 2)
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi
