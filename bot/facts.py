"""Updating a ticket's facts (severity, impact, complexity, revenue at risk, the
business-risk flags) as the case develops. The criteria matrix runs again on the
new facts: it may move the ticket up, recording the rule that fired; a lowered
severity may hand it down to its new entry level; and management or the executive
level hear of every reason that holds now and wasn't told before."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot import history
from bot.db import transaction
from bot.desk import EscalationDesk
from bot.errors import Conflict, EscalatorError, TicketNotFound
from bot.forms import TicketFacts
from bot.matrix import Fired, climb, explain
from bot.models import Ticket
from bot.rendering import Mrkdwn, escape_mrkdwn
from bot.vocabulary import COMPLEXITIES, IMPACTS, TICKET_FLAGS

# the escalation trigger an automatic move records, by the kind of fact that fired
_TRIGGER_OF_FLAG = {"asked_for_manager": "customer_request", "asked_again": "customer_request"}


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.label}: {self.before} → {self.after}"


class FactUpdates:
    def __init__(self, desk: EscalationDesk):
        self.desk = desk
        self.policy = desk.policy

    def facts_of(self, ticket: Ticket) -> TicketFacts:
        return TicketFacts(ticket.severity, ticket.impact, ticket.complexity, ticket.revenue_at_risk,
                           frozenset(flag for flag in TICKET_FLAGS if getattr(ticket, flag)))

    def update(self, ticket_id: int, facts: TicketFacts, actor_id: str, *, seen_cycle: int | None = None) -> Ticket:
        with transaction(self.desk.sessions) as session:
            ticket = self.desk.lock(session, ticket_id)
            self.desk.require_active(ticket, "updated")
            self.desk.require_unchanged(session, ticket, seen_cycle)
            self.desk.authorize(ticket, actor_id, "update the facts of", requester_may=True)
            previous = self.facts_of(ticket)
            changes = self._apply(ticket, facts)
            if not changes:
                raise EscalatorError(f"Those are already {ticket.key}'s facts; nothing changed.")
            said = "; ".join(str(change) for change in changes)  # kept raw; escaped where shown
            history.append(session, ticket, "facts_changed", actor_id, from_level=ticket.level, reason=said,
                           detail={"changes": [[c.label, c.before, c.after] for c in changes]})
            if facts.severity != previous.severity:
                self.desk.clocks.recompute_all(session, ticket)
            briefing = self.desk.slack.current_briefing(session, ticket)
            self.desk.slack.note_text(session, ticket, briefing,
                                      Mrkdwn(f"Facts updated by <@{actor_id}>: {escape_mrkdwn(said)}"))
            if not self._reroute(session, ticket, previous.severity, actor_id):
                self.desk.slack.refresh_briefing(session, ticket, briefing)
                self.desk.changed(session, ticket)
            self.desk.tell_leaders(session, ticket, self.desk.slack.current_briefing(session, ticket))
            return ticket

    def change_severity(self, ticket_id: int, severity: str, actor_id: str) -> Ticket:
        """New targets from the same starts: elapsed and paused time are kept."""
        if severity not in self.policy.severities:
            raise Conflict(f"{escape_mrkdwn(severity)} is not a severity (P1 to P4).")
        with self.desk.sessions() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise TicketNotFound(f"ESC-{ticket_id}")
            current = self.facts_of(ticket)
        return self.update(ticket_id, TicketFacts(severity, current.impact, current.complexity,
                                                  current.revenue_at_risk, current.flags), actor_id)

    # --- internals --------------------------------------------------------------
    @staticmethod
    def _apply(ticket: Ticket, facts: TicketFacts) -> list[Change]:
        changes = []
        if facts.severity != ticket.severity:
            changes.append(Change("Severity", ticket.severity, facts.severity))
        if facts.impact != ticket.impact:
            changes.append(Change("Impact", IMPACTS.get(ticket.impact, ticket.impact), IMPACTS[facts.impact]))
        if facts.complexity != ticket.complexity:
            changes.append(Change("Complexity", COMPLEXITIES.get(ticket.complexity, ticket.complexity),
                                  COMPLEXITIES[facts.complexity]))
        if facts.revenue_at_risk != ticket.revenue_at_risk:
            money = lambda amount: "none" if amount is None else f"{amount:,.0f}"  # noqa: E731
            changes.append(Change("Revenue at risk", money(ticket.revenue_at_risk), money(facts.revenue_at_risk)))
        for flag, label in TICKET_FLAGS.items():
            if (flag in facts.flags) != bool(getattr(ticket, flag)):
                changes.append(Change(label, "no" if flag in facts.flags else "yes",
                                      "yes" if flag in facts.flags else "no"))
        ticket.severity, ticket.impact, ticket.complexity = facts.severity, facts.impact, facts.complexity
        ticket.revenue_at_risk = facts.revenue_at_risk
        for flag in TICKET_FLAGS:
            setattr(ticket, flag, flag in facts.flags)
        return changes

    def _reroute(self, session: Session, ticket: Ticket, previous_severity: str, actor_id: str) -> bool:
        """Move the ticket where its new facts send it; True when it moved."""
        severities, level = self.policy.severities, ticket.level
        old_entry, entry = severities[previous_severity].entry, severities[ticket.severity].entry
        if (ticket.severity != previous_severity and level == old_entry
                and entry in self.policy.deescalation_targets(level)):
            # it came in at the old severity's entry level; the new severity enters lower
            self.desk.move(session, ticket, entry, "severity_lowered",
                           f"severity lowered {previous_severity} → {ticket.severity}, which enters at "
                           f"{self.policy.level_name(entry)}", actor_id, kind="deescalated")
            return True
        raised = ticket.severity != previous_severity and self.policy.is_above(entry, level)
        start = entry if raised else level
        target, fired = climb(self.policy.criteria, ticket, start)
        if target == level:
            return False
        reasons = []
        if raised:
            reasons.append(f"severity raised {previous_severity} → {ticket.severity}, which enters at "
                           f"{self.policy.level_name(entry)}")
        if fired:
            reasons.append(f"criteria matrix: {explain(fired, self.policy.level_name)}")
        self.desk.move(session, ticket, target, self._trigger(fired, raised), "; ".join(reasons), actor_id,
                       detail={"rules": [f.label for f in fired], "severity_raised": raised})
        return True

    @staticmethod
    def _trigger(fired: list[Fired], raised: bool) -> str:
        if not fired:
            return "severity_raised" if raised else "criteria"
        first = fired[0]
        if first.fact == "flags":
            return _TRIGGER_OF_FLAG.get(first.value, "business_risk")
        return first.fact  # impact, complexity: escalation triggers of the same name
