"""Parsers for the policy's single fields and sections (time zone, amounts,
business hours, levels). Each appends "path: problem" lines and returns a usable
default, so one run of `policy check` reports every problem at once.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.policy.coverage_fields import (check_overflow_targets, is_person_or_group, parse_oncall, parse_overflow,
                                        people_problem)
from bot.policy.model import CHANNEL_ID, CLOCK, REQUIRED_LEVELS, WEEKDAYS, BusinessHours, Level


def parse_timezone(value: object, problems: list[str]) -> ZoneInfo:
    if value is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: unknown time zone {value!r} (e.g. Europe/Berlin)")
        return ZoneInfo("UTC")


def parse_fraction(path: str, value: object, problems: list[str]) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = -1.0
    if not 0 < number < 1:
        problems.append(f"{path}: must be a fraction between 0 and 1, got {value!r}")
        return 0.75
    return number


def parse_amount(path: str, value: object, problems: list[str]) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal(-1)
    if isinstance(value, bool) or not amount.is_finite() or amount < 0:
        problems.append(f"{path}: must be a non-negative number, got {value!r}")
        return Decimal(0)
    return amount


def parse_business_hours(value: object, problems: list[str], path: str) -> BusinessHours:
    if value == "24x7":
        return BusinessHours()
    if not isinstance(value, dict):
        problems.append(f"{path}: must be 24x7 or a mapping with days, start, end, got {value!r}")
        return BusinessHours()
    days = value.get("days")
    if not isinstance(days, list) or not days or any(str(d).lower() not in WEEKDAYS for d in days):
        problems.append(f"{path}.days: must list weekdays such as [mon, tue, wed, thu, fri]")
        days = []
    for key in ("start", "end"):
        clock = value.get(key)
        if not isinstance(clock, str) or not CLOCK.match(clock):
            problems.append(f"{path}.{key}: must be a time like \"09:00\", got {clock!r}")
    start, end = value.get("start"), value.get("end")
    if isinstance(start, str) and isinstance(end, str) and start >= end:
        problems.append(f"{path}.end: must be later than start")
    holidays_code = value.get("holidays")
    if holidays_code is not None and not _known_holiday_calendar(str(holidays_code)):
        problems.append(f"{path}.holidays: unknown country code {holidays_code!r} (e.g. DE, US, DE-BY)")
    extra = value.get("extra_holidays") or []
    extra_dates: list[date] = []
    if not isinstance(extra, list):
        problems.append(f"{path}.extra_holidays: must be a list of dates like 2026-12-24")
        extra = []
    for index, item in enumerate(extra):
        try:
            extra_dates.append(item if isinstance(item, date) else date.fromisoformat(str(item)))
        except ValueError:
            problems.append(f"{path}.extra_holidays[{index}]: {item!r} is not a date like 2026-12-24")
    return BusinessHours(
        days=tuple(str(d).lower() for d in days),
        start=start if isinstance(start, str) else None,
        end=end if isinstance(end, str) else None,
        holidays=str(holidays_code).upper() if holidays_code else None,
        extra_holidays=tuple(extra_dates),
    )


def _known_holiday_calendar(code: str) -> bool:
    import holidays

    country, _, subdivision = code.upper().partition("-")
    supported = holidays.list_supported_countries()
    return country in supported and (not subdivision or subdivision in supported[country])


def parse_levels(raw: object, problems: list[str]) -> dict[str, Level]:
    if not isinstance(raw, dict):
        problems.append("levels: missing (tier1, tier2, tier3, management, executive)")
        return {}
    levels: dict[str, Level] = {}
    for key in REQUIRED_LEVELS:
        if key not in raw:
            problems.append(f"levels.{key}: missing")
    for key, spec in raw.items():
        path = f"levels.{key}"
        if not isinstance(spec, dict):
            problems.append(f"{path}: must be a mapping with name, channel, members")
            continue
        channel = spec.get("channel")
        if channel is None:
            problems.append(f"{path}.channel: missing")
        elif not CHANNEL_ID.match(str(channel)):
            problems.append(f"{path}.channel: {channel!r} is not a Slack channel id (like C0123ABCD)")
        members = spec.get("members") or []
        if not isinstance(members, list):
            problems.append(f"{path}.members: must be a list of Slack user ids")
            members = []
        for index, member in enumerate(members):
            if not is_person_or_group(member):
                problems.append(people_problem(f"{path}.members[{index}]", member))
        hours = None
        if spec.get("business_hours") is not None:
            hours = parse_business_hours(spec["business_hours"], problems, f"{path}.business_hours")
        capacity = spec.get("capacity")
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1):
            problems.append(f"{path}.capacity: must be a whole number of open tickets, at least 1")
            capacity = None
        assignment = spec.get("assignment")
        if assignment not in (None, "round_robin", "take"):
            problems.append(f"{path}.assignment: must be round_robin or take, got {assignment!r}")
            assignment = None
        overflow_to, overflow_pool = parse_overflow(spec, path, capacity, problems)
        levels[str(key)] = Level(
            key=str(key),
            name=str(spec.get("name") or key),
            channel=str(channel or ""),
            members=tuple(str(m) for m in members),
            business_hours=hours,
            capacity=capacity,
            assignment=assignment,
            oncall=parse_oncall(spec.get("oncall"), f"{path}.oncall", problems),
            overflow_to=overflow_to,
            overflow_pool=overflow_pool,
        )
    check_overflow_targets(levels, problems)
    return levels
