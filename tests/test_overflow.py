"""Overflow: an arrival past a level's capacity goes to its overflow level (or its
overflow pool), with the reason in its history and briefing; escalating on follows the
normal path; management hears once per crossing; list and App Home show load against
capacity."""
from __future__ import annotations

import pytest

from bot.forms import Resolution
from bot.policy import PolicyError, parse_policy
from tests.coverage_helpers import policy_data
from tests.harness import AGENT, CHANNELS, MANAGER, SPECIALIST, SUPPORT, Harness

POOL1, POOL2 = "U0POOL1", "U0POOL2"
OVERFLOW_CHANNEL = "C0TIER2B"


def overflow_policy():
    data = policy_data(business_hours="24x7")
    data["levels"]["tier2"].update(capacity=2, overflow_to="tier2b")
    data["levels"]["tier2b"] = {"name": "Tier 2 overflow", "channel": OVERFLOW_CHANNEL, "members": ["U0CONTRACT"]}
    return parse_policy(data)


def escalate(running, key, level="tier1", user=AGENT, values=None):
    view = running.modal_from(user, running.briefing(key, level), "ticket.escalate")
    answer = running.driver.submit_view(user, view.id, values or {"Trigger": "Complexity", "Reason": "needs a specialist"})
    assert answer.status == 200, answer.body
    return view


def management_notices(running):
    running.settle()
    return [m.rendered for m in running.sim.messages(CHANNELS["management"]) if "capacity" in m.rendered]


def test_an_arrival_past_capacity_goes_to_the_overflow_level_and_back_when_there_is_room(database_url):
    with Harness(database_url, policy=overflow_policy()) as running:
        keys = [running.new_ticket(Summary=f"Problem {n}") for n in range(4)]
        for key in keys[:2]:
            escalate(running, key)
            running.briefing(key, "tier2")
        escalate(running, keys[2])  # Tier 2 is full: 2/2
        overflowed = running.briefing(keys[2], "tier2b")
        assert "Here by overflow (Tier 2 at 2/2)" in overflowed.rendered
        running.driver.command(AGENT, SUPPORT, f"status {keys[2]}")
        status = running.sim.wait_for(lambda: [t for t in running.ephemeral_texts(AGENT, SUPPORT) if "overflow" in t])
        assert "sent to Tier 2 overflow instead of Tier 2: overflow (Tier 2 at 2/2)" in status[-1]
        [notice] = management_notices(running)
        assert "*Tier 2* is full: *2* open tickets (capacity 2). New arrivals go to *Tier 2 overflow*" in notice
        assert f"<@{MANAGER}>" in notice

        escalate(running, keys[3])  # still full: overflows too, management is not told again
        running.briefing(keys[3], "tier2b")
        assert len(management_notices(running)) == 1

        running.runtime.desk.resolve(1, Resolution("fixed", "Bug", False, None, None, None), SPECIALIST)
        fifth = running.new_ticket(Summary="Problem 5")
        escalate(running, fifth)  # room again: the normal path
        assert "Here by overflow" not in running.briefing(fifth, "tier2").rendered

        # the overflowed ticket escalates on along the normal path: Tier 2's next rung
        view = escalate(running, keys[2], "tier2b", user=MANAGER, values={"Trigger": "Complexity", "Reason": "dev"})
        level_options = [b for b in view.blocks if b.get("label", {}).get("text") == "Level"][0]
        assert level_options["element"]["initial_option"]["text"]["text"] == "Tier 3"
        assert "Here by overflow" not in running.briefing(keys[2], "tier3").rendered


def test_a_second_crossing_tells_management_again(database_url):
    with Harness(database_url, policy=overflow_policy()) as running:
        keys = [running.new_ticket(Summary=f"Problem {n}") for n in range(4)]
        for key in keys[:3]:
            escalate(running, key)
        running.briefing(keys[2], "tier2b")
        running.runtime.desk.resolve(1, Resolution("fixed", "Bug", False, None, None, None), SPECIALIST)
        running.settle()
        escalate(running, keys[3])  # fills Tier 2 again: 2/2, no crossing yet
        running.briefing(keys[3], "tier2")
        assert len(management_notices(running)) == 1
        sixth = running.new_ticket(Summary="Problem 6")
        escalate(running, sixth)  # past it again: a second crossing
        running.briefing(sixth, "tier2b")
        assert len(management_notices(running)) == 2


def test_an_overflow_pool_takes_arrivals_past_capacity_at_the_same_level(database_url):
    data = policy_data(business_hours="24x7")
    data["levels"]["tier1"].update(capacity=1, overflow_to={"members": [POOL1, POOL2]})
    with Harness(database_url, policy=parse_policy(data)) as running:
        first = running.new_ticket(Summary="First")
        second, third = running.new_ticket(Summary="Second"), running.new_ticket(Summary="Third")
        briefing = running.briefing(second)
        running.wait_thread(briefing, f"Assigned to <@{POOL1}> from the overflow pool (overflow (Tier 1 at 1/1))")
        running.wait_thread(running.briefing(third), f"Assigned to <@{POOL2}> from the overflow pool (overflow (Tier 1 at 2/1))")
        running.settle()
        assert "Here by overflow (Tier 1 at 1/1)" in running.briefing(second).rendered
        assert "Here by overflow" not in running.briefing(first).rendered
        running.driver.click(POOL1, briefing.channel, briefing.ts, "ticket.acknowledge")  # the pool may act
        running.wait_thread(briefing, f"Acknowledged by <@{POOL1}>")
        assert len(management_notices(running)) == 1  # over capacity: told once


def test_list_and_home_show_load_against_capacity(database_url):
    with Harness(database_url, policy=overflow_policy()) as running:
        keys = [running.new_ticket(Summary=f"Problem {n}") for n in range(2)]
        for key in keys:
            escalate(running, key)
            running.briefing(key, "tier2")
        running.driver.command(SPECIALIST, SUPPORT, "list tier2")
        listing = running.sim.wait_for(lambda: running.ephemeral_texts(SPECIALIST, SUPPORT))[-1]
        assert "Open escalations at Tier 2 · load 2/2 (full)" in listing
        running.driver.app_home_opened(SPECIALIST)
        running.settle()
        home = str(running.sim.home(SPECIALIST).to_api())
        assert "Tier 2 *2*/2" in home and "Tier 1 *0*" in home


@pytest.mark.parametrize("change, problem", [
    ({"overflow_to": "tier9", "capacity": 2}, "levels.tier2.overflow_to: unknown level 'tier9'"),
    ({"overflow_to": "tier2", "capacity": 2}, "levels.tier2.overflow_to: a level can't overflow to itself"),
    ({"overflow_to": "tier3"}, "levels.tier2.overflow_to: needs `capacity` on the same level"),
    ({"overflow_to": {"members": []}, "capacity": 2}, "levels.tier2.overflow_to: must be a level key or"),
    ({"overflow_to": {"members": ["bob"]}, "capacity": 2}, "levels.tier2.overflow_to.members[0]: 'bob' is not"),
])
def test_policy_check_names_a_bad_overflow_by_its_field(change, problem):
    data = policy_data()
    data["levels"]["tier2"].update(change)
    with pytest.raises(PolicyError) as raised:
        parse_policy(data)
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems
