"""`escalator simulate`: the recorded tickets replayed under the current and a candidate
policy, side by side (design.md §8).

Each policy gets a sandbox (bot.policy.sandbox: the live desk on a simulated clock over
a database in memory). The tickets are opened at their recorded times and people's
actions (bot.policy.replay) are done at theirs, all tickets on one clock, so capacity
and everything else the desk counts across tickets sees the same load it saw; the desk's
own sweep decides everything automatic. Then what each desk did is read back and
compared ticket by ticket.
"""
from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from bot.errors import EscalatorError
from bot.models import Ticket, TicketEvent
from bot.policy import observe
from bot.policy.model import Policy
from bot.policy.replay import Action, RecordedTicket
from bot.policy.sandbox import Sandbox


@dataclass
class PolicyRun:
    """What one policy did with the recorded tickets."""

    warnings: Counter = field(default_factory=Counter)  # clock kind → count
    breaches: Counter = field(default_factory=Counter)
    breaches_told_management: int = 0
    escalations: Counter = field(default_factory=lambda: Counter(automatic=0, by_hand=0))
    deescalations: Counter = field(default_factory=lambda: Counter(automatic=0, by_hand=0))
    pings: Counter = field(default_factory=Counter)  # "audience: reason" → count
    load: dict = field(default_factory=dict)  # level → {"tickets": n, "hours": h}
    not_replayed: Counter = field(default_factory=Counter)  # action kind → count (already so, or not possible)
    by_ticket: dict = field(default_factory=dict)  # key → list of happenings and pings, comparable


@dataclass
class Difference:
    key: str
    at: datetime
    current: str  # what the current policy did first where they part ("—": nothing more)
    candidate: str


def replay(tickets: list[RecordedTicket], policy: Policy, until: datetime) -> PolicyRun:
    """Run `tickets` through the desk under `policy`, letting time pass to `until`."""
    run = PolicyRun()
    if not tickets:
        return run
    with Sandbox(policy, tickets[0].opened_at) as box:
        ids: dict[int, int] = {}  # index of the recorded ticket → its id in the sandbox
        for at, _, index, action in _in_time_order(tickets):
            box.run_until(at, only_deadlines=True)
            if action is None:
                ids[index] = box.open(tickets[index].facts, customer=tickets[index].customer).id
                continue
            try:
                _do(box, ids[index], action)
            except EscalatorError:
                run.not_replayed[action.kind] += 1  # e.g. acknowledged where the desk already was
        box.run_until(max(until, box.clock.now), only_deadlines=True)
        keys = {ids[index]: ticket.key for index, ticket in enumerate(tickets)}
        _read_back(box, keys, max(until, box.clock.now), run)
    return run


def _in_time_order(tickets: list[RecordedTicket]):
    """(at, order, ticket index, action or None for the opening), merged across tickets
    by time; within a moment, in recorded order."""
    streams = []
    for index, ticket in enumerate(tickets):
        stream = [(ticket.opened_at, 0, index, None)]
        stream += [(action.at, number, index, action) for number, action in enumerate(ticket.actions, 1)]
        streams.append(stream)
    return heapq.merge(*streams, key=lambda item: (item[0], item[2], item[1]))


def _do(box: Sandbox, ticket_id: int, action: Action) -> None:
    if action.kind == "acknowledged":
        box.acknowledge(ticket_id)
    elif action.kind == "paused":
        box.wait(ticket_id, action.reason or "waiting on the customer")
    elif action.kind == "resumed":
        box.resume(ticket_id)
    elif action.kind == "facts_changed":
        box.change_facts(ticket_id, action.facts)
    elif action.kind == "resolved":
        box.resolve(ticket_id, action.trigger)
    elif action.kind == "reopened":
        box.reopen(ticket_id)
    elif action.kind == "note":
        box.note(ticket_id, action.author)
    else:
        box.move_by_hand(ticket_id, action.to_level, action.trigger or "by hand", action.reason, action.kind)


def _read_back(box: Sandbox, keys: dict[int, str], until: datetime, run: PolicyRun) -> None:
    with box.sessions() as session:
        timelines = observe.timelines(session)
        pinged = observe.pings(session)
        stays = _stays(session, until)
    for ticket_id, key in keys.items():
        happened = timelines.get(ticket_id, [])
        for happening in happened:
            if happening.kind == "warning":
                run.warnings[happening.what] += 1
            elif happening.kind == "breach":
                run.breaches[happening.what] += 1
                run.breaches_told_management += happening.tells == "management"
            else:
                moves = run.escalations if happening.kind == "escalated" else run.deescalations
                moves["automatic" if happening.automatic else "by_hand"] += 1
        comparable = [(h.at, h.kind, h.what, h.tells or "") for h in happened]
        for audience, reasons in pinged.get(ticket_id, {}).items():
            run.pings.update(f"{audience}: {reason}" for reason in reasons)
            comparable += [(None, "ping", audience, reason) for reason in sorted(reasons)]
        run.by_ticket[key] = comparable
    for level, (tickets, seconds) in sorted(stays.items()):
        run.load[level] = {"tickets": len(tickets), "hours": round(seconds / 3600, 1)}


def _stays(session, until: datetime) -> dict[str, tuple[set, float]]:
    """Per level: the tickets that stayed there and the hours they spent (to `until`
    for those still there)."""
    load: dict[str, tuple[set, float]] = defaultdict(lambda: (set(), 0.0))
    where: dict[int, tuple[str, datetime]] = {}

    def leave(ticket_id: int, at: datetime) -> None:
        if ticket_id in where:
            level, since = where.pop(ticket_id)
            tickets, seconds = load[level]
            tickets.add(ticket_id)
            load[level] = (tickets, seconds + max((at - since).total_seconds(), 0.0))

    kinds = ("opened", "escalated", "deescalated", "resolved", "reopened")
    rows = session.execute(select(TicketEvent.ticket_id, TicketEvent.kind, TicketEvent.to_level, TicketEvent.at)
                           .where(TicketEvent.kind.in_(kinds)).order_by(TicketEvent.at, TicketEvent.id))
    levels = dict(session.execute(select(Ticket.id, Ticket.level)).all())
    for ticket_id, kind, to_level, at in rows:
        leave(ticket_id, at)
        if kind != "resolved":
            where[ticket_id] = (to_level or levels[ticket_id], at)
    for ticket_id in list(where):
        leave(ticket_id, until)
    return load


def differences(current: PolicyRun, candidate: PolicyRun, zone) -> list[Difference]:
    """The tickets whose route or alerts differ, each with where they first part."""
    found = []
    for key, ours in current.by_ticket.items():
        theirs = candidate.by_ticket.get(key, [])
        if ours == theirs:
            continue
        index = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        first = [entry for entry in (ours[index:index + 1] + theirs[index:index + 1]) if entry[0] is not None]
        at = min((entry[0] for entry in first), default=None)
        found.append(Difference(key, at, _describe(ours, index, zone), _describe(theirs, index, zone)))
    return found


def _describe(entries: list[tuple], index: int, zone) -> str:
    if index >= len(entries):
        return "—"
    at, kind, what, extra = entries[index]
    if kind == "ping":
        return f"pings {what}: {extra}"
    when = observe.local(at, zone)
    if kind in ("escalated", "deescalated"):
        return f"{when} {kind} to {what}"
    told = ", tells management" if extra else ""
    return f"{when} {kind} {what}{told}"


def window_end(tickets: list[RecordedTicket], now: datetime) -> datetime:
    """Replay to now, as the live sweep has run to now; never before the last action."""
    moments = [now] + [action.at for ticket in tickets for action in ticket.actions]
    return max(moments + [ticket.opened_at for ticket in tickets[-1:]])
