"""The mapping file of `escalator import`: which CSV column holds which fact, and how
the helpdesk's values read in Escalator's words (docs/policy-data.md has the format).

Every problem names its field ("values.level.Engineering: unknown level 'tier4'"),
and all of them are reported at once, before a single row is read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.policy import SEVERITIES, Policy
from bot.vocabulary import COMPLEXITIES, IMPACTS

# fact → what it is, for messages; id and opened are required
COLUMNS = {
    "id": "the ticket's id in the helpdesk", "opened": "when it was opened", "summary": "its subject",
    "severity": "its severity or priority", "level": "the group or level that had it",
    "acknowledged": "the first response", "escalated": "when it was escalated", "resolved": "when it was solved",
    "csat": "the satisfaction score", "root_cause": "the root cause", "customer": "the customer or organization",
    "revenue": "revenue at risk", "impact": "how many users it hit", "complexity": "how hard it was",
}
REQUIRED = ("id", "opened")
VALUE_MAPS = ("severity", "level", "csat", "root_cause", "impact", "complexity")
DEFAULTS = ("severity", "level", "impact", "complexity", "customer")


class MappingError(Exception):
    def __init__(self, problems: list[str], source: str):
        self.problems, self.source = problems, source
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class Mapping:
    source: str  # prefixes the helpdesk id: the ticket's source id is "zendesk:1234"
    columns: dict[str, str]  # fact → CSV column
    values: dict[str, dict[str, str]]  # fact → {helpdesk value → Escalator value}
    defaults: dict[str, str] = field(default_factory=dict)  # fact → value when the column is absent or empty
    timezone: ZoneInfo = ZoneInfo("UTC")  # for times written without an offset
    time_format: str | None = None  # strptime format; None: ISO 8601
    delimiter: str = ","


def load_mapping(path: str | Path, policy: Policy) -> Mapping:
    source = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise MappingError([f"cannot read file: {exc.strerror}"], source) from None
    except yaml.YAMLError as exc:
        raise MappingError([f"not valid YAML ({getattr(exc, 'problem', exc)})"], source) from None
    return parse_mapping(data, policy, source)


def parse_mapping(data: object, policy: Policy, source: str = "mapping") -> Mapping:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise MappingError(["(top level): must be a mapping with source, columns, values"], source)
    for key in sorted(set(map(str, data)) - {"source", "columns", "values", "defaults", "timezone", "time_format",
                                             "delimiter"}):
        problems.append(f"{key}: unknown key (use source, columns, values, defaults, timezone, time_format, "
                        "delimiter)")
    name = data.get("source")
    if not isinstance(name, str) or not name.strip() or ":" in name or len(name) > 40:
        problems.append("source: must name the helpdesk in a word (e.g. zendesk), without ':'")
        name = "import"
    columns = data.get("columns")
    if not isinstance(columns, dict):
        problems.append("columns: missing (fact: CSV column, e.g. id: Ticket ID)")
        columns = {}
    for fact in REQUIRED:
        if not columns.get(fact):
            problems.append(f"columns.{fact}: missing ({COLUMNS[fact]})")
    for fact, column in columns.items():
        if fact not in COLUMNS:
            problems.append(f"columns.{fact}: unknown fact (use {', '.join(COLUMNS)})")
        elif not isinstance(column, str) or not column:
            problems.append(f"columns.{fact}: must name a CSV column")
    values = _parse_values(data.get("values") or {}, policy, problems)
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append("defaults: must map a fact to a value")
        defaults = {}
    for fact, value in defaults.items():
        if fact not in DEFAULTS:
            problems.append(f"defaults.{fact}: no default for that fact (use {', '.join(DEFAULTS)})")
        else:
            problem = _check_value(fact, str(value), policy)
            if problem:
                problems.append(f"defaults.{fact}: {problem}")
    if "severity" not in columns and "severity" not in defaults:
        problems.append("columns.severity: missing (or give defaults.severity)")
    try:
        timezone = ZoneInfo(str(data.get("timezone") or policy.timezone.key))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: unknown time zone {data.get('timezone')!r} (e.g. Europe/Berlin)")
        timezone = ZoneInfo("UTC")
    time_format = data.get("time_format")
    if time_format is not None and (not isinstance(time_format, str) or "%" not in time_format):
        problems.append(f"time_format: must be a strptime format like \"%d.%m.%Y %H:%M\", got {time_format!r}")
    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        problems.append(f"delimiter: must be one character, got {delimiter!r}")
    if problems:
        raise MappingError(problems, source)
    return Mapping(name.strip(), {str(k): str(v) for k, v in columns.items()}, values,
                   {str(k): str(v) for k, v in defaults.items()}, timezone, time_format, delimiter)


def _parse_values(raw: object, policy: Policy, problems: list[str]) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        problems.append("values: must map a fact to {helpdesk value: Escalator value}")
        return {}
    values: dict[str, dict[str, str]] = {}
    for fact, table in raw.items():
        if fact not in VALUE_MAPS:
            problems.append(f"values.{fact}: no value map for that fact (use {', '.join(VALUE_MAPS)})")
            continue
        if not isinstance(table, dict) or not table:
            problems.append(f"values.{fact}: must map helpdesk values to Escalator values")
            continue
        for theirs, ours in table.items():
            problem = _check_value(fact, str(ours), policy)
            if problem:
                problems.append(f"values.{fact}.{theirs}: {problem}")
        # matched without regard to case or surrounding blanks, as exports vary
        values[fact] = {str(theirs).strip().casefold(): str(ours) for theirs, ours in table.items()}
    return values


def _check_value(fact: str, value: str, policy: Policy) -> str | None:
    if fact == "severity" and value not in SEVERITIES:
        return f"{value!r} is not a severity (P1, P2, P3, P4)"
    if fact == "level" and value not in policy.levels:
        return f"unknown level {value!r} (the policy has {', '.join(policy.levels)})"
    if fact == "root_cause" and value not in policy.root_causes:
        return f"{value!r} is not one of the policy's root causes ({', '.join(policy.root_causes)})"
    if fact == "impact" and value not in IMPACTS:
        return f"{value!r} is not an impact ({', '.join(IMPACTS)})"
    if fact == "complexity" and value not in COMPLEXITIES:
        return f"{value!r} is not a complexity ({', '.join(COMPLEXITIES)})"
    if fact == "csat" and value not in ("1", "2", "3", "4", "5"):
        return f"{value!r} is not a score from 1 to 5"
    return None
