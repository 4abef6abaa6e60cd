"""The policy's types: levels, severities, hours, weights, and the rules the
desk asks of them (next rung, escalation targets, membership).

Parsing and validation live in bot.policy.parsing, which builds these.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

LADDER = ("tier1", "tier2", "tier3", "management", "executive")
REQUIRED_LEVELS = LADDER
SEVERITIES = ("P1", "P2", "P3", "P4")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")  # a Slack user group, its members read from Slack (bot.coverage)
DEFAULT_ROOT_CAUSES = ("Bug", "Configuration", "Documentation", "Infrastructure", "Third party",
                       "User error", "Feature gap", "Other")
CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class PolicyError(Exception):
    """The policy is invalid; `problems` lists "field.path: what is wrong" lines."""

    def __init__(self, problems: list[str], source: str = "policy"):
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class BusinessHours:
    """None of days/start/end means 24x7."""

    days: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None
    holidays: str | None = None  # a country code for the holidays package, e.g. DE or DE-BY
    extra_holidays: tuple[date, ...] = ()

    @property
    def always_open(self) -> bool:
        return self.days is None


@dataclass(frozen=True)
class Level:
    key: str
    name: str
    channel: str
    members: tuple[str, ...]
    business_hours: BusinessHours | None = None  # None: the policy's own hours
    capacity: int | None = None  # open tickets before management hears of overflow
    assignment: str | None = None  # None, "round_robin" or "take"
    oncall: OnCall | None = None  # the level's on-call rotation (bot.coverage.oncall)
    overflow_to: str | None = None  # a level that takes arrivals past capacity
    overflow_pool: tuple[str, ...] = ()  # or people who do, the ticket staying at this level


@dataclass(frozen=True)
class OnCall:
    """Who is on call for a level: the rotation's people take turns, handing over every
    `every_days` days at `handoff_time` (on `handoff_day` when given), counted from `start`."""

    rotation: tuple[str, ...]  # user ids and user group ids (a group's members take their turns in order)
    every_days: int = 7
    handoff_day: str | None = "mon"
    handoff_time: str = "09:00"
    start: date | None = None


@dataclass(frozen=True)
class Severity:
    key: str
    response: timedelta
    update_every: timedelta | None
    entry: str


@dataclass(frozen=True)
class PriorityWeights:
    """How the queue ranks tickets (App Home): higher score first."""

    severity: tuple[tuple[str, float], ...] = (("P1", 400), ("P2", 200), ("P3", 50), ("P4", 10))
    vip: float = 100
    per_thousand_revenue: float = 2
    per_hour_open: float = 1
    breached: float = 150
    due_within_hour: float = 75

    def for_severity(self, severity: str) -> float:
        return dict(self.severity).get(severity, 0)


@dataclass(frozen=True)
class ReviewSchedule:
    """The monthly review: posted to `level`'s channel on the first working day of each
    month at `at` (local time, the policy's time zone)."""

    level: str
    at: str = "09:00"


@dataclass(frozen=True)
class Policy:
    timezone: ZoneInfo
    business_hours: BusinessHours
    sweep_interval: timedelta
    warn_at: float
    revenue_threshold: Decimal
    levels: dict[str, Level]
    severities: dict[str, Severity]
    time_limits: dict[str, timedelta]
    digest_at: str = "09:00"
    root_causes: tuple[str, ...] = DEFAULT_ROOT_CAUSES
    undo_window: timedelta = timedelta(minutes=15)  # how long a de-escalation can be undone
    mitigated_to: str = "tier1"  # where engineering hands a mitigated ticket for the customer follow-up
    priority: PriorityWeights = PriorityWeights()
    criteria: tuple = ()  # bot.matrix.Rung, the escalation criteria matrix
    customer_channels: tuple[tuple[str, str], ...] = ()  # customer name → Slack Connect channel
    executive_revenue_threshold: Decimal = Decimal(100000)  # revenue at risk that tells the executive level
    customer_templates: str | None = None  # a directory replacing the customer-facing texts (bot.quality)
    review: ReviewSchedule | None = None  # the monthly review in Slack; None: not posted
    # the current members of Slack user groups (bot.coverage.rosters.RosterCache); None: ids only
    rosters: object | None = field(default=None, compare=False, repr=False)
    deescalation: tuple = ()  # bot.policy.deescalation_rules.DeescalationRule, checked by the sweep

    def customer_channel(self, customer: str) -> str | None:
        wanted = customer.strip().casefold()
        return next((channel for name, channel in self.customer_channels if name.casefold() == wanted), None)

    def hours_for(self, level_key: str) -> BusinessHours:
        level = self.levels.get(level_key)
        return level.business_hours if level and level.business_hours else self.business_hours

    def level(self, key: str) -> Level:
        return self.levels[key]

    def level_name(self, key: str) -> str:
        level = self.levels.get(key)
        return level.name if level else key

    def members_of(self, level_key: str) -> tuple[str, ...]:
        """The level's people now: its user ids, and the current members of its user groups."""
        level = self.levels.get(level_key)
        return self.expand(level.members) if level else ()

    def expand(self, ids: tuple[str, ...]) -> tuple[str, ...]:
        """User ids as given, user groups replaced by their current members, each person once."""
        people: dict[str, None] = {}
        for member in ids:
            if USERGROUP_ID.match(member):
                people.update(dict.fromkeys(self.rosters.members(member) if self.rosters else ()))
            else:
                people[member] = None
        return tuple(people)

    def is_member(self, level_key: str, user_id: str) -> bool:
        """May act at the level: its members, and the people of its on-call rotation and
        overflow pool (who cover for it)."""
        if user_id in self.members_of(level_key):
            return True
        level = self.levels.get(level_key)
        covering = (level.oncall.rotation if level.oncall else ()) + level.overflow_pool if level else ()
        return bool(covering) and user_id in self.expand(covering)

    @property
    def managers(self) -> tuple[str, ...]:
        return self.members_of("management")

    def next_level(self, level_key: str) -> str | None:
        """The next rung up; planning hands over to tier1."""
        if level_key == "planning":
            return "tier1"
        if level_key not in LADDER:
            # an overflow level off the ladder hands on where the level it takes arrivals from would
            source = next((key for key, level in self.levels.items() if level.overflow_to == level_key), None)
            return self.next_level(source) if source in LADDER else None
        if level_key == LADDER[-1]:
            return None
        return LADDER[LADDER.index(level_key) + 1]

    def escalation_targets(self, level_key: str, suggested: str | None = None) -> list[str]:
        """Levels a ticket may be escalated to by hand: the next rung, a rung further
        up when the criteria matrix suggests it, management from any level, and the
        executive level from management."""
        next_level = self.next_level(level_key)
        targets = [next_level] if next_level else []
        support = ("tier1", "tier2", "tier3")
        if (suggested in support and next_level in support
                and support.index(suggested) > support.index(next_level)):
            targets.append(suggested)
        if level_key not in ("management", "executive") and "management" not in targets:
            targets.append("management")
        return targets

    def deescalation_targets(self, level_key: str) -> list[str]:
        """Rungs below the current one, nearest first."""
        if level_key not in LADDER:
            return []
        return list(reversed(LADDER[: LADDER.index(level_key)]))

    @staticmethod
    def is_above(level_key: str, other: str) -> bool:
        """Higher on the ladder; the planning queue sits below tier1."""
        rank = lambda key: LADDER.index(key) if key in LADDER else -1  # noqa: E731
        return rank(level_key) > rank(other)

    def levels_of(self, user_id: str) -> list[str]:
        return [key for key in self.levels if user_id in self.members_of(key)]
