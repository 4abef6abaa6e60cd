"""Policy durations: a whole number followed by s, m, h or d ("90s", "4h", "1d")."""
from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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
