"""The escalation criteria matrix (design.md §2) as policy: which facts of a ticket
take it up which rung, so routing on open and the escalate modal's suggestion
follow the same rules, and each automatic decision can name the rule that fired."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.vocabulary import COMPLEXITIES, IMPACTS, TICKET_FLAGS

FACTS = {"impact": IMPACTS, "complexity": COMPLEXITIES, "flags": TICKET_FLAGS}


@dataclass(frozen=True)
class Rung:
    """From one level to the next when any listed fact holds."""

    level: str
    to: str
    facts: tuple[tuple[str, tuple[str, ...]], ...]  # (impact|complexity|flags, values)


@dataclass(frozen=True)
class Fired:
    from_level: str
    to_level: str
    fact: str
    value: str

    @property
    def label(self) -> str:
        return f"{self.fact.capitalize()}: {FACTS[self.fact].get(self.value, self.value)}"


DEFAULT_CRITERIA = {
    "tier1": {"to": "tier2", "impact": ["multiple_users", "system_wide"],
              "complexity": ["cant_diagnose", "needs_development"], "flags": ["asked_for_manager"]},
    "tier2": {"to": "tier3", "impact": ["system_wide"], "complexity": ["needs_development"],
              "flags": ["asked_again"]},
}


def parse_criteria(raw: object, levels: dict, problems: list[str],
                   is_above: Callable[[str, str], bool]) -> tuple[Rung, ...]:
    """The rungs of a policy's `criteria`; each must lead up the ladder (`is_above`), so
    a climb can never come back to a level it left."""
    if raw is None:
        raw = DEFAULT_CRITERIA
    if not isinstance(raw, dict):
        problems.append("criteria: must map a level to {to: LEVEL, impact: [...], complexity: [...], flags: [...]}")
        return ()
    rungs = []
    for level, spec in raw.items():
        path = f"criteria.{level}"
        if levels and level not in levels:
            problems.append(f"{path}: unknown level")
            continue
        if not isinstance(spec, dict) or spec.get("to") not in levels:
            problems.append(f"{path}.to: must name the level it leads to")
            continue
        if not is_above(spec["to"], level):
            problems.append(f"{path}.to: must be a level above {level} (criteria only escalate)")
            continue
        facts = []
        for fact, known in FACTS.items():
            values = spec.get(fact) or []
            if not isinstance(values, list) or any(v not in known for v in values):
                problems.append(f"{path}.{fact}: must list some of {', '.join(known)}")
                continue
            if values:
                facts.append((fact, tuple(values)))
        for key in set(spec) - {"to", *FACTS}:
            problems.append(f"{path}.{key}: unknown criterion (use impact, complexity, flags)")
        rungs.append(Rung(level, spec["to"], tuple(facts)))
    return tuple(rungs)


def _holds(ticket, fact: str, value: str) -> bool:
    if fact == "flags":
        return bool(getattr(ticket, value))  # parse_criteria let only known flags through
    return getattr(ticket, fact) == value


def climb(rungs: tuple[Rung, ...], ticket, start: str) -> tuple[str, list[Fired]]:
    """The highest level the ticket's facts take it to from `start`, and why."""
    by_level = {rung.level: rung for rung in rungs}
    level, fired = start, []
    for _ in range(len(by_level)):  # each rung leads higher, so no climb takes more steps than there are rungs
        rung = by_level.get(level)
        if rung is None:
            break
        reasons = [Fired(level, rung.to, fact, value) for fact, values in rung.facts for value in values
                   if _holds(ticket, fact, value)]
        if not reasons:
            break
        fired.append(reasons[0])
        level = rung.to
    return level, fired


def explain(fired: list[Fired], level_name) -> str:
    return "; ".join(f"{f.label} ({level_name(f.from_level)} → {level_name(f.to_level)})" for f in fired)
