"""Parsers for a level's coverage keys (docs/coverage.md): `oncall`, `capacity`'s
`overflow_to`, and user groups among `members`. Each appends "path: problem" lines
and returns a usable value, as bot.policy.fields does.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

from bot.durations import parse_duration
from bot.policy.model import CLOCK, USER_ID, USERGROUP_ID, WEEKDAYS, Level, OnCall

_HANDOFF = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)\s+)?(\d{2}:\d{2})$", re.IGNORECASE)
ONCALL_KEYS = {"rotation", "every", "handoff", "start"}


def is_person_or_group(value: object) -> bool:
    return isinstance(value, str) and bool(USER_ID.match(value) or USERGROUP_ID.match(value))


def people_problem(path: str, value: object) -> str:
    return f"{path}: {value!r} is not a Slack user id (like U0123ABCD) or user group id (like S0123ABCD)"


def parse_oncall(raw: object, path: str, problems: list[str]) -> OnCall | None:
    """oncall: {rotation: [U…|S…], every: 1w, handoff: "mon 09:00", start: 2026-01-05}"""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"{path}: must be a mapping with rotation, every, handoff")
        return None
    for key in sorted(set(raw) - ONCALL_KEYS):
        problems.append(f"{path}.{key}: unknown key (use rotation, every, handoff, start)")
    before = len(problems)
    rotation = raw.get("rotation")
    if not isinstance(rotation, list) or not rotation:
        problems.append(f"{path}.rotation: must list the people on call in turn (user or user group ids)")
        rotation = []
    for index, person in enumerate(rotation):
        if not is_person_or_group(person):
            problems.append(people_problem(f"{path}.rotation[{index}]", person))
    every_days = _every_days(raw.get("every", "1w"), f"{path}.every", problems)
    handoff = raw.get("handoff", "mon 09:00")
    match = _HANDOFF.match(str(handoff).strip()) if isinstance(handoff, str) else None
    if match is None or not CLOCK.match(match.group(2)):
        problems.append(f"{path}.handoff: must be a time like \"09:00\" or a weekday and time like "
                        f"\"mon 09:00\", got {handoff!r}")
        day, clock = "mon", "09:00"
    else:
        day, clock = (match.group(1) or "").lower() or None, match.group(2)
    if day is not None and every_days % 7:
        problems.append(f"{path}.handoff: a weekday handoff needs `every` in whole weeks (1w, 2w), "
                        f"got {raw.get('every')!r}")
    start = raw.get("start")
    if start is not None and not isinstance(start, date):
        try:
            start = date.fromisoformat(str(start))
        except ValueError:
            problems.append(f"{path}.start: {start!r} is not a date like 2026-01-05")
            start = None
    if len(problems) > before:
        return None
    return OnCall(rotation=tuple(str(p) for p in rotation), every_days=every_days, handoff_day=day,
                  handoff_time=clock, start=start)


def _every_days(value: object, path: str, problems: list[str]) -> int:
    weeks = re.match(r"^\s*(\d+)\s*w\s*$", value) if isinstance(value, str) else None
    try:  # durations take s, m, h, d; rotations are counted in weeks too
        every = timedelta(weeks=int(weeks.group(1))) if weeks else parse_duration(value)
    except ValueError as exc:
        problems.append(f"{path}: {exc}")
        return 7
    if every < timedelta(days=1) or every % timedelta(days=1):
        problems.append(f"{path}: must be whole days, like 1d or 1w, got {value!r}")
        return 7
    return every.days


def parse_overflow(spec: dict, path: str, capacity: int | None, problems: list[str]) -> tuple[str | None,
                                                                                           tuple[str, ...]]:
    """overflow_to: LEVEL, or {members: [U…|S…]} for a pool; needs capacity. The level
    itself is checked once every level is known (check_overflow_targets)."""
    raw = spec.get("overflow_to")
    if raw is None:
        return None, ()
    if capacity is None:
        problems.append(f"{path}.overflow_to: needs `capacity` on the same level")
    if isinstance(raw, str):
        return raw, ()
    members = raw.get("members") if isinstance(raw, dict) else None
    if not isinstance(members, list) or not members or set(raw) != {"members"}:
        problems.append(f"{path}.overflow_to: must be a level key or {{members: [user or user group ids]}}")
        return None, ()
    for index, person in enumerate(members):
        if not is_person_or_group(person):
            problems.append(people_problem(f"{path}.overflow_to.members[{index}]", person))
    return None, tuple(str(p) for p in members)


def check_overflow_targets(levels: dict[str, Level], problems: list[str]) -> None:
    for key, level in levels.items():
        if level.overflow_to is None:
            continue
        if level.overflow_to not in levels:
            problems.append(f"levels.{key}.overflow_to: unknown level {level.overflow_to!r}")
        elif level.overflow_to == key:
            problems.append(f"levels.{key}.overflow_to: a level can't overflow to itself")


def all_groups(levels: dict[str, Level]) -> set[str]:
    """Every user group the policy names: members, rotations, overflow pools."""
    named = set()
    for level in levels.values():
        named.update(level.members, level.overflow_pool, level.oncall.rotation if level.oncall else ())
    return {member for member in named if USERGROUP_ID.match(member)}


WEEKDAY_INDEX = {day: index for index, day in enumerate(WEEKDAYS)}
