"""Business time inside SQL: an hourly table of the policy's calendars.

Where the policy has business hours, a duration is the open time between its two
instants on the level's calendar (bot.calendar, the SLA clocks' own rules, read here,
not re-implemented). Rather than ask the calendar once per ticket, the calendar is asked
once per report: for every UTC hour of the span the report touches, the table holds the
business seconds before that hour (`cum`) and the open part of the hour (`o_from`,
`o_to`, seconds into it). The open time up to an instant t is then
`cum + clamp(t - hour start - o_from, 0, o_to - o_from)`, a join by hour number, and a
duration is the difference of two such values: every ticket's business time is computed
by the database in the same statement as its percentiles.

Exact whenever no hour holds two separate openings, i.e. when each day's closed part
is an hour or more (every real desk); otherwise that hour counts from its first opening
to its last closing. With 24x7 hours (the default policy) no table is built: a duration
is plain wall time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from bot.calendar import calendar_for
from bot.policy import Policy
from bot.quality.metrics_sql import Sql, case_map

HOUR = 3600
MAX_SPAN = timedelta(days=800)  # durations reaching further out are left out of business-time figures


@dataclass(frozen=True)
class BusinessClock:
    """How the metrics' SQL turns two instants into a duration."""

    sql: Sql
    rows: tuple[tuple[int, int, int, int, int], ...]  # cal, hour, cum, o_from, o_to; empty: wall time
    level_calendar: dict[str, int]

    @property
    def wall_time(self) -> bool:
        return not self.rows

    def cte(self) -> str:
        """The table as a CTE to put after WITH (empty for wall time)."""
        if self.wall_time:
            return ""
        values = ", ".join(f"({c}, {h}, {cum}, {a}, {b})" for c, h, cum, a, b in self.rows)
        return f"bt(cal, h, cum, o_from, o_to) AS (VALUES {values}),"

    def calendar_of(self, level_column: str) -> str:
        return case_map(level_column, self.level_calendar, default="0")

    def duration(self, alias: str, start_epoch: str, end_epoch: str, calendar: str) -> tuple[str, str]:
        """(joins, expression) for the business seconds between two epoch columns of `alias`."""
        if self.wall_time:
            return "", f"({end_epoch} - {start_epoch})"
        joins = []
        values = []
        for name, epoch in (("s", start_epoch), ("e", end_epoch)):
            table = f"bt_{alias}_{name}"
            joins.append(f"LEFT JOIN bt {table} ON {table}.cal = {calendar} AND {table}.h = {self.sql.hour(epoch)}")
            into_hour = f"({epoch} - {table}.h * {HOUR} - {table}.o_from)"
            values.append(f"({table}.cum + {self._clamp(into_hour, f'({table}.o_to - {table}.o_from)')})")
        return " ".join(joins), f"({values[1]} - {values[0]})"

    def _clamp(self, expr: str, upper: str) -> str:
        if self.sql.dialect == "postgresql":
            return f"LEAST(GREATEST({expr}, 0), {upper})"
        return f"MIN(MAX({expr}, 0), {upper})"


def business_clock(sql: Sql, policy: Policy, span: Callable[[], tuple[datetime, datetime]]) -> BusinessClock:
    """The hourly table over the instants `span()` gives (asked only when a level keeps
    business hours) for each distinct calendar of the policy's levels (calendar 0: the
    policy's own hours, which resolution time uses)."""
    hours = [policy.business_hours] + [policy.hours_for(level) for level in policy.levels]
    distinct = list(dict.fromkeys(hours))
    level_calendar = {level: distinct.index(policy.hours_for(level)) for level in policy.levels}
    if all(h.always_open for h in distinct):
        return BusinessClock(sql, (), level_calendar)
    span_start, span_end = span()
    span_start = max(span_start, span_end - MAX_SPAN)
    first_hour = int(span_start.timestamp()) // HOUR
    last_hour = int(span_end.timestamp()) // HOUR + 1
    rows: list[tuple[int, int, int, int, int]] = []
    for index, business_hours in enumerate(distinct):
        # a level on these hours ("" names none: the policy's own hours)
        level = next((lv for lv in policy.levels if policy.hours_for(lv) == business_hours), "")
        calendar = calendar_for(policy, level)
        rows.extend(_hours(index, calendar, first_hour, last_hour))
    return BusinessClock(sql, tuple(rows), level_calendar)


def _hours(index: int, calendar, first_hour: int, last_hour: int) -> list[tuple[int, int, int, int, int]]:
    start = datetime.fromtimestamp(first_hour * HOUR, timezone.utc)
    end = datetime.fromtimestamp((last_hour + 1) * HOUR, timezone.utc)
    open_segments = [(int(s.start.timestamp()), int(s.end.timestamp()))
                     for s in calendar.segments(start, end) if s.open]
    rows, cum, seg = [], 0, 0
    for hour in range(first_hour, last_hour + 1):
        lo, hi = hour * HOUR, (hour + 1) * HOUR
        while seg < len(open_segments) and open_segments[seg][1] <= lo:
            seg += 1
        pieces = []
        probe = seg
        while probe < len(open_segments) and open_segments[probe][0] < hi:
            a, b = max(open_segments[probe][0], lo), min(open_segments[probe][1], hi)
            if a < b:
                pieces.append((a - lo, b - lo))
            probe += 1
        o_from, o_to = (pieces[0][0], pieces[-1][1]) if pieces else (0, 0)
        rows.append((index, hour, cum, o_from, o_to))
        cum += sum(b - a for a, b in pieces)
    return rows
