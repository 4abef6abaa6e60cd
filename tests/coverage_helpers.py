"""Policies and clocks for the coverage tests (docs/coverage.md)."""
from __future__ import annotations

from datetime import datetime
from importlib import resources
from zoneinfo import ZoneInfo

import yaml

from bot.policy import parse_policy

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_9_TO_5 = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00", "holidays": "DE"}
ONCALL1, ONCALL2 = "U0ONCALL1", "U0ONCALL2"
SATURDAY_NIGHT = datetime(2026, 12, 5, 2, 10, tzinfo=BERLIN)  # Saturday 02:10
WEDNESDAY_NOON = datetime(2026, 12, 9, 12, 0, tzinfo=BERLIN)


def policy_data(**overrides) -> dict:
    data = yaml.safe_load(resources.files("bot").joinpath("default_policy.yaml").read_text())
    data["business_hours"] = WEEKDAYS_9_TO_5
    data.update(overrides)
    return data


def coverage_policy(levels: dict | None = None, **overrides):
    """The built-in policy, weekdays 09-17 (DE holidays); `levels` updates levels' keys,
    e.g. {"tier1": {"oncall": {...}}}."""
    data = policy_data(**overrides)
    for key, changes in (levels or {}).items():
        data["levels"][key].update(changes)
    return parse_policy(data)


def at(moment: datetime):
    """A clock standing still at `moment` (for runtime.coverage.clock)."""
    return lambda: moment
