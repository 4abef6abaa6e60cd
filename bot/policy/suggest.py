"""`escalator suggest`: the policy's numbers against what happened. From the recorded
history (live and imported tickets alike) it measures, per response target and time
limit, the observed times (p50/p80/p90) and how often the current value was breached,
and proposes a value with its evidence in one line; it lists criteria rules that never
fired or whose escalations came back down within a day, and sets the revenue
thresholds against the revenue recorded.

Times are business time of the level's calendar less the time spent waiting on the
customer, as the live clocks count them (bot.calendar), so a suggested value means
what the policy's value means.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.calendar import calendar_for
from bot.durations import format_duration
from bot.matrix import Fired
from bot.models import Ticket, TicketEvent
from bot.policy.model import SEVERITIES, Policy
from bot.sla.deadlines import Pause, elapsed

MIN_CELL = 30  # fewer observations than this: say so instead of suggesting
COVERAGE = 0.9  # a response target that 90% of stays met; a time limit within which 80% of resolutions fell
LIMIT_COVERAGE = 0.8
BOUNCE = timedelta(days=1)


@dataclass
class Stay:
    level: str
    severity: str
    entered_at: datetime
    ack_after: timedelta | None = None
    duration: timedelta | None = None  # None while the ticket is still there
    ended_by: str | None = None  # resolved | escalated | deescalated
    paused: list[tuple[datetime, datetime | None]] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """One line of the report; `value` is the suggestion (None: too little data or none)."""

    what: str  # "severities.P2.response" or "time_limits.tier1"
    line: str
    value: timedelta | None = None


@dataclass
class Suggestions:
    tickets: int
    targets: list[Finding]
    criteria: list[str]
    revenue: list[str]


def suggest(session: Session, policy: Policy, start: datetime | None, end: datetime | None) -> Suggestions:
    stays, fires, bounces, revenues, tickets = _read_history(session, policy, start, end)
    targets = [_response(policy, severity, stays) for severity in SEVERITIES if severity in policy.severities]
    targets += [_time_limit(policy, level, stays) for level in policy.time_limits]
    return Suggestions(tickets, targets, _criteria(policy, fires, bounces), _revenue(policy, revenues))


# --- reading ------------------------------------------------------------------------
def _read_history(session, policy, start, end):
    query = select(Ticket.id, Ticket.severity, Ticket.revenue_at_risk)
    if start is not None:
        query = query.where(Ticket.created_at >= start)
    if end is not None:
        query = query.where(Ticket.created_at < end)
    tickets = {row.id: row for row in session.execute(query)}
    stays: list[Stay] = []
    fires: dict[tuple[str, str], int] = defaultdict(int)
    bounces: dict[tuple[str, str], int] = defaultdict(int)
    events = session.execute(select(TicketEvent.ticket_id, TicketEvent.kind, TicketEvent.from_level,
                                    TicketEvent.to_level, TicketEvent.detail, TicketEvent.at)
                             .where(TicketEvent.ticket_id.in_(select(query.subquery().c.id)))
                             .order_by(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.id))
    current: Stay | None = None
    ticket_id = None
    climbed: list[tuple[tuple[str, str], str, datetime]] = []  # (rule, level it took the ticket to, when)
    for event in events:
        if event.ticket_id != ticket_id:
            _close(current, None, None, policy, stays)
            current, ticket_id, climbed = None, event.ticket_id, []
        severity = tickets[ticket_id].severity
        if event.kind in ("opened", "escalated", "deescalated", "reopened"):
            if event.kind == "deescalated":
                for rule, level, when in climbed:
                    if level == event.from_level and event.at - when <= BOUNCE:
                        bounces[rule] += 1
            _close(current, event.at, event.kind if event.kind != "reopened" else None, policy, stays)
            level = event.to_level or (current.level if current else None)
            current = Stay(level, severity, event.at) if level else None
            start_level = (event.detail or {}).get("entry") if event.kind == "opened" else event.from_level
            for rule, to_level in _rules_of(policy, start_level, (event.detail or {}).get("rules") or []):
                fires[rule] += 1
                climbed.append((rule, to_level, event.at))
        elif current is None:
            continue
        elif event.kind == "acknowledged" and current.ack_after is None:
            current.ack_after = _business(policy, current, current.entered_at, event.at)
        elif event.kind == "paused":
            current.paused.append((event.at, None))
        elif event.kind == "resumed" and current.paused and current.paused[-1][1] is None:
            current.paused[-1] = (current.paused[-1][0], event.at)
        elif event.kind == "resolved":
            _close(current, event.at, "resolved", policy, stays)
            current = None
    _close(current, None, None, policy, stays)
    revenues = sorted(float(row.revenue_at_risk) for row in tickets.values() if row.revenue_at_risk is not None)
    return stays, fires, bounces, revenues, len(tickets)


def _rules_of(policy: Policy, start_level: str | None, labels: list[str]):
    """Which criteria rule each recorded label was: the climb went rung by rung from the start."""
    rungs = {rung.level: rung for rung in policy.criteria}
    level = start_level
    for label in labels:
        rung = rungs.get(level)
        if rung is None:
            return
        yield (level, label), rung.to
        level = rung.to


def _close(stay: Stay | None, at: datetime | None, how: str | None, policy: Policy, stays: list[Stay]) -> None:
    if stay is None:
        return
    if at is not None:
        stay.duration, stay.ended_by = _business(policy, stay, stay.entered_at, at), how
    stays.append(stay)


def _business(policy: Policy, stay: Stay, start: datetime, end: datetime) -> timedelta:
    """Counted as the live SLA clocks count it (bot.sla.deadlines.elapsed)."""
    pauses = [Pause(paused_from, paused_to, "waiting") for paused_from, paused_to in stay.paused]
    return max(elapsed(calendar_for(policy, stay.level), start, end, pauses), timedelta(0))


# --- findings -------------------------------------------------------------------------
def _response(policy: Policy, severity: str, stays: list[Stay]) -> Finding:
    target = policy.severities[severity].response
    what = f"severities.{severity}.response"
    cell = [s for s in stays if s.severity == severity]
    acked = sorted(s.ack_after for s in cell if s.ack_after is not None)
    # a stay never acknowledged that lasted past the target breached it too
    breached = sum(1 for s in cell if (s.ack_after or s.duration or timedelta(0)) > target)
    head = f"{severity} response {format_duration(target)}:"
    if len(acked) < MIN_CELL:
        return Finding(what, f"{head} too little data ({len(acked)} acknowledged stays; {MIN_CELL} needed)")
    p50, p80, p90 = (_percentile(acked, q) for q in (0.5, 0.8, 0.9))
    value = nice(_percentile(acked, COVERAGE))
    verdict = f"keep {format_duration(target)}" if value == target else f"suggest {format_duration(value)}"
    return Finding(what, f"{head} acknowledged p50 {format_duration(p50)}, p80 {format_duration(p80)}, "
                         f"p90 {format_duration(p90)} over {len(acked)} stays; {breached / len(cell):.0%} breached "
                         f"→ {verdict} ({COVERAGE:.0%} were acknowledged within it)", value)


def _time_limit(policy: Policy, level: str, stays: list[Stay]) -> Finding:
    limit = policy.time_limits[level]
    what = f"time_limits.{level}"
    ended = [s for s in stays if s.level == level and s.duration is not None and s.severity != "P4"]
    resolved = sorted(s.duration for s in ended if s.ended_by == "resolved")
    head = f"{policy.level_name(level)} time limit {format_duration(limit)}:"
    if len(ended) < MIN_CELL or len(resolved) < MIN_CELL:
        return Finding(what, f"{head} too little data ({len(ended)} stays, {len(resolved)} resolved there; "
                             f"{MIN_CELL} needed)")
    times = sorted(s.duration for s in ended)
    p50, p80, p90 = (_percentile(times, q) for q in (0.5, 0.8, 0.9))
    breached = sum(1 for t in times if t >= limit)
    value = nice(_percentile(resolved, LIMIT_COVERAGE))
    verdict = f"keep {format_duration(limit)}" if value == limit else f"suggest {format_duration(value)}"
    return Finding(what, f"{head} time in level p50 {format_duration(p50)}, p80 {format_duration(p80)}, "
                         f"p90 {format_duration(p90)} over {len(times)} stays; {breached / len(times):.0%} reached "
                         f"the limit → {verdict} ({LIMIT_COVERAGE:.0%} of the {len(resolved)} resolved at "
                         f"{policy.level_name(level)} were resolved within it)", value)


def _criteria(policy: Policy, fires, bounces) -> list[str]:
    lines = []
    for rung in policy.criteria:
        for fact, values in rung.facts:
            for value in values:
                label = Fired(rung.level, rung.to, fact, value).label
                rule = (rung.level, label)
                name = f"criteria.{rung.level} {label} ({policy.level_name(rung.level)} → {policy.level_name(rung.to)})"
                if not fires.get(rule):
                    lines.append(f"{name}: never fired")
                elif bounces.get(rule):
                    lines.append(f"{name}: fired {fires[rule]} times, {bounces[rule]} came back down within a day "
                                 f"({bounces[rule] / fires[rule]:.0%})")
    return lines


def _revenue(policy: Policy, revenues: list[float]) -> list[str]:
    if not revenues:
        return ["revenue at risk: none recorded"]
    head = f"revenue at risk recorded on {len(revenues)} tickets"
    if len(revenues) < MIN_CELL:
        return [f"{head}: too little data ({MIN_CELL} needed)"]
    lines = [f"{head}: p50 {_money(_percentile(revenues, 0.5))}, p80 {_money(_percentile(revenues, 0.8))}, "
             f"p90 {_money(_percentile(revenues, 0.9))}, max {_money(revenues[-1])}"]
    for key, threshold, who in (("revenue_threshold", policy.revenue_threshold, "management"),
                                ("executive_revenue_threshold", policy.executive_revenue_threshold, "the executive level")):
        share = sum(1 for r in revenues if r >= float(threshold)) / len(revenues)
        lines.append(f"{key} {_money(float(threshold))}: {share:.0%} of them reach it ({who} is pinged)")
    return lines


# --- numbers ------------------------------------------------------------------------------
def _percentile(values: list, q: float):
    """Nearest-rank percentile of sorted values."""
    return values[max(0, math.ceil(q * len(values)) - 1)]


def nice(value: timedelta) -> timedelta:
    """Rounded up to a step a person would write: 5 min under 1h, 15 min under 8h, 1h beyond."""
    step = 300 if value < timedelta(hours=1) else 900 if value < timedelta(hours=8) else 3600
    return timedelta(seconds=max(step, math.ceil(value.total_seconds() / step) * step))


def as_policy_duration(value: timedelta) -> str:
    """The policy's one-unit form: "45m", "4h", "2d"."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _money(amount: float) -> str:
    return f"{amount:,.0f}"

