"""What `escalator policy check` says about a criteria matrix it refuses, and where the
matrix it accepts takes a ticket (bot/matrix.py through bot/policy.py)."""
from __future__ import annotations

import copy

import pytest
import yaml

from bot.cli import main
from bot.matrix import climb, explain
from bot.models import Ticket
from bot.policy import PolicyError, load_policy, parse_policy

BASE = yaml.safe_load("""
levels:
  tier1:      {name: Frontline, channel: C0TIER1, members: [U0AGENT1]}
  tier2:      {name: Tier 2, channel: C0TIER2, members: [U0SPEC1]}
  tier3:      {name: Tier 3, channel: C0TIER3, members: [U0ENG1]}
  management: {name: Management, channel: C0MGMT, members: [U0MGR1]}
  executive:  {name: Executive, channel: C0EXEC, members: [U0CEO1]}
  planning:   {name: Planning, channel: C0PLAN, members: []}
severities:
  P1: {response: 1h, entry: tier3}
  P2: {response: 4h, entry: tier1}
  P3: {response: 8h, entry: tier1}
  P4: {response: 24h, entry: planning}
""")

IMPACT_HINT = "must list some of one_user, multiple_users, system_wide"
COMPLEXITY_HINT = "must list some of known_issue, cant_diagnose, needs_development"


def with_criteria(criteria):
    data = copy.deepcopy(BASE)
    data["criteria"] = criteria
    return parse_policy(data)


def problems_of(criteria) -> list[str]:
    with pytest.raises(PolicyError) as refused:
        with_criteria(criteria)
    return refused.value.problems


def ticket(impact="one_user", complexity="known_issue", **flags) -> Ticket:
    return Ticket(impact=impact, complexity=complexity, **flags)


@pytest.mark.parametrize("criteria, expected", [
    (["tier1", "tier2"],
     ["criteria: must map a level to {to: LEVEL, impact: [...], complexity: [...], flags: [...]}"]),
    ({"tier9": {"to": "tier2"}}, ["criteria.tier9: unknown level"]),
    ({"tier1": {"to": "tier9"}}, ["criteria.tier1.to: must name the level it leads to"]),
    ({"tier1": {"impact": ["system_wide"]}}, ["criteria.tier1.to: must name the level it leads to"]),
    ({"tier1": ["tier2"]}, ["criteria.tier1.to: must name the level it leads to"]),
    ({"tier1": {"to": "tier2", "impact": ["lots"]}}, [f"criteria.tier1.impact: {IMPACT_HINT}"]),
    ({"tier1": {"to": "tier2", "impact": 3}}, [f"criteria.tier1.impact: {IMPACT_HINT}"]),
    ({"tier1": {"to": "tier2", "impact": "system_wide"}}, [f"criteria.tier1.impact: {IMPACT_HINT}"]),
    ({"tier1": {"to": "tier2", "flags": ["vip", "angry"]}},
     ["criteria.tier1.flags: must list some of vip, executive_contact, asked_for_manager, brand_risk, "
      "asked_again"]),
    ({"tier1": {"to": "tier2", "urgency": ["high"]}},
     ["criteria.tier1.urgency: unknown criterion (use impact, complexity, flags)"]),
    ({"tier2": {"to": "tier1", "impact": ["system_wide"]}},
     ["criteria.tier2.to: must be a level above tier2 (criteria only escalate)"]),
    ({"tier2": {"to": "tier2", "impact": ["system_wide"]}},
     ["criteria.tier2.to: must be a level above tier2 (criteria only escalate)"]),
])
def test_a_refused_matrix_names_the_field_and_the_fix(criteria, expected):
    assert problems_of(criteria) == expected


def test_every_bad_rung_and_every_bad_fact_is_named_not_just_the_first():
    problems = problems_of({
        "tier9": {"to": "tier2"},
        "tier1": {"to": "nowhere"},
        "tier3": {"to": "tier1", "impact": ["system_wide"]},
        "tier2": {"to": "tier3", "impact": ["lots"], "complexity": ["hard"], "colour": ["red"]},
    })
    assert problems == [
        "criteria.tier9: unknown level",
        "criteria.tier1.to: must name the level it leads to",
        "criteria.tier3.to: must be a level above tier3 (criteria only escalate)",
        f"criteria.tier2.impact: {IMPACT_HINT}",
        f"criteria.tier2.complexity: {COMPLEXITY_HINT}",
        "criteria.tier2.colour: unknown criterion (use impact, complexity, flags)",
    ]


def test_a_matrix_that_loops_is_refused_by_policy_check(tmp_path, capsys):
    path = tmp_path / "policy.yaml"
    data = copy.deepcopy(BASE)
    data["criteria"] = {"tier2": {"to": "tier3", "impact": ["system_wide"]},
                        "tier3": {"to": "tier2", "impact": ["system_wide"]}}
    path.write_text(yaml.safe_dump(data))
    assert main(["policy", "check", str(path)]) == 1
    output = capsys.readouterr()
    assert "criteria.tier3.to: must be a level above tier3 (criteria only escalate)" in output.out + output.err
    assert "None" not in output.out + output.err


def test_without_criteria_the_default_matrix_applies():
    policy = with_criteria(None)
    assert climb(policy.criteria, ticket(impact="multiple_users"), "tier1")[0] == "tier2"
    assert climb(policy.criteria, ticket(impact="system_wide"), "tier1")[0] == "tier3"


def test_a_ticket_climbs_every_rung_its_facts_meet_and_says_why():
    policy = with_criteria({
        "tier1": {"to": "tier2", "impact": ["multiple_users", "system_wide"]},
        "tier2": {"to": "tier3", "complexity": ["needs_development"]},
        "tier3": {"to": "management", "flags": ["vip"]},
    })
    level, fired = climb(policy.criteria, ticket("system_wide", "needs_development", vip=True), "tier1")
    assert level == "management"
    assert explain(fired, policy.level_name) == (
        "Impact: System-wide (Frontline → Tier 2); Complexity: Needs development (Tier 2 → Tier 3); "
        "Flags: VIP customer (Tier 3 → Management)")


def test_a_climb_stops_at_the_first_rung_whose_facts_do_not_hold():
    policy = with_criteria({
        "tier1": {"to": "tier2", "impact": ["system_wide"]},
        "tier2": {"to": "tier3", "complexity": ["needs_development"]},
        "tier3": {"to": "management", "flags": ["vip"]},
    })
    assert climb(policy.criteria, ticket("system_wide", "known_issue", vip=True), "tier1")[0] == "tier2"
    assert climb(policy.criteria, ticket("one_user", "needs_development", vip=True), "tier1") == ("tier1", [])
    # from a level with no rung of its own the ticket stays put
    assert climb(policy.criteria, ticket("system_wide", "needs_development", vip=True), "executive") == (
        "executive", [])


def test_the_first_fact_that_holds_is_the_one_named():
    policy = with_criteria({"tier1": {"to": "tier2", "impact": ["multiple_users", "system_wide"],
                                      "complexity": ["cant_diagnose"], "flags": ["asked_for_manager"]}})
    _, fired = climb(policy.criteria, ticket("system_wide", "cant_diagnose", asked_for_manager=True), "tier1")
    assert [f.label for f in fired] == ["Impact: System-wide"]
    _, fired = climb(policy.criteria, ticket("one_user", "known_issue", asked_for_manager=True), "tier1")
    assert [f.label for f in fired] == ["Flags: Customer asked for a manager"]


def test_a_rung_fires_on_each_kind_of_fact_alone_and_only_on_its_own_values():
    policy = with_criteria({"tier1": {"to": "tier2", "impact": ["system_wide"],
                                      "complexity": ["cant_diagnose"], "flags": ["brand_risk"]}})
    assert climb(policy.criteria, ticket(impact="system_wide"), "tier1")[0] == "tier2"
    assert climb(policy.criteria, ticket(complexity="cant_diagnose"), "tier1")[0] == "tier2"
    assert climb(policy.criteria, ticket(brand_risk=True), "tier1")[0] == "tier2"
    assert climb(policy.criteria, ticket("multiple_users", "needs_development", vip=True, brand_risk=False),
                 "tier1")[0] == "tier1"


def test_a_fact_listed_empty_is_no_criterion():
    policy = with_criteria({"tier1": {"to": "tier2", "impact": [], "flags": ["vip"]}})
    assert [rung.facts for rung in policy.criteria] == [(("flags", ("vip",)),)]


def test_planning_may_hand_over_to_tier1_by_criteria():
    policy = with_criteria({"planning": {"to": "tier1", "impact": ["system_wide"]}})
    assert climb(policy.criteria, ticket(impact="system_wide"), "planning")[0] == "tier1"


def test_the_built_in_policy_passes_its_own_check():
    assert [(rung.level, rung.to) for rung in load_policy().criteria] == [("tier1", "tier2"), ("tier2", "tier3")]
