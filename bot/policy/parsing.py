"""Loading a policy file and validating it into bot.policy.model types.

Every validation error names the field path ("levels.tier2.channel: missing"),
so `escalator policy check` tells an operator exactly what to fix.
"""
from __future__ import annotations

from datetime import timedelta
from importlib import resources
from pathlib import Path

import yaml

from bot.durations import parse_duration
from bot.matrix import parse_criteria
from bot.policy.deescalation_rules import parse_deescalation_rules
from bot.policy.fields import (parse_amount, parse_business_hours, parse_fraction, parse_levels,
                               parse_timezone)
from bot.policy.model import (CHANNEL_ID, CLOCK, DEFAULT_ROOT_CAUSES, SEVERITIES, Policy,
                              PolicyError, PriorityWeights, ReviewSchedule, Severity)


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy file, or the built-in default when path is None."""
    data, source = load_policy_data(path)
    return parse_policy(data, source, base=Path(path).parent if path is not None else None)


def load_policy_data(path: str | Path | None = None) -> tuple[object, str]:
    """The policy file's YAML as read (before validation), and how to name its source."""
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
        return yaml.safe_load(text), source
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        raise PolicyError([f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})"], source) from None


def parse_policy(data: object, source: str = "policy", base: Path | None = None) -> Policy:
    """base: where a relative path in the policy (customer_templates) is read from."""
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

    timezone = parse_timezone(data.get("timezone"), problems)
    business_hours = parse_business_hours(data.get("business_hours", "24x7"), problems, "business_hours")
    sweep_interval = duration("sweep_interval", data.get("sweep_interval", "60s"))
    warn_at = parse_fraction("warn_at", data.get("warn_at", 0.75), problems)
    revenue_threshold = parse_amount("revenue_threshold", data.get("revenue_threshold", 10000), problems)
    executive_revenue_threshold = parse_amount(
        "executive_revenue_threshold", data.get("executive_revenue_threshold", 100000), problems)
    if executive_revenue_threshold < revenue_threshold:
        problems.append("executive_revenue_threshold: must be at least revenue_threshold "
                        f"({revenue_threshold:,.0f})")
    levels = parse_levels(data.get("levels"), problems)

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
    if not isinstance(digest_at, str) or not CLOCK.match(digest_at):
        problems.append(f"digest_at: must be a time like \"09:00\", got {digest_at!r}")

    undo_window = duration("undo_window", data.get("undo_window", "15m"))
    mitigated_to = data.get("mitigated_to", "tier1")
    if levels and mitigated_to not in levels:
        problems.append(f"mitigated_to: unknown level {mitigated_to!r}")
    priority = _parse_priority(data.get("priority") or {}, problems)
    criteria = parse_criteria(data.get("criteria"), levels, problems, Policy.is_above)
    deescalation = parse_deescalation_rules(data.get("deescalation"), levels, problems)
    customer_channels = data.get("customer_channels") or {}
    if not isinstance(customer_channels, dict) or not all(
            isinstance(channel, str) and CHANNEL_ID.match(channel) for channel in customer_channels.values()):
        problems.append("customer_channels: must map a customer name to a Slack channel id (like C0123ABCD)")
        customer_channels = {}
    root_causes = data.get("root_causes", list(DEFAULT_ROOT_CAUSES))
    if (not isinstance(root_causes, list) or not root_causes
            or not all(isinstance(c, str) and 0 < len(c) <= 60 for c in root_causes)):
        problems.append("root_causes: must be a list of category names (each up to 60 characters)")
        root_causes = list(DEFAULT_ROOT_CAUSES)
    review = _parse_review(data.get("review"), levels, problems)

    customer_templates = _parse_customer_templates(data.get("customer_templates"), base, problems)

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
        customer_templates=customer_templates,
        review=review,
        deescalation=deescalation,
    )


def _parse_customer_templates(raw: object, base: Path | None, problems: list[str]) -> str | None:
    """The directory, resolved against the policy file's own; each template in it is
    rendered with a sample ticket now, so a broken one stops `policy check` and `serve`."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        problems.append("customer_templates: must be a directory path")
        return None
    from bot.quality.customer_templates import check

    directory = Path(raw).expanduser()
    if not directory.is_absolute():
        directory = (base or Path.cwd()) / directory
    found = check(str(directory.resolve()))
    problems.extend(found)
    return None if found else str(directory.resolve())


def _parse_review(raw: object, levels: dict, problems: list[str]) -> ReviewSchedule | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"review: must be a mapping like {{level: management, at: \"09:00\"}}, got {raw!r}")
        return None
    for key in sorted(set(raw) - {"level", "at"}, key=str):
        problems.append(f"review.{key}: unknown key (use level and at)")
    level = raw.get("level")
    if level is None:
        problems.append("review.level: missing (the level whose channel gets the monthly review)")
    elif levels and level not in levels:
        problems.append(f"review.level: unknown level {level!r}")
    at = raw.get("at", "09:00")
    if isinstance(at, int) and not isinstance(at, bool):  # YAML reads an unquoted 09:00 as 540 (minutes)
        problems.append(f"review.at: put the time in quotes, like \"09:00\" (YAML read {at!r})")
    elif not isinstance(at, str) or not CLOCK.match(at):
        problems.append(f"review.at: must be a time like \"09:00\", got {at!r}")
    if level is None or not isinstance(at, str):
        return None
    return ReviewSchedule(level=str(level), at=at)


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
