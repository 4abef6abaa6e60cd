"""Properties of the criteria matrix over generated policies (Hypothesis): a policy that
`escalator policy check` accepts climbs from any level to the top its facts reach in a
bounded number of steps, never coming back to a level; a policy it refuses says what
is wrong, field by field, and never with a stack trace or a `None`."""
from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.matrix import FACTS, climb
from bot.models import Ticket
from bot.policy import LADDER, Policy, PolicyError, parse_policy
from tests.test_policy_validation import BASE

LEVELS = tuple(BASE["levels"])  # the ladder and the planning queue
RUNG_KEYS = LEVELS + ("tier9",)  # with a level the policy does not have


def good_facts(fact: str):
    return st.lists(st.sampled_from(list(FACTS[fact])), unique=True, max_size=len(FACTS[fact]))


def bad_facts(fact: str):
    known = list(FACTS[fact])
    return st.one_of(st.lists(st.sampled_from(known + ["lots"]), min_size=1), st.integers(),
                     st.text(max_size=5), st.dictionaries(st.sampled_from(known), st.integers(), max_size=2))


good_rung = st.fixed_dictionaries({"to": st.sampled_from(LEVELS)},
                                  optional={fact: good_facts(fact) for fact in FACTS})
bad_rung = st.one_of(
    st.fixed_dictionaries({"to": st.sampled_from(RUNG_KEYS)},
                          optional={**{fact: st.one_of(good_facts(fact), bad_facts(fact)) for fact in FACTS},
                                    "urgency": st.just(["high"])}),
    st.sampled_from([None, "tier2", ["tier2"], 3]),  # not a mapping at all
)
# mostly matrices of known levels and facts, so that many pass the check and climb
criteria = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(LEVELS), good_rung, max_size=6),
    st.dictionaries(st.sampled_from(LEVELS), good_rung, max_size=6),
    st.dictionaries(st.sampled_from(RUNG_KEYS), st.one_of(good_rung, bad_rung), max_size=6),
    st.sampled_from([["tier1"], "tier1", 7]),
)
tickets = st.builds(
    lambda impact, complexity, flags: Ticket(impact=impact, complexity=complexity,
                                             **{flag: flag in flags for flag in FACTS["flags"]}),
    st.sampled_from(list(FACTS["impact"])), st.sampled_from(list(FACTS["complexity"])),
    st.sets(st.sampled_from(list(FACTS["flags"]))))


def rank(level: str) -> int:
    return LADDER.index(level) if level in LADDER else -1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(criteria, tickets)
def test_an_accepted_matrix_climbs_to_its_top_without_looping(raw, ticket):
    data = copy.deepcopy(BASE)
    data["criteria"] = raw
    try:
        policy = parse_policy(data)
    except PolicyError as refused:
        assert refused.problems, "refused without a reason"
        for problem in refused.problems:
            assert problem.startswith("criteria"), problem
            assert "None" not in problem and "Traceback" not in problem, problem
            field, _, what = problem.partition(": ")
            assert what and field.split(".")[0] == "criteria", problem
        return
    by_level = {rung.level: rung for rung in policy.criteria}
    for start in policy.levels:
        level, fired = climb(policy.criteria, ticket, start)
        path = [start] + [step.to_level for step in fired]
        assert level == path[-1]
        # each step goes up the ladder, so no level comes twice and the climb is short
        assert all(rank(up) > rank(down) for down, up in zip(path, path[1:])), path
        assert len(fired) <= len(LADDER)
        assert [step.from_level for step in fired] == path[:-1]
        # it stopped at its top: the rung above (if any) has no fact that holds for this ticket
        top = by_level.get(level)
        assert top is None or not _any_holds(top, ticket), (path, top)


def _any_holds(rung, ticket) -> bool:
    for fact, values in rung.facts:
        for value in values:
            held = bool(getattr(ticket, value)) if fact == "flags" else getattr(ticket, fact) == value
            if held:
                return True
    return False


def test_the_property_sees_a_matrix_that_climbs_the_whole_ladder():
    """The generator reaches the interesting case: every support rung and management at once."""
    data = copy.deepcopy(BASE)
    data["criteria"] = {"planning": {"to": "tier1", "impact": ["system_wide"]},
                        "tier1": {"to": "tier2", "impact": ["system_wide"]},
                        "tier2": {"to": "tier3", "impact": ["system_wide"]},
                        "tier3": {"to": "management", "impact": ["system_wide"]},
                        "management": {"to": "executive", "impact": ["system_wide"]}}
    policy = parse_policy(data)
    level, fired = climb(policy.criteria, Ticket(impact="system_wide", complexity="known_issue"), "planning")
    assert level == "executive" and len(fired) == 5
    assert Policy.is_above("tier1", "planning")
