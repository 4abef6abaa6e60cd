"""Levels staffed from Slack user groups: members read with usergroups.users.list,
stored, followed on subteam_members_changed, kept when Slack can't be reached."""
from __future__ import annotations

import logging

from sqlalchemy import select

from bot.models import UsergroupRoster
from schedules.coverage import refresh_rosters
from tests.coverage_helpers import coverage_policy
from tests.harness import AGENT, CHANNELS, SUPPORT, Harness

GROUP = "S0TIER2"
ALICE, BOB = "U0ALICE", "U0BOB"


def tier2_from_a_group():
    return coverage_policy({"tier2": {"members": [GROUP]}}, business_hours="24x7")


def stored(running, group=GROUP):
    with running.runtime.sessions() as session:
        roster = session.get(UsergroupRoster, group)
        return list(roster.members) if roster else None


def escalate_to_tier2(running, key):
    view = running.modal_from(AGENT, running.briefing(key), "ticket.escalate")
    answer = running.driver.submit_view(AGENT, view.id, {"Trigger": "Complexity", "Reason": "needs a specialist"})
    assert answer.status == 200, answer.body
    return running.briefing(key, "tier2")


def test_a_groups_members_change_by_event_and_the_next_permission_check_follows(database_url):
    with Harness(database_url, policy=tier2_from_a_group()) as running:
        running.sim.set_usergroup(GROUP, [ALICE])
        assert running.runtime.coverage.rosters.refresh_all() == {GROUP: True}
        assert stored(running) == [ALICE]
        key = running.new_ticket(Summary="Invoices are doubled")
        briefing = escalate_to_tier2(running, key)

        running.driver.click(BOB, briefing.channel, briefing.ts, "ticket.acknowledge")
        refusal = running.sim.wait_for(lambda: [t for t in running.ephemeral_texts(BOB) if "Only" in t],
                                       message="Bob refused")[-1]
        assert f"<@{ALICE}>" in refusal and key in refusal  # the refusal names the group's people

        assert running.driver.usergroup_changed(GROUP, [ALICE, BOB]).status == 200  # Bob joins in Slack
        assert stored(running) == [ALICE, BOB]
        running.driver.click(BOB, briefing.channel, briefing.ts, "ticket.acknowledge")
        running.wait_thread(briefing, f"Acknowledged by <@{BOB}>")

        running.driver.usergroup_changed(GROUP, [BOB])  # Alice leaves: she may no longer act
        running.driver.command(ALICE, SUPPORT, f"{key}")
        assert running.sim.wait_for(lambda: [t for t in running.ephemeral_texts(ALICE, SUPPORT) if "Only" in t])


def test_slack_out_of_reach_keeps_the_last_known_roster_and_says_so(database_url, caplog):
    with Harness(database_url, policy=tier2_from_a_group()) as running:
        running.sim.set_usergroup(GROUP, [ALICE])
        refresh_rosters(running.runtime)  # the 10-minute job
        assert stored(running) == [ALICE]
        running.sim.set_usergroup(GROUP, [BOB])
        running.sim.fail_http("usergroups.users.list", status=503, count=5)
        with caplog.at_level(logging.WARNING, logger="escalator.coverage"):
            refresh_rosters(running.runtime)
        assert stored(running) == [ALICE]  # still in force
        assert running.runtime.policy.members_of("tier2") == (ALICE,)
        assert any(GROUP in r.getMessage() and "keeping the last known members (1)" in r.getMessage()
                   for r in caplog.records)
        running.sim.clear_faults()
        refresh_rosters(running.runtime)  # Slack back: the roster follows
        assert running.runtime.policy.members_of("tier2") == (BOB,)


def test_an_event_while_slack_is_out_of_reach_applies_the_change_it_describes(database_url):
    with Harness(database_url, policy=tier2_from_a_group()) as running:
        running.sim.set_usergroup(GROUP, [ALICE])
        refresh_rosters(running.runtime)
        running.sim.fail_next("usergroups.users.list", "internal_error", count=3)
        running.driver.usergroup_changed(GROUP, [ALICE, BOB])
        assert stored(running) == [ALICE, BOB]


def test_round_robin_mentions_and_home_use_the_current_roster(database_url):
    policy = coverage_policy({"tier1": {"members": ["S0AGENTS"], "assignment": "round_robin"}},
                             business_hours="24x7")
    with Harness(database_url, policy=policy) as running:
        running.sim.set_usergroup("S0AGENTS", [ALICE, BOB])
        running.runtime.coverage.rosters.refresh_all()
        first, second = running.new_ticket(Summary="One"), running.new_ticket(Summary="Two")
        running.wait_thread(running.briefing(first), f"Assigned to <@{ALICE}> (round robin)")
        running.wait_thread(running.briefing(second), f"Assigned to <@{BOB}> (round robin)")
        running.driver.app_home_opened(BOB)
        home = running.sim.wait_for(lambda: running.sim.home(BOB), message="Bob's Home")
        assert "Tier 1" in str(home.to_api()) and second in str(home.to_api())


def test_a_group_the_policy_does_not_name_is_ignored(database_url):
    with Harness(database_url, policy=tier2_from_a_group()) as running:
        running.sim.set_usergroup(GROUP, [ALICE])
        running.driver.usergroup_changed("S0OTHER", [BOB])
        assert stored(running, "S0OTHER") is None
        assert [c for c in running.sim.calls if c.method == "usergroups.users.list"] == []
        assert CHANNELS  # the harness's channels stay as they are
