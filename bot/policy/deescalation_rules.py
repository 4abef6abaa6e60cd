"""Automatic de-escalation rules (`deescalation:` in the policy): when a ticket's stay
at a level has been waiting on the customer, quiet, or free of business risk for long
enough, the sweep hands it down (bot.sla.auto_deescalation runs them).

This module holds the rule, its parsing, and the decision as a pure function of a
stay (`Stay`), so the live sweep and any replay of history ask the same question.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.durations import format_duration, parse_duration
from bot.policy.model import LADDER

PREVIOUS = "previous"
CONDITIONS = {
    "waiting_on_customer": "waiting on the customer",
    "quiet": "quiet (no one acted or wrote in the thread)",
    "no_business_risk": "no business-risk reason left",
}
# conditions that mean nothing without a duration: "quiet" for no time at all is every ticket
NEEDS_DURATION = ("waiting_on_customer", "quiet")
KEYS = ("from", "when", "for", "to")


@dataclass(frozen=True)
class DeescalationRule:
    number: int  # 1-based position in the policy's list: the rule's name in reasons and the ledger
    from_level: str
    when: str
    after: timedelta  # how long the condition must have held in this stay
    to: str  # a level below from_level, or "previous"

    def describe(self, level_name) -> str:
        held = f" for {format_duration(self.after)}" if self.after else ""
        target = "the level it came from" if self.to == PREVIOUS else level_name(self.to)
        return (f"de-escalation rule {self.number}: {CONDITIONS[self.when].split(' (')[0]}{held} "
                f"at {level_name(self.from_level)} → {target}")


@dataclass(frozen=True)
class Stay:
    """What the rules need to know of a ticket's current stay at its level."""

    level: str
    entered_at: datetime
    came_from: str | None  # the level it moved from into this stay; None when it opened here
    entered_by_undo: bool  # a person undid a de-escalation: the rules leave this stay alone
    waiting_since: datetime | None  # waiting on the customer now: since when (None: not waiting)
    last_activity: datetime  # the latest action or thread note by a person in this stay
    at_risk: bool  # a business-risk reason (bot.routing.management_reasons) holds now
    risk_changed_at: datetime | None  # the latest change of the ticket's facts


def parse_deescalation_rules(raw: object, levels: dict, problems: list[str]) -> tuple[DeescalationRule, ...]:
    """Each problem names its rule ("deescalation[2].to: ..."), as `policy check` prints it."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("deescalation: must be a list of rules like {from: tier3, when: quiet, for: 3d, to: tier1}")
        return ()
    rules = []
    for index, spec in enumerate(raw):
        path = f"deescalation[{index + 1}]"
        if not isinstance(spec, dict):
            problems.append(f"{path}: must be a mapping with from, when, to (and for)")
            continue
        before = len(problems)
        for key in sorted(set(map(str, spec)) - set(KEYS)):
            problems.append(f"{path}.{key}: unknown key (use from, when, for, to)")
        source, when, target = spec.get("from"), spec.get("when"), spec.get("to")
        if source is None:
            problems.append(f"{path}.from: missing (the level the ticket is at)")
        elif source not in levels or source not in LADDER:
            problems.append(f"{path}.from: {source!r} is not a level of the ladder ({', '.join(LADDER)})")
        if when not in CONDITIONS:
            problems.append(f"{path}.when: must be one of {', '.join(CONDITIONS)}, got {when!r}")
        after = timedelta(0)
        if spec.get("for") is not None:
            try:
                after = parse_duration(spec["for"])
            except ValueError as exc:
                problems.append(f"{path}.for: {exc}")
        elif when in NEEDS_DURATION:
            problems.append(f"{path}.for: missing (how long the ticket must be {CONDITIONS[when].split(' (')[0]}, "
                            "e.g. 2d)")
        if target is None:
            problems.append(f"{path}.to: missing (a lower level, or previous)")
        elif target != PREVIOUS:
            if target not in levels:
                problems.append(f"{path}.to: unknown level {target!r}")
            elif source in LADDER and target not in _below(str(source)):
                problems.append(f"{path}.to: {target} is not below {source}; a de-escalation goes down the ladder")
        if len(problems) == before:
            rules.append(DeescalationRule(index + 1, str(source), str(when), after, str(target)))
    return tuple(rules)


def _below(level: str) -> tuple[str, ...]:
    return LADDER[: LADDER.index(level)] if level in LADDER else ()


def target_of(rule: DeescalationRule, stay: Stay) -> str | None:
    """Where the rule sends this stay, or None when it has nowhere below to go."""
    target = stay.came_from if rule.to == PREVIOUS else rule.to
    return target if target in _below(stay.level) else None


def fires_at(rule: DeescalationRule, stay: Stay) -> datetime | None:
    """The moment the rule's condition will have held long enough in this stay, or None
    while it does not hold (or the rule does not apply to the stay)."""
    if rule.from_level != stay.level or stay.entered_by_undo or target_of(rule, stay) is None:
        return None
    if rule.when == "waiting_on_customer":
        if stay.waiting_since is None:
            return None
        since = max(stay.waiting_since, stay.entered_at)
    elif rule.when == "quiet":
        since = max(stay.last_activity, stay.entered_at)
    else:  # no_business_risk
        if stay.at_risk:
            return None
        since = max(stay.risk_changed_at or stay.entered_at, stay.entered_at)
    return since + rule.after


def first_due(rules: tuple[DeescalationRule, ...], stay: Stay, now: datetime) -> DeescalationRule | None:
    """The rule that hands the stay down now: of the rules due, the one listed first."""
    for rule in rules:
        at = fires_at(rule, stay)
        if at is not None and at <= now:
            return rule
    return None
