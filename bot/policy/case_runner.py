"""Running `escalator policy test` cases on the live desk (bot.policy.sandbox) and
saying, for each, passed or FAILED with what differed.

A case runs alone: the sandbox forgets the previous case's tickets, opens this one at
its local opening time, lets time pass to each step and does it, notes the ticket's
level, pings and response deadline, then lets time run on with nobody acting until no
warning, breach or time limit is left to come (at most RUN_OUT after the last step).
"""
from __future__ import annotations

import difflib
import json
import multiprocessing
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.errors import EscalatorError
from bot.forms import TicketFacts
from bot.models import ClockKind, SlaClock
from bot.policy import observe
from bot.policy.cases import Case, CaseFileError, Step
from bot.policy.model import Policy, PolicyError
from bot.policy.parsing import parse_policy
from bot.policy.sandbox import Sandbox

RUN_OUT = timedelta(days=60)
CASES_PER_WORKER = 20  # fewer and a process costs more than it saves


@dataclass
class Outcome:
    case: Case
    differences: list[str]  # readable lines; empty when the case passed

    @property
    def passed(self) -> bool:
        return not self.differences


class CaseRunner:
    def __init__(self, policy_data: dict, source: str):
        self.policy_data = policy_data
        self.source = source
        self._boxes: dict[str, Sandbox] = {}
        self._policies: dict[str, Policy] = {}

    def __enter__(self) -> CaseRunner:
        return self

    def __exit__(self, *exc) -> None:
        for box in self._boxes.values():
            box.__exit__(None, None, None)

    def policies(self, cases: list[Case]) -> None:
        """Check every case's policy changes before anything runs (a bad one is a
        malformed file, exit 2)."""
        problems = []
        for case in cases:
            try:
                self._policy(case)
            except PolicyError as error:
                problems += [f"{case.where} ({case.name}): policy.{problem}" for problem in error.problems]
        if problems:
            raise CaseFileError(problems)

    def run_all(self, cases: list[Case]) -> list[Outcome]:
        """Every case's outcome, in order. Cases are independent (each starts over in its
        own sandbox), so a long file runs on every core, a slice of cases per process;
        where processes can't be forked (or a file is short) they run here, one by one."""
        workers = min(_cores(), len(cases) // CASES_PER_WORKER)
        if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
            return [self.run(case) for case in cases]
        slices = [cases[i::workers] for i in range(workers)]  # interleaved: slow cases spread out
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_run_slice, [(self.policy_data, self.source, part) for part in slices])
        ordered: list[Outcome] = [None] * len(cases)  # type: ignore[list-item]
        for i, outcomes in enumerate(results):
            ordered[i::workers] = outcomes
        return ordered

    def run(self, case: Case) -> Outcome:
        policy = self._policy(case)
        zone = policy.timezone
        box = self._box(case, policy)
        box.start_over(_utc(case.opened, zone))
        ticket = box.open(case.facts)
        failed_step = None
        for number, step in enumerate(case.steps, 1):
            box.run_until(_utc(step.at, zone))
            try:
                self._do(box, ticket.id, step)
            except EscalatorError as error:
                failed_step = f"steps[{number}] ({step.kind}) could not be done: {error}"
                break
        actual = self._observe(box, ticket.id, zone, case)
        differences = [failed_step] if failed_step else []
        return Outcome(case, differences + compare(case.expect, actual, zone))

    # --- internals ----------------------------------------------------------------
    def _policy(self, case: Case) -> Policy:
        """The case's policy, parsed once per distinct set of changes (most cases have
        none): parsing reads the holiday calendars, and a case's run does not change it."""
        key = _key(case)
        if key not in self._policies:
            data = dict(self.policy_data)
            data.update(case.policy or {})
            self._policies[key] = parse_policy(
                data, self.source if not case.policy else f"{self.source} with the case's changes")
        return self._policies[key]

    def _box(self, case: Case, policy: Policy) -> Sandbox:
        key = _key(case)
        if key not in self._boxes:
            self._boxes[key] = Sandbox(policy, datetime.now(ZoneInfo("UTC"))).__enter__()
        return self._boxes[key]

    @staticmethod
    def _do(box: Sandbox, ticket_id: int, step: Step) -> None:
        if step.kind == "acknowledged":
            box.acknowledge(ticket_id)
        elif step.kind == "waiting":
            box.wait(ticket_id)
        elif step.kind == "resumed":
            box.resume(ticket_id)
        elif step.kind == "resolved":
            box.resolve(ticket_id)
        else:
            now = box.facts_of(ticket_id)
            changes = step.changes
            revenue = changes["revenue_at_risk"] if "revenue_at_risk" in changes else now.revenue_at_risk
            box.change_facts(ticket_id, TicketFacts(
                changes.get("severity", now.severity), changes.get("impact", now.impact),
                changes.get("complexity", now.complexity),
                revenue,
                frozenset(changes["flags"]) if "flags" in changes else now.flags))

    @staticmethod
    def _observe(box: Sandbox, ticket_id: int, zone: ZoneInfo, case: Case) -> dict:
        ticket = box.ticket(ticket_id)
        with box.sessions() as session:
            due = session.scalar(select(SlaClock.due_at).where(
                SlaClock.ticket_id == ticket_id, SlaClock.cycle == ticket.cycle,
                SlaClock.kind == ClockKind.RESPONSE, SlaClock.stopped_at.is_(None)))
        last = case.steps[-1].at if case.steps else case.opened
        box.run_out(_utc(last, zone) + RUN_OUT)
        with box.sessions() as session:
            happened = observe.timelines(session, [ticket_id]).get(ticket_id, [])
            pinged = observe.pings(session, [ticket_id]).get(ticket_id, {})
        return {
            "level": ticket.level,
            "pings": {level: sorted(reasons) for level, reasons in pinged.items()},
            "response_due": None if due is None else due.astimezone(zone).replace(tzinfo=None),
            "timeline": [_entry(h, zone) for h in happened],
        }


def _key(case: Case) -> str:
    """The case's policy changes as a key: cases with the same changes share a policy and a sandbox."""
    return json.dumps(case.policy or {}, sort_keys=True, default=str)


def _entry(happening: observe.Happening, zone: ZoneInfo) -> dict:
    entry = {"at": happening.at.astimezone(zone).replace(tzinfo=None), happening.kind: happening.what}
    if happening.tells:
        entry["tells"] = happening.tells
    return entry


def compare(expect: dict, actual: dict, zone: ZoneInfo) -> list[str]:
    """What differs, one readable block per expectation that doesn't hold."""
    lines = []
    for key in ("level", "pings", "response_due"):
        if key in expect and expect[key] != actual[key]:
            lines.append(f"{key}: expected {_show(expect[key])}, got {_show(actual[key])}")
    if "timeline" in expect and expect["timeline"] != actual["timeline"]:
        wanted = [_show(entry) for entry in expect["timeline"]]
        got = [_show(entry) for entry in actual["timeline"]]
        lines.append(f"{expect['timeline_key']}: (- expected, + actual)")
        for line in difflib.ndiff(wanted, got):
            if line[:1] in "-+ ":
                lines.append(f"  {line}")
    return lines


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, datetime):
        return f'"{value:%Y-%m-%d %H:%M}"' if not value.second else f'"{value:%Y-%m-%d %H:%M:%S}"'
    if isinstance(value, dict):
        inner = ", ".join(f"{key}: {_show(item)}" for key, item in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return str(value)


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A local time of the policy as an instant (a time the clocks skip reads as the
    same wall time before the change, as zoneinfo does)."""
    return local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))


def _run_slice(job: tuple[dict, str, list[Case]]) -> list[Outcome]:
    """A worker process's share of run_all: its own runner and sandboxes."""
    policy_data, source, cases = job
    with CaseRunner(policy_data, source) as runner:
        return [runner.run(case) for case in cases]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def report(outcomes: list[Outcome], out=print) -> int:
    for outcome in outcomes:
        if outcome.passed:
            out(f"passed  {outcome.case.name}")
            continue
        out(f"FAILED  {outcome.case.name}  ({outcome.case.where})")
        for line in outcome.differences:
            out(f"        {line}")
    failed = sum(not outcome.passed for outcome in outcomes)
    out(f"{len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed else 0
