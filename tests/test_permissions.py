"""Who may do what to a ticket, as a table: every action on a briefing × every kind of
person, through the real HTTP endpoint. A refusal is the ephemeral note the person sees
(and, for a form, the same refusal when someone submits a modal they were never allowed
to open), and it changes nothing: not the ticket, not its history, not what the bot owes
Slack.

The ticket sits at Tier 3 (the matrix takes a "needs development" P2 there), where every
button exists, including Mitigated. People:
  requester   opened the ticket, is in no level
  assignee    Tier 3 member who took it
  same tier   the other Tier 3 member
  other tier  a Tier 2 member
  manager     management
  stranger    in no level, never touched the ticket
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import pytest
from sqlalchemy import func, select

from bot.forms import Resolution, parse_new_ticket
from bot.ids import ActionId, BlockId
from bot.models import OutboxMessage, Ticket, TicketEvent
from bot.policy import load_policy
from tests.harness import CHANNELS, ENGINEER, MANAGER, OUTSIDER, SPECIALIST, Harness

REQUESTER, ENGINEER2 = "U0REQUEST1", "U0ENG2"
ROLES = {"requester": REQUESTER, "assignee": ENGINEER, "same tier": ENGINEER2, "other tier": SPECIALIST,
         "manager": MANAGER, "stranger": OUTSIDER}
TIER3 = CHANNELS["tier3"]


def permissions_policy():
    policy = load_policy()
    levels = dict(policy.levels)
    levels["tier3"] = replace(levels["tier3"], members=(ENGINEER, ENGINEER2), assignment="take")
    return replace(policy, levels=levels)


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    """One bot for the whole table (permissions don't depend on the database); each case
    works on a ticket of its own."""
    url = f"sqlite:///{tmp_path_factory.mktemp('permissions') / 'escalator.db'}"
    with Harness(url, policy=permissions_policy()) as running:
        yield running


def only(action: str, *, requester_may: bool = False) -> Callable[[str], str]:
    who = f"Tier 3 (<@{ENGINEER}>, <@{ENGINEER2}>)"
    who += f", management or <@{REQUESTER}> (who opened it)" if requester_may else " or management"
    return lambda key: f"Only {who} can {action} {key}."


@dataclass(frozen=True)
class Action:
    button: ActionId
    allowed: frozenset[str]
    refusal: Callable[[str], str]  # the note a refused person sees, for the ticket's key
    done: Callable[[Ticket], bool]  # the ticket shows the action happened
    form: dict | None = None  # a button that opens a modal: what is typed in it
    setup: str = "taken"  # the ticket's state before the action (see prepare)


MEMBERS = frozenset({"assignee", "same tier", "manager"})
AND_OPENER = MEMBERS | {"requester"}  # the agent who opened the ticket may too
ACTIONS = {
    "acknowledge": Action(ActionId.ACKNOWLEDGE, MEMBERS, only("acknowledge"),
                          lambda t: t.acknowledged_by is not None),
    # taking a ticket makes you its assignee, so only the level's own members may (managers Reassign)
    "take": Action(ActionId.TAKE, frozenset({"assignee", "same tier"}),
                   lambda key: f"Only members of Tier 3 can take {key}.", lambda t: t.assignee_id is not None,
                   setup="unassigned"),
    "reassign": Action(ActionId.REASSIGN, MEMBERS, only("reassign"), lambda t: t.assignee_id == ENGINEER2,
                       form={"Assignee": ENGINEER2}),
    # the agent who opened the ticket may escalate it again (README, "Who may act")
    "escalate": Action(ActionId.ESCALATE, AND_OPENER, only("escalate", requester_may=True),
                       lambda t: t.level == "management",
                       form={"Level": "Management", "Trigger": "Business risk", "Reason": "Customer may leave"}),
    "wait": Action(ActionId.WAIT, MEMBERS, only("pause"), lambda t: t.status == "waiting",
                   form={"Reason": "Asked for a HAR file"}),
    "resume": Action(ActionId.RESUME, MEMBERS, only("resume"), lambda t: t.status != "waiting",
                     form={"Reason": "Customer sent it"}, setup="waiting"),
    "resolve": Action(ActionId.RESOLVE, MEMBERS, only("resolve"), lambda t: t.status == "resolved",
                      form={"Resolution": "Hotfix deployed", "Root cause": "Bug"}),
    # the agent who opened it may bring it back when the customer comes back
    "reopen": Action(ActionId.REOPEN, AND_OPENER, only("reopen", requester_may=True),
                     lambda t: t.status == "open", setup="resolved"),
    "mitigated": Action(ActionId.MITIGATED, MEMBERS, only("mark mitigated"), lambda t: t.level == "tier1"),
    "de-escalate": Action(ActionId.DEESCALATE, MEMBERS, only("de-escalate"), lambda t: t.level == "tier2",
                          form={"Level": "Tier 2", "Reason": "Workaround found"}),
    # who made the de-escalation, the level it left, the level it went to (Tier 1) and management
    "undo": Action(ActionId.UNDO, MEMBERS, lambda _: "Only Tier 3, Tier 1 or management can undo this de-escalation.",
                   lambda t: t.level == "tier3", setup="deescalated"),
    "update facts": Action(ActionId.UPDATE_FACTS, AND_OPENER, only("update the facts of", requester_may=True),
                           lambda t: t.revenue_at_risk == 5000, form={"Revenue at risk": "5000"}),
}


def prepare(bot, setup: str) -> tuple[Ticket, object]:
    """A fresh Tier 3 ticket in the state the action needs; returns it and the message
    carrying the button."""
    runtime = bot.runtime
    ticket = runtime.desk.open_ticket(parse_new_ticket({
        BlockId.SUMMARY: "Sync drops records", BlockId.CUSTOMER: "Initech", BlockId.SEVERITY: "P2",
        BlockId.COMPLEXITY: "needs_development"}), requester_id=REQUESTER, source_channel="C0SUPPORT")
    assert ticket.level == "tier3"
    if setup != "unassigned":
        runtime.assignment.take(ticket.id, ENGINEER)
    if setup == "waiting":
        runtime.desk.wait_on_customer(ticket.id, ENGINEER, "needs logs")
    elif setup == "resolved":
        runtime.desk.resolve(ticket.id, Resolution("Config fixed", "Configuration", False, None, None, None), ENGINEER)
    elif setup == "deescalated":
        runtime.deescalation.deescalate(ticket.id, "tier1", "Workaround in place", ENGINEER)
    briefing = bot.briefing(ticket.key, "tier3")
    if setup == "deescalated":
        note = bot.sim.wait_for(lambda: next((r for r in bot.sim.replies(TIER3, briefing.ts) if "[Undo]" in r.rendered),
                                             None), message="the de-escalation note")
        bot.wait_recorded(TIER3, note.ts)
        return ticket, note
    return ticket, briefing


def state_of(bot, ticket_id: int) -> dict:
    """What a refusal must leave alone: the ticket, its history, what the bot owes Slack."""
    with bot.runtime.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        return {"ticket": {column: getattr(ticket, column) for column in (
                    "level", "status", "cycle", "acknowledged_by", "assignee_id", "revenue_at_risk", "resolved_at")},
                "events": session.scalar(select(func.count()).select_from(TicketEvent)
                                         .where(TicketEvent.ticket_id == ticket_id)),
                "owed": session.scalar(select(func.count()).select_from(OutboxMessage))}


def current(bot, ticket_id: int) -> Ticket:
    with bot.runtime.sessions() as session:
        return session.get(Ticket, ticket_id)


def new_ephemeral(bot, user: str, seen: int) -> str:
    return bot.sim.wait_for(lambda: bot.ephemeral_texts(user)[seen:] and bot.ephemeral_texts(user)[seen],
                            message=f"a note to {user}")


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("name", list(ACTIONS))
def test_who_may_act_on_a_ticket(bot, name, role):
    action, user = ACTIONS[name], ROLES[role]
    ticket, message = prepare(bot, action.setup)
    bot.settle()
    seen = len(bot.ephemeral_texts(user))
    views = len(bot.sim.views_opened(user))
    before = state_of(bot, ticket.id)

    answer = bot.driver.click(user, message.channel, message.ts, action.button)
    assert answer.status == 200, answer.body

    if role in action.allowed:
        if action.form is not None:
            modal = bot.sim.wait_for(lambda: bot.sim.views_opened(user)[views:] and bot.sim.views_opened(user)[-1],
                                     message=f"the {name} modal")
            submitted = bot.driver.submit_view(user, modal.id, action.form)
            assert submitted.status == 200 and not (submitted.json or {}).get("errors"), submitted.body
        bot.sim.wait_for(lambda: action.done(current(bot, ticket.id)), message=f"{role} to {name} {ticket.key}")
        # escalate: the handoff note; resolve: the customer's resolution confirmation to copy
        assert bot.ephemeral_texts(user)[seen:] == [] or name in ("escalate", "resolve")
        return

    assert new_ephemeral(bot, user, seen) == action.refusal(ticket.key)
    assert len(bot.sim.views_opened(user)) == views  # no modal for them
    if action.form is not None:
        # a forged or replayed submission of the modal someone allowed had open
        manager_views = len(bot.sim.views_opened(MANAGER))
        bot.driver.click(MANAGER, message.channel, message.ts, action.button)
        modal = bot.sim.wait_for(lambda: bot.sim.views_opened(MANAGER)[manager_views:]
                                 and bot.sim.views_opened(MANAGER)[-1], message=f"the manager's {name} modal")
        forged = bot.driver.submit_view(user, modal.id, action.form)
        assert forged.json["response_action"] == "errors", forged.body
        assert list(forged.json["errors"].values()) == [action.refusal(ticket.key)]
    bot.settle()
    assert state_of(bot, ticket.id) == before
    assert not action.done(current(bot, ticket.id))
