"""The escalation policy: levels, severities, thresholds, loaded from YAML.

Every validation error names the field path ("levels.tier2.channel: missing"),
so `escalator policy check` tells an operator exactly what to fix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.durations import parse_duration
from bot.matrix import parse_criteria

LADDER = ("tier1", "tier2", "tier3", "management", "executive")
REQUIRED_LEVELS = LADDER
SEVERITIES = ("P1", "P2", "P3", "P4")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
DEFAULT_ROOT_CAUSES = ("Bug", "Configuration", "Documentation", "Infrastructure", "Third party",
                       "User error", "Feature gap", "Other")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


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

    def is_member(self, level_key: str, user_id: str) -> bool:
        level = self.levels.get(level_key)
        return bool(level) and user_id in level.members

    @property
    def managers(self) -> tuple[str, ...]:
        return self.levels["management"].members

    def next_level(self, level_key: str) -> str | None:
        """The next rung up; planning hands over to tier1."""
        if level_key == "planning":
            return "tier1"
        if level_key not in LADDER or level_key == LADDER[-1]:
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
        return [key for key, level in self.levels.items() if user_id in level.members]


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy file, or the built-in default when path is None."""
    if path is None:
        text = resources.files("bot").joinpath("default_policy.yaml").read_text("utf-8")
        source = "built-in policy"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise PolicyError([f"cannot read file: {exc.strerror}"], str(path)) from None
        source = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        raise PolicyError([f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})"], source) from None
    return parse_policy(data, source)


def parse_policy(data: object, source: str = "policy") -> Policy:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise PolicyError(["(top level): must be a mapping of policy keys"], source)

    def duration(path: str, value: object) -> timedelta | None:
        if value is None:
            problems.append(f"{path}: missing")
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
            return None

    timezone = _parse_timezone(data.get("timezone"), problems)
    business_hours = _parse_business_hours(data.get("business_hours", "24x7"), problems, "business_hours")
    sweep_interval = duration("sweep_interval", data.get("sweep_interval", "60s"))
    warn_at = _parse_fraction("warn_at", data.get("warn_at", 0.75), problems)
    revenue_threshold = _parse_amount("revenue_threshold", data.get("revenue_threshold", 10000), problems)
    executive_revenue_threshold = _parse_amount(
        "executive_revenue_threshold", data.get("executive_revenue_threshold", 100000), problems)
    if executive_revenue_threshold < revenue_threshold:
        problems.append("executive_revenue_threshold: must be at least revenue_threshold "
                        f"({revenue_threshold:,.0f})")
    levels = _parse_levels(data.get("levels"), problems)

    severities: dict[str, Severity] = {}
    raw_severities = data.get("severities")
    if not isinstance(raw_severities, dict):
        problems.append("severities: missing (P1 to P4 with response and entry)")
        raw_severities = {}
    for key in SEVERITIES:
        raw = raw_severities.get(key)
        path = f"severities.{key}"
        if not isinstance(raw, dict):
            problems.append(f"{path}: missing")
            continue
        response = duration(f"{path}.response", raw.get("response"))
        update_every = None
        if raw.get("update_every") is not None:
            update_every = duration(f"{path}.update_every", raw.get("update_every"))
        entry = raw.get("entry")
        if entry is None:
            problems.append(f"{path}.entry: missing")
        elif entry not in levels and levels:
            problems.append(f"{path}.entry: unknown level {entry!r}")
        if response is not None and entry is not None:
            severities[key] = Severity(key, response, update_every, str(entry))
    for key in raw_severities:
        if key not in SEVERITIES:
            problems.append(f"severities.{key}: unknown severity (use P1, P2, P3, P4)")

    time_limits: dict[str, timedelta] = {}
    raw_limits = data.get("time_limits") or {}
    if not isinstance(raw_limits, dict):
        problems.append("time_limits: must be a mapping of level to duration")
        raw_limits = {}
    for key, value in raw_limits.items():
        if levels and key not in levels:
            problems.append(f"time_limits.{key}: unknown level")
        limit = duration(f"time_limits.{key}", value)
        if limit is not None:
            time_limits[key] = limit

    digest_at = data.get("digest_at", "09:00")
    if not isinstance(digest_at, str) or not _CLOCK.match(digest_at):
        problems.append(f"digest_at: must be a time like \"09:00\", got {digest_at!r}")

    undo_window = duration("undo_window", data.get("undo_window", "15m"))
    mitigated_to = data.get("mitigated_to", "tier1")
    if levels and mitigated_to not in levels:
        problems.append(f"mitigated_to: unknown level {mitigated_to!r}")
    priority = _parse_priority(data.get("priority") or {}, problems)
    criteria = parse_criteria(data.get("criteria"), levels, problems, Policy.is_above)
    customer_channels = data.get("customer_channels") or {}
    if not isinstance(customer_channels, dict) or not all(
            isinstance(channel, str) and _CHANNEL_ID.match(channel) for channel in customer_channels.values()):
        problems.append("customer_channels: must map a customer name to a Slack channel id (like C0123ABCD)")
        customer_channels = {}
    root_causes = data.get("root_causes", list(DEFAULT_ROOT_CAUSES))
    if (not isinstance(root_causes, list) or not root_causes
            or not all(isinstance(c, str) and 0 < len(c) <= 60 for c in root_causes)):
        problems.append("root_causes: must be a list of category names (each up to 60 characters)")
        root_causes = list(DEFAULT_ROOT_CAUSES)

    if problems:
        raise PolicyError(problems, source)
    return Policy(
        timezone=timezone,
        business_hours=business_hours,
        sweep_interval=sweep_interval,
        warn_at=warn_at,
        revenue_threshold=revenue_threshold,
        levels=levels,
        severities=severities,
        time_limits=time_limits,
        digest_at=str(digest_at),
        root_causes=tuple(root_causes),
        undo_window=undo_window,
        mitigated_to=str(mitigated_to),
        priority=priority,
        criteria=criteria,
        customer_channels=tuple((str(name), str(channel)) for name, channel in customer_channels.items()),
        executive_revenue_threshold=executive_revenue_threshold,
    )


def _parse_priority(raw: object, problems: list[str]) -> PriorityWeights:
    if not isinstance(raw, dict):
        problems.append("priority: must be a mapping of weights")
        return PriorityWeights()
    defaults = PriorityWeights()
    values: dict[str, object] = {}
    for key in ("vip", "per_thousand_revenue", "per_hour_open", "breached", "due_within_hour"):
        if key in raw:
            try:
                values[key] = float(raw[key])
            except (TypeError, ValueError):
                problems.append(f"priority.{key}: must be a number, got {raw[key]!r}")
    severity = raw.get("severity")
    if severity is not None:
        if not isinstance(severity, dict) or any(k not in SEVERITIES for k in severity):
            problems.append("priority.severity: must map P1…P4 to numbers")
        else:
            try:
                merged = dict(defaults.severity) | {k: float(v) for k, v in severity.items()}
                values["severity"] = tuple(merged.items())
            except (TypeError, ValueError):
                problems.append("priority.severity: must map P1…P4 to numbers")
    unknown = set(raw) - {"vip", "per_thousand_revenue", "per_hour_open", "breached", "due_within_hour", "severity"}
    for key in sorted(unknown):
        problems.append(f"priority.{key}: unknown weight")
    return PriorityWeights(**values)


def _parse_timezone(value: object, problems: list[str]) -> ZoneInfo:
    if value is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: unknown time zone {value!r} (e.g. Europe/Berlin)")
        return ZoneInfo("UTC")


def _parse_fraction(path: str, value: object, problems: list[str]) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = -1.0
    if not 0 < number < 1:
        problems.append(f"{path}: must be a fraction between 0 and 1, got {value!r}")
        return 0.75
    return number


def _parse_amount(path: str, value: object, problems: list[str]) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal(-1)
    if isinstance(value, bool) or not amount.is_finite() or amount < 0:
        problems.append(f"{path}: must be a non-negative number, got {value!r}")
        return Decimal(0)
    return amount


def _parse_business_hours(value: object, problems: list[str], path: str) -> BusinessHours:
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
        if not isinstance(clock, str) or not _CLOCK.match(clock):
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


def _parse_levels(raw: object, problems: list[str]) -> dict[str, Level]:
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
        elif not _CHANNEL_ID.match(str(channel)):
            problems.append(f"{path}.channel: {channel!r} is not a Slack channel id (like C0123ABCD)")
        members = spec.get("members") or []
        if not isinstance(members, list):
            problems.append(f"{path}.members: must be a list of Slack user ids")
            members = []
        for index, member in enumerate(members):
            if not _USER_ID.match(str(member)):
                problems.append(f"{path}.members[{index}]: {member!r} is not a Slack user id (like U0123ABCD)")
        hours = None
        if spec.get("business_hours") is not None:
            hours = _parse_business_hours(spec["business_hours"], problems, f"{path}.business_hours")
        capacity = spec.get("capacity")
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1):
            problems.append(f"{path}.capacity: must be a whole number of open tickets, at least 1")
            capacity = None
        assignment = spec.get("assignment")
        if assignment not in (None, "round_robin", "take"):
            problems.append(f"{path}.assignment: must be round_robin or take, got {assignment!r}")
            assignment = None
        levels[str(key)] = Level(
            key=str(key),
            name=str(spec.get("name") or key),
            channel=str(channel or ""),
            members=tuple(str(m) for m in members),
            business_hours=hours,
            capacity=capacity,
            assignment=assignment,
        )
    return levels
