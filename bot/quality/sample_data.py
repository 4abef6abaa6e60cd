"""Seeded, realistic escalation history: tickets, their event logs and SLA clocks.

Shared by `bench/report.py` (1k–100k tickets) and `escalator demo --month` (a month
for a newcomer). The same seed gives the same history. Rows are written with Core
bulk inserts in batches, so 100k tickets (about a million events) take seconds and
little memory; it writes only what the desk itself would have written (the event
kinds, triggers and clock rows of bot.desk / bot.sla), so the metrics read it as
they read real history.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.engine import Connection

from bot.models import ClockKind, CsatResponse, SlaClock, Ticket, TicketEvent
from bot.policy import Policy
from bot.quality import stays

UTC = timezone.utc
SEVERITY_MIX = (("P1", 0.05), ("P2", 0.20), ("P3", 0.55), ("P4", 0.20))
# how long a level takes to acknowledge, in minutes (median of a log-normal), by severity
ACK_MEDIAN_MIN = {"P1": 10, "P2": 45, "P3": 120, "P4": 600}
KB_ARTICLES = ("Resetting SSO sessions", "Webhook retries", "Export limits", "Rate-limit errors",
               "Billing proration", "Mobile push setup", "Data retention")
TRAINING_NEEDS = ("Reading API logs", "SSO troubleshooting", "Billing system basics", "Webhook debugging")
CUSTOMERS = tuple(f"Customer {n:03d}" for n in range(1, 121))
MANUAL_TRIGGERS = (("complexity", 0.45), ("customer_request", 0.2), ("impact", 0.25), ("business_risk", 0.1))
ACTORS = {"tier1": ("U0AGENT1", "U0AGENT2"), "tier2": ("U0SPEC1",), "tier3": ("U0ENG1",),
          "management": ("U0MGR1",), "executive": ("U0CEO1",), "planning": ("U0AGENT1",)}
BATCH_TICKETS = 2000


@dataclass
class _Story:
    """One ticket's generated life: its row, events and clocks."""

    ticket: dict
    events: list[dict] = field(default_factory=list)
    clocks: list[dict] = field(default_factory=list)


def generate(connection: Connection, policy: Policy, *, tickets: int, start: datetime, end: datetime,
             seed: int = 12, csat_table: str | None = "csat_responses") -> int:
    """Write `tickets` tickets opened between start and end (aware datetimes), with their
    histories, into the database behind connection (in its transaction). CSAT answers go
    into csat_table when the database has it. Returns the first ticket id written."""
    rng = random.Random(seed)
    first_id = (connection.execute(select(func.max(Ticket.id))).scalar() or 0) + 1
    csat = _csat_columns(connection, csat_table)
    span = (end - start).total_seconds()
    for batch_start in range(0, tickets, BATCH_TICKETS):
        stories = []
        for n in range(batch_start, min(tickets, batch_start + BATCH_TICKETS)):
            opened = start + timedelta(seconds=_working_skew(rng, span, start))
            stories.append(_life(rng, policy, first_id + n, opened, end))
        connection.execute(insert(Ticket.__table__), [s.ticket for s in stories])
        connection.execute(insert(TicketEvent.__table__), [e for s in stories for e in s.events])
        stays.rebuild(connection, [s.ticket["id"] for s in stories])
        clocks = [c for s in stories for c in s.clocks]
        if clocks:
            connection.execute(insert(SlaClock.__table__), clocks)
        if csat is not None:
            answers = [row for s in stories for row in _csat_answers(rng, s, csat)]
            if answers:
                connection.execute(csat.insert(), answers)
    if connection.dialect.name == "postgresql":  # explicit ids: move the sequence past them
        connection.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), "
                                "(SELECT MAX(id) FROM tickets))"))
    return first_id


def _working_skew(rng: random.Random, span: float, start: datetime) -> float:
    """More tickets on weekdays and in the daytime, as support queues see."""
    for _ in range(20):
        offset = rng.random() * span
        at = start + timedelta(seconds=offset)
        weight = (1.0 if at.weekday() < 5 else 0.35) * (1.0 if 7 <= at.hour < 18 else 0.3)
        if rng.random() < weight:
            return offset
    return offset


def _pick(rng: random.Random, weighted) -> str:
    roll, total = rng.random(), 0.0
    for value, weight in weighted:
        total += weight
        if roll < total:
            return value
    return weighted[-1][0]


def _minutes(rng: random.Random, median: float) -> timedelta:
    return timedelta(minutes=max(1.0, rng.lognormvariate(0, 0.9) * median))


def _life(rng: random.Random, policy: Policy, ticket_id: int, opened: datetime, horizon: datetime) -> _Story:
    severity = _pick(rng, SEVERITY_MIX)
    entry = policy.severities[severity].entry
    impact = _pick(rng, (("one_user", 0.7), ("multiple_users", 0.22), ("system_wide", 0.08)))
    complexity = _pick(rng, (("known_issue", 0.6), ("cant_diagnose", 0.3), ("needs_development", 0.1)))
    vip = rng.random() < 0.1
    revenue = Decimal(rng.choice((0, 0, 0, 2500, 8000, 15000, 40000, 120000)))
    requester = rng.choice(ACTORS["tier1"])
    story = _Story(ticket={})
    now, level, cycle = opened, entry, 1
    climbed = entry == "tier1" and impact != "one_user" and rng.random() < 0.5
    if climbed:
        level = policy.next_level(entry) or entry
    story.events.append(_event(ticket_id, "opened", requester, now, to_level=level,
                               reason="criteria matrix" if climbed else None,
                               detail={"entry": entry, "rules": ["impact"] if climbed else []}))
    story.events.append(_event(ticket_id, "assigned", None, now, reason=f"round robin: {rng.choice(ACTORS[level])}"))
    story.events.append(_event(ticket_id, "customer_notified", None, now, reason="update in draft"))
    if severity == "P1" or vip:
        story.events.append(_event(ticket_id, "management_pinged", None, now, to_level="management",
                                   reason="P1" if severity == "P1" else "VIP customer"))
    moves, reopened = 0, False
    resolved_at = None
    while True:
        arrived = now
        ack = now + _minutes(rng, ACK_MEDIAN_MIN[severity] * (0.5 if level in ("tier3", "management") else 1))
        _clock(story, policy, ticket_id, severity, ClockKind.RESPONSE, level, cycle, arrived, ack)
        if ack >= horizon:
            _clock(story, policy, ticket_id, severity, ClockKind.TIME_LIMIT, level, cycle, arrived, None)
            break
        actor = rng.choice(ACTORS[level])
        story.events.append(_event(ticket_id, "acknowledged", actor, ack, from_level=level))
        now = ack
        if rng.random() < 0.12:  # waiting on the customer for a while
            story.events.append(_event(ticket_id, "paused", actor, now, from_level=level, reason="needs logs"))
            now += _minutes(rng, 180)
            story.events.append(_event(ticket_id, "resumed", actor, now, from_level=level))
        work = _minutes(rng, {"tier1": 90, "tier2": 150, "tier3": 240}.get(level, 120))
        nxt = policy.next_level(level)
        escalate = nxt is not None and severity != "P4" and moves < 3 and rng.random() < (0.42 if level == "tier1" else 0.22)
        limit = policy.time_limits.get(level)
        if escalate:
            automatic = limit is not None and rng.random() < 0.25
            leave = arrived + limit if automatic else now + work
            trigger = "time_limit" if automatic else _pick(rng, MANUAL_TRIGGERS)
            _clock(story, policy, ticket_id, severity, ClockKind.TIME_LIMIT, level, cycle, arrived, leave)
            if leave >= horizon:
                break
            story.events.append(_event(ticket_id, "escalated", None if automatic else actor, leave, from_level=level,
                                       to_level=nxt, trigger=trigger, reason="time limit" if automatic else "needs help"))
            now, level, cycle, moves = leave, nxt, cycle + 1, moves + 1
            if level == "tier3" and rng.random() < 0.15:  # mitigated: tier1 does the customer follow-up
                now += _minutes(rng, 60)
                story.events.append(_event(ticket_id, "deescalated", rng.choice(ACTORS["tier3"]), now,
                                           from_level="tier3", to_level=policy.mitigated_to, trigger="mitigated",
                                           reason="mitigated"))
                _clock(story, policy, ticket_id, severity, ClockKind.RESPONSE, "tier3", cycle, leave, leave)
                level, cycle, moves = policy.mitigated_to, cycle + 1, moves + 1
            continue
        if rng.random() < 0.35 and level in ("tier2", "tier3"):  # the next level knew it at once
            work = timedelta(minutes=rng.uniform(5, 55))
        resolved_at = now + work
        _clock(story, policy, ticket_id, severity, ClockKind.TIME_LIMIT, level, cycle, arrived, resolved_at)
        if resolved_at >= horizon:
            resolved_at = None
            break
        cause = rng.choice(policy.root_causes)
        story.events.append(_event(ticket_id, "resolved", actor, resolved_at, from_level=level,
                                   trigger=cause, reason="fixed"))
        if not reopened and rng.random() < 0.05:
            reopened, now, cycle = True, resolved_at + _minutes(rng, 600), cycle + 1
            if now >= horizon:
                break
            story.events.append(_event(ticket_id, "reopened", requester, now, to_level=level))
            resolved_at = None
            continue
        break
    story.ticket = _ticket_row(rng, ticket_id, severity, impact, complexity, vip, revenue, requester, opened,
                               level, cycle, resolved_at, story)
    return story


def _ticket_row(rng, ticket_id, severity, impact, complexity, vip, revenue, requester, opened, level, cycle,
                resolved_at, story) -> dict:
    resolved = resolved_at is not None
    kb_gap = resolved and rng.random() < 0.18
    cause = next((e["trigger"] for e in reversed(story.events) if e["kind"] == "resolved"), None) if resolved else None
    return {
        "id": ticket_id, "summary": f"Sample problem {ticket_id}", "customer": rng.choice(CUSTOMERS),
        "severity": severity, "impact": impact, "complexity": complexity, "vip": vip,
        "executive_contact": False, "asked_for_manager": False, "brand_risk": False, "asked_again": False,
        "revenue_at_risk": revenue or None, "steps_taken": "", "level": level,
        "status": "resolved" if resolved else "acknowledged", "cycle": cycle, "requester_id": requester,
        "source_channel": None, "source_permalink": None, "assignee_id": None,
        "acknowledged_by": None, "acknowledged_at": None, "resolution": "fixed" if resolved else None,
        "root_cause": cause, "kb_gap": kb_gap if resolved else None,
        "kb_article": rng.choice(KB_ARTICLES) if kb_gap or (resolved and rng.random() < 0.3) else None,
        "training_need": rng.choice(TRAINING_NEEDS) if resolved and rng.random() < 0.08 else None,
        "product_link": (f"https://tracker.example.com/PROD-{rng.randint(100, 140)}"
                         if resolved and cause in ("Bug", "Feature gap") and rng.random() < 0.5 else None),
        "resolved_at": resolved_at, "created_at": story.events[0]["at"], "updated_at": story.events[-1]["at"],
    }


def _event(ticket_id: int, kind: str, actor: str | None, at: datetime, **fields) -> dict:
    return {"ticket_id": ticket_id, "kind": kind, "actor_id": actor, "from_level": fields.get("from_level"),
            "to_level": fields.get("to_level"), "trigger": fields.get("trigger"), "reason": fields.get("reason"),
            "detail": fields.get("detail", {}), "at": at}


def _clock(story: _Story, policy: Policy, ticket_id: int, severity: str, kind: str, level: str, cycle: int,
           started: datetime, stopped: datetime | None) -> None:
    """A clock as bot.sla would have left it (24x7 arithmetic: the sample policy's hours)."""
    if kind == ClockKind.RESPONSE:
        target = policy.severities[severity].response
    else:
        target = None if severity == "P4" else policy.time_limits.get(level)
    if target is None:
        return
    due = started + target
    breached = (stopped or datetime.max.replace(tzinfo=UTC)) > due
    story.clocks.append({
        "ticket_id": ticket_id, "kind": kind, "level": level, "cycle": cycle, "started_at": started,
        "target_seconds": int(target.total_seconds()), "warn_at": started + target * policy.warn_at, "due_at": due,
        "next_check_at": None if stopped else due, "warned": breached, "breached": breached and stopped is not None,
        "stopped_at": stopped, "stop_reason": None if stopped is None else ("acknowledged" if kind == "response" else "moved"),
    })


def _csat_columns(connection: Connection, table: str | None):
    if not table or not inspect(connection).has_table(table):
        return None
    return CsatResponse.__table__


def _csat_answers(rng: random.Random, story: _Story, table) -> list[dict]:
    """About a third of resolutions get an answer; escalated tickets score a little lower."""
    resolutions = [e for e in story.events if e["kind"] == "resolved"]
    if not resolutions or rng.random() > 0.35:
        return []
    moves = sum(1 for e in story.events if e["kind"] in ("escalated", "deescalated"))
    score = max(1, min(5, round(rng.gauss(4.4 - 0.45 * moves, 0.9))))
    web = rng.random() < 0.4
    answered = resolutions[-1]["at"] + _minutes(rng, 90)
    return [{"ticket_id": story.ticket["id"], "resolution": len(resolutions), "level": story.ticket["level"],
             "score": score, "responder_id": "web" if web else f"UCUST{rng.randint(1, 999):03d}",
             "channel": "web" if web else "slack", "answered_at": answered, "first_answered_at": answered}]
