"""The live desk run on a simulated clock over a database of its own.

`policy test` and `simulate` never copy a rule: they open, acknowledge, pause, update
and resolve tickets through the desk's own services (bot.desk, bot.facts,
bot.deescalation) and let the desk's own SLA sweep decide warnings, breaches and
automatic moves, at the moments its clocks come due. The database is SQLite in memory
(bot.db.make_memory_engine), so nothing reaches the live database or Slack: what the
desk owes Slack stays in the sandbox's outbox, and is read back as what happened.
"""
from __future__ import annotations

import dataclasses
import functools
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine

from bot.clock import SimulatedClock, simulated
from bot.db import make_memory_engine, make_session_factory, transaction
from bot.deescalation import Deescalation
from bot.desk import EscalationDesk
from bot.errors import Conflict
from bot.facts import FactUpdates
from bot.forms import NewTicket, Resolution, TicketFacts
from bot.models import Base, SlackMessage, SlaClock, Ticket, TicketStatus
from bot.policy.model import Policy
from bot.policy.deescalation_rules import fires_at
from bot.sla.auto_deescalation import stays_of
from bot.sla.sweep import SlaSweep

# The simulation acts as a manager, so a recorded action is allowed wherever the
# replayed ticket is (a manager may act at every level), whoever did it then.
ACTOR = "U0SIMULATION"


def acting_policy(policy: Policy) -> Policy:
    """The policy as the sandbox runs it: the simulation's actor among the managers, and
    no progress-update cadence. Reminders are the one thing policy test and simulate
    never report, and nothing else the desk decides reads them (a "quiet" rule counts
    people's actions and notes, not the bot's), while in a long replay they would be
    most of the sweep's work."""
    management = policy.levels["management"]
    members = management.members + (ACTOR,)
    return dataclasses.replace(
        policy, levels={**policy.levels, "management": dataclasses.replace(management, members=members)},
        severities={key: dataclasses.replace(severity, update_every=None) for key, severity in policy.severities.items()})


def _on_its_clock(method):
    """While a sandbox works, the desk's clock is the sandbox's simulated one (in this
    thread only); set per call, so several sandboxes can take turns."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with simulated(self.clock):
            return method(self, *args, **kwargs)
    return wrapper


# every table's rows, children first (start_over runs them before each case)
_FORGET_ALL = tuple(delete(table) for table in reversed(Base.metadata.sorted_tables))
_NEXT_CHECK = select(func.min(SlaClock.next_check_at))
_NEXT_DEADLINE = _NEXT_CHECK.where(SlaClock.kind != "update")


class Sandbox:
    """One policy's desk in memory, on a simulated clock. Use as a context manager:
    its database is dropped at the end."""

    def __init__(self, policy: Policy, start: datetime, engine: Engine | None = None):
        """engine: a database of the caller's (tests and benchmarks record a history on a
        file with it); by default one in memory, dropped at the end."""
        self.policy = acting_policy(policy)
        self.engine = engine or make_memory_engine()
        Base.metadata.create_all(self.engine)
        self.sessions = make_session_factory(self.engine)
        self.desk = EscalationDesk(self.sessions, self.policy)
        self.facts = FactUpdates(self.desk)
        self.deescalation = Deescalation(self.desk)
        self.sweep = SlaSweep(self.sessions, self.policy, self.desk)
        self.clock = SimulatedClock(start)
        self._swept: datetime | None = None  # the latest moment the sweep ran at
        self._notes = 0

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.engine.dispose()

    # --- time ---------------------------------------------------------------------
    @_on_its_clock
    def run_until(self, when: datetime, *, only_deadlines: bool = False) -> None:
        """Let time pass to `when`: the sweep runs at each moment a clock comes due, as
        the live sweep would (it runs every sweep_interval; here at the due moment itself,
        so what happened carries the time the policy set)."""
        self._sweep_until(when, only_deadlines=only_deadlines)
        if when > self.clock.now:
            self.clock.advance_to(when)

    @_on_its_clock
    def run_out(self, limit: datetime) -> None:
        """Let time pass until no warning, breach or time limit is left to come (progress
        reminders recur as long as a ticket is worked, so they don't keep this going),
        or until `limit`. The clock stays at the last moment swept."""
        self._sweep_until(limit, only_deadlines=True)

    def _sweep_until(self, when: datetime, *, only_deadlines: bool) -> None:
        """Sweep at each due moment up to `when`: one question for the next moment a sweep
        (run_out used to ask it again through run_until, three times a sweep)."""
        while True:
            due = self.next_due(only_deadlines=only_deadlines)
            if due is None or due > when:
                return
            self.clock.advance_to(max(due, self.clock.now))
            self.sweep.run(self.clock.now)
            self._swept = self.clock.now

    def next_due(self, *, only_deadlines: bool = False) -> datetime | None:
        """The next moment the live sweep has something to do: a clock's next check, or
        a de-escalation rule's firing time (bot.policy.deescalation_rules.fires_at)."""
        # asked once a sweep: a prebuilt statement on a plain connection, not an ORM session
        with self.engine.connect() as connection:
            moments = [connection.execute(_NEXT_DEADLINE if only_deadlines else _NEXT_CHECK).scalar()]
        if self.policy.deescalation:
            with self.sessions() as session:
                moments.append(self._next_rule(session))
        return min((moment for moment in moments if moment is not None), default=None)

    def _next_rule(self, session) -> datetime | None:
        rules = self.policy.deescalation
        if not rules:
            return None
        levels = sorted({rule.from_level for rule in rules})
        tickets = session.scalars(select(Ticket).where(Ticket.status.in_(TicketStatus.ACTIVE),
                                                       Ticket.level.in_(levels))).all()
        if not tickets:
            return None
        stays = stays_of(session, tickets, self.policy)
        # a moment already swept has had its chance (a rule fires once per stay)
        moments = [at for stay in stays.values() for rule in rules
                   if (at := fires_at(rule, stay)) is not None and (self._swept is None or at > self._swept)]
        return min(moments, default=None)

    # --- what people do -------------------------------------------------------------
    @_on_its_clock
    def open(self, facts: TicketFacts, *, summary: str = "simulated ticket", customer: str = "") -> Ticket:
        form = NewTicket(summary=summary, customer=customer, severity=facts.severity, impact=facts.impact,
                         complexity=facts.complexity, steps_taken="", revenue_at_risk=facts.revenue_at_risk,
                         flags=frozenset(facts.flags))
        return self.desk.open_ticket(form, requester_id=ACTOR)

    @_on_its_clock
    def acknowledge(self, ticket_id: int) -> Ticket:
        return self.desk.acknowledge(ticket_id, ACTOR)

    @_on_its_clock
    def wait(self, ticket_id: int, reason: str = "waiting on the customer") -> Ticket:
        return self.desk.wait_on_customer(ticket_id, ACTOR, reason)

    @_on_its_clock
    def resume(self, ticket_id: int) -> Ticket:
        return self.desk.resume(ticket_id, ACTOR)

    @_on_its_clock
    def change_facts(self, ticket_id: int, facts: TicketFacts) -> Ticket:
        return self.facts.update(ticket_id, facts, ACTOR)

    @_on_its_clock
    def move_by_hand(self, ticket_id: int, to_level: str, trigger: str, reason: str, kind: str) -> Ticket:
        """A person's escalation or de-escalation to `to_level`, wherever the ticket is now
        (the desk's own move; the modal's choice of levels is the person's, not the policy's)."""
        with transaction(self.sessions) as session:
            ticket = self.desk.lock(session, ticket_id)
            self.desk.require_active(ticket, kind)
            if ticket.level == to_level:
                raise Conflict(f"{ticket.key} is already at {to_level}")
            self.desk.move(session, ticket, to_level, trigger, reason or kind, ACTOR, kind=kind)
            return ticket

    @_on_its_clock
    def note(self, ticket_id: int, author_id: str, text: str = "(a note)") -> Ticket | None:
        """A person's reply in the ticket's current thread, through the desk's own path:
        from a member of the level it acknowledges or counts as a progress update. The
        sandbox's Slack "delivers" the briefing first (a made-up ts), as the outbox worker
        would record Slack's answer."""
        self._notes += 1
        with transaction(self.sessions) as session:
            ticket = session.get(Ticket, ticket_id)
            briefing = self.desk.slack.current_briefing(session, ticket)
            if briefing is None:
                return None
            session.execute(update(SlackMessage).where(SlackMessage.id == briefing.id, SlackMessage.ts.is_(None))
                            .values(ts=f"sandbox.{briefing.id}"))
            thread_ts = session.scalar(select(SlackMessage.ts).where(SlackMessage.id == briefing.id))
        return self.desk.reply_in_thread(briefing.channel, thread_ts, author_id, text, f"note.{self._notes}")

    @_on_its_clock
    def reopen(self, ticket_id: int) -> Ticket:
        return self.desk.reopen(ticket_id, ACTOR)

    @_on_its_clock
    def resolve(self, ticket_id: int, root_cause: str | None = None) -> Ticket:
        cause = root_cause if root_cause in self.policy.root_causes else self.policy.root_causes[-1]
        return self.desk.resolve(ticket_id, Resolution("resolved", cause, False, None, None, None), ACTOR)

    def ticket(self, ticket_id: int) -> Ticket:
        with self.sessions() as session:
            return session.get(Ticket, ticket_id)

    def facts_of(self, ticket_id: int) -> TicketFacts:
        return self.facts.facts_of(self.ticket(ticket_id))

    def start_over(self, when: datetime) -> None:
        """Forget every ticket and set the clock to `when`: one case's desk must not see
        the last case's tickets (capacity, round robin and the ledger count them)."""
        with self.engine.begin() as connection:
            for statement in _FORGET_ALL:
                connection.execute(statement)
        self.clock.start_over(when)
        self._swept = None
