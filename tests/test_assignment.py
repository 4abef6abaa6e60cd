"""Assignment: round robin over a level's members, Take it, Reassign; the assignee is named."""

import pytest
from sqlalchemy import select

from bot.ids import ActionId
from bot.models import Ticket
from tests.harness import AGENT, AGENT2, CHANNELS, ENGINEER, SPECIALIST, Harness, with_level_setting


def with_assignment(**by_level):
    return with_level_setting("assignment", by_level)


@pytest.fixture
def round_robin(database_url):
    with Harness(database_url, policy=with_assignment(tier1="round_robin")) as running:
        yield running


@pytest.fixture
def take_it(database_url):
    with Harness(database_url, policy=with_assignment(tier1="take")) as running:
        yield running


def assignees(harness):
    with harness.runtime.sessions() as session:
        return [t.assignee_id for t in session.scalars(select(Ticket).order_by(Ticket.id))]


def test_round_robin_takes_turns_and_mentions_the_assignee(round_robin):
    keys = [round_robin.new_ticket(Summary=f"Case {n}") for n in range(3)]
    assert assignees(round_robin) == [AGENT, AGENT2, AGENT]
    first = round_robin.briefing(keys[0])
    round_robin.wait_thread(first, f"Assigned to <@{AGENT}> (round robin)")
    round_robin.sim.wait_for(lambda: f"assigned to <@{AGENT}>" in first.rendered, message="the briefing")


def test_take_it_then_reassign(take_it):
    key = take_it.new_ticket()
    briefing = take_it.briefing(key)
    assert "[Take it]" in briefing.rendered
    take_it.driver.click(SPECIALIST, CHANNELS["tier1"], briefing.ts, ActionId.TAKE)
    refusal = take_it.sim.wait_for(lambda: take_it.ephemeral_texts(SPECIALIST), message="the refusal")
    assert "Only members of Tier 1 can take" in refusal[0]
    take_it.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.TAKE)
    take_it.wait_thread(briefing, f"<@{AGENT2}> took {key}")
    take_it.sim.wait_for(lambda: "[Take it]" not in briefing.rendered, message="Take it gone")
    take_it.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.REASSIGN)
    modal = take_it.sim.wait_for(lambda: take_it.sim.open_modal(AGENT), message="the reassign modal")
    outsider = take_it.driver.submit_view(AGENT, modal.id, {"Assignee": ENGINEER})
    assert outsider.json["errors"] == {"assignee": "Choose a member of Tier 1."}
    take_it.driver.submit_view(AGENT, modal.id, {"Assignee": AGENT})
    take_it.wait_thread(briefing, f"Assigned to <@{AGENT}> by <@{AGENT}>")
    assert assignees(take_it) == [AGENT]
