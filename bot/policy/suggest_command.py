"""The `escalator suggest [--from DATE --to DATE] [--write PATH]` command: prints the
findings of bot.policy.suggest; --write saves the current policy with the suggested
values as a candidate (checked with the policy's own parser before it is written),
for `escalator simulate --policy PATH` to replay."""
from __future__ import annotations

import sys
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path

import yaml

from bot.config import load_settings
from bot.db import make_engine, make_session_factory
from bot.durations import parse_day
from bot.policy.parsing import load_policy, parse_policy
from bot.policy.suggest import Suggestions, as_policy_duration, suggest


def run_suggest(start: str | None, end: str | None, write: str | None) -> int:
    settings = load_settings(need_slack=False)
    policy = load_policy(settings.policy_path)
    try:
        first = _day(start, "--from")
        last = _day(end, "--to")
    except ValueError as error:
        print(f"escalator: {error}", file=sys.stderr)
        return 2
    if first and last and last < first:
        print(f"escalator: --to {end} is before --from {start}", file=sys.stderr)
        return 2
    local = lambda day: datetime.combine(day, time(0), policy.timezone)  # noqa: E731
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            found = suggest(session, policy, local(first) if first else None,
                            local(last + timedelta(days=1)) if last else None)
    finally:
        engine.dispose()
    print(report(found, start, end))
    if write:
        print(write_candidate(found, settings.policy_path, write))
    return 0


def report(found: Suggestions, start: str | None, end: str | None) -> str:
    span = f" opened {start or 'any time'} to {end or 'now'}" if start or end else ""
    lines = [f"{found.tickets} tickets{span}", "", "Response targets and time limits:"]
    lines += [f"  {finding.line}" for finding in found.targets]
    lines += ["", "Criteria rules:"] + [f"  {line}" for line in found.criteria or ["every rule fired, none came "
                                                                               "back down within a day"]]
    lines += ["", "Revenue thresholds:"] + [f"  {line}" for line in found.revenue]
    return "\n".join(lines)


def write_candidate(found: Suggestions, policy_path: str | None, path: str) -> str:
    source = Path(policy_path).read_text("utf-8") if policy_path else \
        resources.files("bot").joinpath("default_policy.yaml").read_text("utf-8")
    data = yaml.safe_load(source)
    changed = []
    for finding in found.targets:
        if finding.value is None:
            continue
        section, key, *rest = finding.what.split(".")
        value = as_policy_duration(finding.value)
        if section == "severities":
            data["severities"][key]["response"] = value
        else:
            data.setdefault("time_limits", {})[key] = value
        changed.append(f"# {finding.line}")
    parse_policy(data, path)  # a candidate the policy's own rules refuse is never written
    header = ["# Candidate policy written by `escalator suggest`; replay it with",
              f"# `escalator simulate --policy {path}` before adopting it.",
              *(changed or ["# (too little data: no value changed)"]), ""]
    Path(path).write_text("\n".join(header) + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    return f"candidate policy written to {path} ({len(changed)} values changed)"


def _day(text: str | None, flag: str) -> date | None:
    return None if text is None else parse_day(flag, text)
