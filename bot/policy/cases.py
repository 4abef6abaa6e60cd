"""The case file of `escalator policy test`: a ticket's facts, its local opening time,
what people did (steps) and what must follow (expect). See docs/policy-as-code.md.

Parsing checks everything before a case runs: a malformed file is one error per
problem, naming the file, the case (number and name) and the field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from bot.forms import TicketFacts
from bot.policy.model import SEVERITIES
from bot.vocabulary import COMPLEXITIES, IMPACTS, TICKET_FLAGS

TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
CLOCK_KINDS = ("response", "time_limit")
TIMELINE_KINDS = {"warning": CLOCK_KINDS, "breach": CLOCK_KINDS, "escalated": None, "deescalated": None}
TIMELINE_KEYS = ("if_unacknowledged", "if_nobody_acts")  # design.md's name, and the plain one
EXPECT_KEYS = ("level", "pings", "response_due", *TIMELINE_KEYS)
STEP_KINDS = ("acknowledged", "waiting", "facts_changed", "resolved")


class CaseFileError(Exception):
    """The file can't be run; `problems` are "FILE: case N (name): field: what" lines."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Step:
    at: datetime  # naive: local time of the policy
    kind: str  # acknowledged | waiting | resumed | facts_changed | resolved
    changes: dict = field(default_factory=dict)  # facts_changed: the facts given


@dataclass(frozen=True)
class Case:
    name: str
    where: str  # "FILE, case N"
    facts: TicketFacts
    opened: datetime  # naive: local time of the policy
    steps: tuple[Step, ...]
    expect: dict  # the expectations given, normalised (see _expectations)
    policy: dict | None = None  # keys of the policy under test that this case replaces


# safe_load's loader, in C where PyYAML was built with libyaml (the same constructors; ~10× faster parsing)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str):
    """safe_load, parsed in C; a file the C parser rejects is read again by safe_load, so
    the error names the line the pure-Python parser does (libyaml's can differ)."""
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        return yaml.safe_load(text)


def load_cases(paths: list[str]) -> list[Case]:
    cases, problems = [], []
    for path in paths:
        try:
            data = _parse(Path(path).read_text("utf-8"))
        except OSError as exc:
            problems.append(f"{path}: cannot read file: {exc.strerror}")
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(f"{path}: {'line ' + str(mark.line + 1) if mark else 'file'}: not valid YAML")
            continue
        if not isinstance(data, list) or not data:
            problems.append(f"{path}: must be a list of cases (- name: …, ticket: …, expect: …)")
            continue
        for number, raw in enumerate(data, 1):
            found: list[str] = []
            case = _case(raw, f"{path}, case {number}", found)
            name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
            label = f"{path}: case {number}" + (f" ({name})" if name else "")
            problems += [f"{label}: {problem}" for problem in found]
            if case is not None and not found:
                cases.append(case)
    if problems:
        raise CaseFileError(problems)
    return cases


def _case(raw: object, where: str, problems: list[str]) -> Case | None:
    if not isinstance(raw, dict):
        problems.append("must be a mapping with name, ticket and expect")
        return None
    for key in sorted(set(raw) - {"name", "ticket", "steps", "expect", "policy"}):
        problems.append(f"{key}: unknown key (use name, ticket, steps, expect, policy)")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name: missing")
    ticket = raw.get("ticket")
    if not isinstance(ticket, dict):
        problems.append("ticket: missing (severity, opened, …)")
        return None
    opened = parse_time(ticket.get("opened"), "ticket.opened", problems)
    facts = _facts(ticket, "ticket", problems, require_all=True)
    steps = _steps(raw.get("steps"), opened, problems)
    expect = _expectations(raw.get("expect"), problems)
    policy = raw.get("policy")
    if policy is not None and not isinstance(policy, dict):
        problems.append("policy: must be a mapping of policy keys this case changes")
    if problems or facts is None or opened is None:
        return None
    return Case(name.strip(), where, facts, opened, tuple(steps), expect, policy)


def parse_time(value: object, path: str, problems: list[str]) -> datetime | None:
    if isinstance(value, datetime):  # YAML reads an unquoted time with seconds itself
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        for form in TIME_FORMATS:
            try:
                return datetime.strptime(value.strip(), form)
            except ValueError:
                continue
    shown = "missing" if value is None else f"got {value!r}"
    problems.append(f'{path}: must be a local time like "2026-12-05 09:30" ({shown})')
    return None


_FACT_KEYS = ("severity", "impact", "complexity", "flags", "revenue_at_risk")


def _facts(raw: dict, path: str, problems: list[str], *, require_all: bool,
           base: TicketFacts | None = None) -> TicketFacts | None:
    allowed = set(_FACT_KEYS) | ({"opened", "customer"} if require_all else {"at"})
    for key in sorted(set(raw) - allowed):
        problems.append(f"{path}.{key}: unknown fact (use {', '.join(_FACT_KEYS)})")
    before = len(problems)
    severity = raw.get("severity", base.severity if base else None)
    if severity not in SEVERITIES:
        problems.append(f"{path}.severity: must be one of {', '.join(SEVERITIES)}"
                        + ("" if severity is None else f" (got {severity!r})"))
    impact = raw.get("impact", base.impact if base else "one_user")
    if impact not in IMPACTS:
        problems.append(f"{path}.impact: must be one of {', '.join(IMPACTS)} (got {impact!r})")
    complexity = raw.get("complexity", base.complexity if base else "known_issue")
    if complexity not in COMPLEXITIES:
        problems.append(f"{path}.complexity: must be one of {', '.join(COMPLEXITIES)} (got {complexity!r})")
    flags = raw.get("flags", sorted(base.flags) if base else [])
    if not isinstance(flags, list) or any(flag not in TICKET_FLAGS for flag in flags):
        problems.append(f"{path}.flags: must list some of {', '.join(TICKET_FLAGS)} (got {flags!r})")
    revenue = _amount(raw["revenue_at_risk"], f"{path}.revenue_at_risk", problems) if "revenue_at_risk" in raw \
        else (base.revenue_at_risk if base else None)
    if len(problems) > before:
        return None
    return TicketFacts(severity, impact, complexity, revenue, frozenset(flags))


def _amount(value: object, path: str, problems: list[str]) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        amount = None
    if isinstance(value, bool) or amount is None or not amount.is_finite() or amount < 0:
        problems.append(f"{path}: must be an amount like 12000 (got {value!r})")
        return None
    return amount.quantize(Decimal("0.01"))


def _steps(raw: object, opened: datetime | None, problems: list[str]) -> list[Step]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append("steps: must be a list (- acknowledged: TIME, - waiting: {from: TIME, to: TIME}, …)")
        return []
    steps: list[Step] = []
    for number, item in enumerate(raw, 1):
        path = f"steps[{number}]"
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in STEP_KINDS:
            problems.append(f"{path}: must be one of {', '.join(k + ': …' for k in STEP_KINDS)}")
            continue
        kind, value = next(iter(item.items()))
        if kind in ("acknowledged", "resolved"):
            at = parse_time(value, f"{path}.{kind}", problems)
            steps += [Step(at, kind)] if at else []
        elif kind == "waiting":
            if not isinstance(value, dict) or "from" not in value or set(value) - {"from", "to"}:
                problems.append(f"{path}.waiting: must be {{from: TIME, to: TIME}} (to: left out while still waiting)")
                continue
            start = parse_time(value["from"], f"{path}.waiting.from", problems)
            end = parse_time(value["to"], f"{path}.waiting.to", problems) if "to" in value else None
            steps += [Step(start, "waiting")] if start else []
            if end is not None and start is not None:
                if end <= start:
                    problems.append(f"{path}.waiting.to: must come after from")
                steps.append(Step(end, "resumed"))
        else:
            if not isinstance(value, dict):
                problems.append(f"{path}.facts_changed: must be {{at: TIME, impact: …, flags: […], …}}")
                continue
            at = parse_time(value.get("at"), f"{path}.facts_changed.at", problems)
            changes = {key: val for key, val in value.items() if key != "at"}
            if "revenue_at_risk" in changes:
                changes["revenue_at_risk"] = _amount(changes["revenue_at_risk"], f"{path}.facts_changed.revenue_at_risk",
                                                     [])
            if not changes:
                problems.append(f"{path}.facts_changed: name at least one fact that changed")
            _facts(value, f"{path}.facts_changed", problems, require_all=False,
                   base=TicketFacts("P3", "one_user", "known_issue", None, frozenset()))
            steps += [Step(at, kind, changes)] if at else []
    previous = opened
    for step in steps:
        if previous is not None and step.at < previous:
            problems.append(f"steps: {step.kind} at {step.at:%Y-%m-%d %H:%M} comes before the step or opening "
                            f"before it (steps are in time order)")
        previous = step.at
    return steps


def _expectations(raw: object, problems: list[str]) -> dict:
    if not isinstance(raw, dict) or not raw:
        problems.append(f"expect: missing (give some of {', '.join(EXPECT_KEYS)})")
        return {}
    expect: dict = {}
    for key in sorted(set(raw) - set(EXPECT_KEYS)):
        problems.append(f"expect.{key}: unknown expectation (use {', '.join(EXPECT_KEYS)})")
    if sum(key in raw for key in TIMELINE_KEYS) > 1:
        problems.append(f"expect: give one of {' or '.join(TIMELINE_KEYS)}, not both")
    if "level" in raw:
        if not isinstance(raw["level"], str):
            problems.append("expect.level: must name a level, like tier2")
        expect["level"] = raw["level"]
    if "pings" in raw:
        pings = raw["pings"] or {}
        if not isinstance(pings, dict) or not all(isinstance(v, list) and all(isinstance(r, str) for r in v)
                                                  for v in pings.values()):
            problems.append("expect.pings: must map a level to a list of reasons, like {management: [p1, vip]}")
        else:
            expect["pings"] = {str(level): sorted(reasons) for level, reasons in pings.items() if reasons}
    if "response_due" in raw:
        due = raw["response_due"]
        expect["response_due"] = None if due is None else parse_time(due, "expect.response_due", problems)
    for key in TIMELINE_KEYS:
        if key in raw:
            expect["timeline"] = _timeline(raw[key], f"expect.{key}", problems)
            expect["timeline_key"] = key
    return expect


def _timeline(raw: object, path: str, problems: list[str]) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"{path}: must be a list like - {{at: TIME, warning: response}}")
        return []
    entries = []
    for number, item in enumerate(raw, 1):
        where = f"{path}[{number}]"
        kinds = [key for key in TIMELINE_KINDS if isinstance(item, dict) and key in item]
        if not isinstance(item, dict) or len(kinds) != 1:
            problems.append(f"{where}: must be {{at: TIME}} with one of {', '.join(TIMELINE_KINDS)}")
            continue
        for key in sorted(set(item) - {"at", "tells", *TIMELINE_KINDS}):
            problems.append(f"{where}.{key}: unknown key (use at, {', '.join(TIMELINE_KINDS)}, tells)")
        kind = kinds[0]
        allowed = TIMELINE_KINDS[kind]
        if allowed and item[kind] not in allowed:
            problems.append(f"{where}.{kind}: must be one of {', '.join(allowed)} (got {item[kind]!r})")
        if not allowed and not isinstance(item[kind], str):
            problems.append(f"{where}.{kind}: must name the level, like tier2")
        if "tells" in item and (kind != "breach" or item["tells"] != "management"):
            problems.append(f"{where}.tells: only a breach tells, and only management")
        at = parse_time(item.get("at"), f"{where}.at", problems)
        entry = {"at": at, kind: item[kind]}
        if "tells" in item:
            entry["tells"] = item["tells"]
        entries.append(entry)
    return entries
