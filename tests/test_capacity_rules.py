"""Overflow (bot/capacity.py): a capacity set on a level that is already over it tells
management at the next arrival; a level without a capacity never does."""
from __future__ import annotations

from dataclasses import replace

from bot.policy import load_policy
from tests.harness import CHANNELS, Harness


def with_capacity(**by_level):
    policy = load_policy()
    levels = dict(policy.levels)
    for key, capacity in by_level.items():
        levels[key] = replace(levels[key], capacity=capacity)
    return replace(policy, levels=levels)


def overflow_notices(running) -> list[str]:
    running.settle()
    return [m.rendered for m in running.sim.messages(CHANNELS["management"]) if "over capacity" in m.rendered]


def test_a_capacity_added_while_the_level_is_over_it_tells_management(sqlite_url):
    with Harness(sqlite_url) as running:  # no capacity yet: three open tickets, no notice
        keys = [running.new_ticket(Summary=f"Case {n}") for n in range(3)]
        assert overflow_notices(running) == []
    with Harness(sqlite_url, policy=with_capacity(tier1=2)) as running:  # restarted with capacity 2
        running.new_ticket(Summary="Case 3")
        notices = overflow_notices(running)
        assert len(notices) == 1
        assert "*Tier 1* is over capacity: *4* open tickets (capacity 2)" in notices[0]
        assert keys[0] in notices[0]
