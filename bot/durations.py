"""Policy durations: a whole number followed by s, m, h or d ("90s", "4h", "1d"); and the
days the commands take (--from, --to)."""
from __future__ import annotations

import re
from datetime import date, timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(flag: str, value: str) -> date:
    """A command's day option (report, simulate, suggest all say the same); ValueError naming the flag."""
    try:
        if not _DAY.match(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{flag} must be a date YYYY-MM-DD, e.g. 2026-11-30 (got {value!r})") from None


def parse_duration(text: object) -> timedelta:
    """Parse "30m" into timedelta(minutes=30); raise ValueError with a hint otherwise."""
    match = _DURATION.match(str(text)) if isinstance(text, (str, int)) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"bad duration {text!r} (a positive number with s, m, h or d, e.g. 4h)")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(delta: timedelta) -> str:
    """Short human form: "1h 30m", "45s", "2d 4h"."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + (" ".join(parts[:2]) or "0s")
