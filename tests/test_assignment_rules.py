"""The rules of assignment (bot/assignment.py) through the running bot's services: Take it
and Reassign refusals word for word with nothing changed, who is recorded as having
assigned, and round robin only where the level asks for it."""
from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.errors import Conflict, InvalidInput, NotAllowed
from bot.forms import EscalationRequest, Resolution
from bot.models import Ticket, TicketEvent
from tests.harness import AGENT, AGENT2, ENGINEER, OUTSIDER, SPECIALIST, Harness
from tests.test_assignment import with_assignment
from tests.test_home import my_escalations


@pytest.fixture
def take_it(database_url):
    with Harness(database_url, policy=with_assignment(tier1="take", tier2="take")) as running:
        yield running


@pytest.fixture
def round_robin(database_url):
    with Harness(database_url, policy=with_assignment(tier1="round_robin", tier2="round_robin",
                                                      planning="round_robin")) as running:
        yield running


def assignee(harness, ticket_id=1):
    with harness.runtime.sessions() as session:
        return session.get(Ticket, ticket_id).assignee_id


def assigned_events(harness, ticket_id=1):
    with harness.runtime.sessions() as session:
        return [(e.actor_id, e.reason) for e in session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "assigned")
            .order_by(TicketEvent.id))]


def test_taking_records_who_took_it_and_puts_it_on_their_home(take_it):
    key = take_it.new_ticket()
    take_it.briefing(key)
    take_it.runtime.assignment.take(1, AGENT2)
    assert assignee(take_it) == AGENT2
    assert assigned_events(take_it) == [(AGENT2, f"took it: {AGENT2}")]
    take_it.sim.wait_for(lambda: take_it.sim.home(AGENT2) and key in take_it.sim.home(AGENT2).rendered,
                         message="the ticket under the taker's own escalations on Home")


def test_reassigning_puts_the_ticket_on_the_new_assignees_home(take_it):
    key = take_it.new_ticket()
    take_it.briefing(key)
    take_it.settle()
    take_it.runtime.assignment.reassign(1, AGENT2, AGENT)
    take_it.sim.wait_for(lambda: take_it.sim.home(AGENT2) and key in take_it.sim.home(AGENT2).rendered,
                         message="the ticket on the new assignee's Home")


def test_reassigning_takes_the_ticket_off_the_former_assignees_own_list(take_it):
    key = take_it.new_ticket(user=SPECIALIST)
    take_it.briefing(key)
    take_it.runtime.assignment.take(1, AGENT)
    take_it.sim.wait_for(lambda: (home := take_it.sim.home(AGENT)) and key in my_escalations(home),
                         message="the ticket on the taker's own list")
    take_it.runtime.assignment.reassign(1, AGENT2, AGENT)
    # still in their Tier 1 queue, no longer under their own escalations
    take_it.sim.wait_for(lambda: key not in my_escalations(take_it.sim.home(AGENT)),
                         message="the ticket off the former assignee's own list")
    assert key in take_it.sim.home(AGENT).rendered


def test_taking_a_ticket_twice_or_from_someone_else_is_refused(take_it):
    key = take_it.new_ticket()
    take_it.briefing(key)
    take_it.runtime.assignment.take(1, AGENT)
    with pytest.raises(Conflict) as refused:
        take_it.runtime.assignment.take(1, AGENT)
    assert str(refused.value) == f"{key} is already yours."
    with pytest.raises(Conflict) as refused:
        take_it.runtime.assignment.take(1, AGENT2)
    assert str(refused.value) == f"<@{AGENT}> has {key} already; use Reassign to change that."
    assert assignee(take_it) == AGENT and len(assigned_events(take_it)) == 1


def test_only_members_of_the_level_may_take(take_it):
    key = take_it.new_ticket()
    take_it.briefing(key)
    for stranger in (SPECIALIST, OUTSIDER):
        with pytest.raises(NotAllowed) as refused:
            take_it.runtime.assignment.take(1, stranger)
        assert str(refused.value) == f"Only members of Tier 1 can take {key}."
    assert assignee(take_it) is None and assigned_events(take_it) == []


def test_reassign_records_who_reassigned_to_whom(take_it):
    take_it.briefing(take_it.new_ticket())
    take_it.runtime.assignment.reassign(1, AGENT2, AGENT)
    assert assignee(take_it) == AGENT2
    assert assigned_events(take_it) == [(AGENT, f"reassigned: {AGENT2}")]


@pytest.mark.parametrize("to", [ENGINEER, None, ""])
def test_reassigning_to_someone_outside_the_level_is_refused(take_it, to):
    take_it.briefing(take_it.new_ticket())
    with pytest.raises(InvalidInput) as refused:
        take_it.runtime.assignment.reassign(1, to, AGENT)
    assert refused.value.errors == {"assignee": "Choose a member of Tier 1."}
    assert assignee(take_it) is None and assigned_events(take_it) == []


def test_only_the_level_or_management_may_reassign(take_it):
    key = take_it.new_ticket()
    take_it.briefing(key)
    with pytest.raises(NotAllowed) as refused:
        take_it.runtime.assignment.reassign(1, AGENT2, SPECIALIST)
    assert str(refused.value) == f"Only Tier 1 (<@{AGENT}>, <@{AGENT2}>) or management can reassign {key}."
    assert assignee(take_it) is None


def test_a_resolved_ticket_is_neither_taken_nor_reassigned(take_it):
    key = take_it.new_ticket()
    take_it.briefing(key)
    take_it.runtime.desk.resolve(1, Resolution("fixed", "Bug", False, None, None, None), AGENT)
    for attempt, verb in ((lambda: take_it.runtime.assignment.take(1, AGENT), "assigned"),
                          (lambda: take_it.runtime.assignment.reassign(1, AGENT2, AGENT), "reassigned")):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert str(refused.value).startswith(f"{key} was resolved by <@{AGENT}>")
        assert f"so it can't be {verb}. Nothing changed" in str(refused.value)
    assert assignee(take_it) is None and assigned_events(take_it) == []


def test_a_move_to_another_level_clears_the_assignee(take_it):
    take_it.briefing(take_it.new_ticket())
    take_it.runtime.assignment.take(1, AGENT)
    take_it.runtime.desk.escalate(1, EscalationRequest("tier2", "complexity", "needs a specialist"), AGENT)
    assert assignee(take_it) is None


def test_round_robin_wraps_round_and_follows_the_ticket_to_its_new_level(round_robin):
    for n in range(3):
        round_robin.briefing(round_robin.new_ticket(Summary=f"Case {n}"))
    assert [assignee(round_robin, n) for n in (1, 2, 3)] == [AGENT, AGENT2, AGENT]
    round_robin.runtime.desk.escalate(1, EscalationRequest("tier2", "complexity", "needs a specialist"), AGENT)
    assert assignee(round_robin) == SPECIALIST  # tier2's only member
    round_robin.briefing(round_robin.new_ticket(Summary="Case 4"))
    assert assignee(round_robin, 4) == AGENT2  # tier1's turn went on from where it was


def test_round_robin_over_a_level_without_members_assigns_no_one(round_robin):
    key = round_robin.new_ticket(Severity="P4")  # the planning queue has no members
    round_robin.briefing(key, "planning")
    assert assignee(round_robin) is None and assigned_events(round_robin) == []


def test_a_stale_reassign_form_is_refused(take_it):
    key = take_it.new_ticket()
    take_it.briefing(key)
    take_it.runtime.desk.escalate(1, EscalationRequest("tier2", "complexity", "can't diagnose"), AGENT)
    with pytest.raises(Conflict) as refused:
        take_it.runtime.assignment.reassign(1, AGENT2, AGENT, seen_cycle=1)  # the form was opened at tier1
    assert str(refused.value).startswith(f"{key} changed while you had this open")
    assert assignee(take_it) is None and assigned_events(take_it) == []


def test_round_robin_goes_round_every_member_in_order(database_url):
    policy = with_assignment(tier1="round_robin")
    levels = dict(policy.levels)
    levels["tier1"] = replace(levels["tier1"], members=(AGENT, AGENT2, "U0AGENT3"))
    with Harness(database_url, policy=replace(policy, levels=levels)) as running:
        for n in range(4):
            running.briefing(running.new_ticket(Summary=f"Case {n}"))
        assert [assignee(running, n) for n in (1, 2, 3, 4)] == [AGENT, AGENT2, "U0AGENT3", AGENT]
