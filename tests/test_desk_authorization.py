"""Who may act on a ticket (bot.desk_checks, which EscalationDesk inherits: authorize /
may_act): the ticket's level and management; the requester only where the action allows
it; and the refusal names who may, escaped for Slack. The escalate modal's suggestion and
its refusal at the top."""
from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.orm import sessionmaker

from bot.desk import EscalationDesk
from bot.errors import Conflict, NotAllowed
from bot.models import Ticket
from bot.policy import load_policy
from tests.harness import AGENT, AGENT2, CEO, ENGINEER, MANAGER, OUTSIDER, SPECIALIST

REQUESTER = "U0REQUESTER"


def desk(policy=None) -> EscalationDesk:
    return EscalationDesk(sessionmaker(), policy or load_policy())  # authorize reads only the policy


def ticket(level="tier1", **facts) -> Ticket:
    return Ticket(id=7, level=level, requester_id=REQUESTER, severity="P3", impact=facts.pop("impact", "one_user"),
                  complexity=facts.pop("complexity", "known_issue"), status="open", imported=False, **facts)


@pytest.mark.parametrize("level, allowed, refused", [
    ("tier1", [AGENT, AGENT2, MANAGER], [SPECIALIST, ENGINEER, CEO, OUTSIDER, REQUESTER]),
    ("tier3", [ENGINEER, MANAGER], [AGENT, SPECIALIST, CEO, OUTSIDER, REQUESTER]),
    ("management", [MANAGER], [AGENT, ENGINEER, CEO, OUTSIDER]),
    ("executive", [CEO, MANAGER], [AGENT, SPECIALIST, OUTSIDER]),
])
def test_the_level_and_management_may_act_others_may_not(level, allowed, refused):
    the_desk, the_ticket = desk(), ticket(level)
    for user in allowed:
        the_desk.authorize(the_ticket, user, "resolve")
        assert the_desk.may_act(the_ticket, user)
    for user in refused:
        with pytest.raises(NotAllowed):
            the_desk.authorize(the_ticket, user, "resolve")
        assert not the_desk.may_act(the_ticket, user)


def test_the_requester_may_act_only_where_the_action_allows_it():
    the_desk, the_ticket = desk(), ticket("tier2")
    the_desk.authorize(the_ticket, REQUESTER, "escalate", requester_may=True)
    with pytest.raises(NotAllowed):
        the_desk.authorize(the_ticket, REQUESTER, "acknowledge")
    with pytest.raises(NotAllowed):
        the_desk.authorize(the_ticket, OUTSIDER, "escalate", requester_may=True)


def test_the_refusal_names_the_level_its_members_and_the_action():
    with pytest.raises(NotAllowed) as refused:
        desk().authorize(ticket("tier1"), SPECIALIST, "acknowledge")
    assert str(refused.value) == f"Only Tier 1 (<@{AGENT}>, <@{AGENT2}>) or management can acknowledge ESC-7."


def test_a_level_without_members_and_a_name_with_markup_read_right():
    policy = load_policy()
    levels = dict(policy.levels)
    levels["planning"] = replace(levels["planning"], name="R&D <roadmap>")
    with pytest.raises(NotAllowed) as refused:
        desk(replace(policy, levels=levels)).authorize(ticket("planning"), AGENT, "resolve")
    assert str(refused.value) == "Only R&amp;D &lt;roadmap&gt; (its members) or management can resolve ESC-7."


def test_the_suggestion_climbs_the_matrix_from_the_tickets_level():
    assert desk().suggestion(ticket("tier1", impact="system_wide")) == (
        "tier3", "Impact: System-wide (Tier 1 → Tier 2); Impact: System-wide (Tier 2 → Tier 3)")
    assert desk().suggestion(ticket("tier2", impact="multiple_users")) == (None, "")
    assert desk().escalation_choices(ticket("tier1", complexity="cant_diagnose")) == (
        "tier2", "Complexity: Can't diagnose (Tier 1 → Tier 2)")


def test_there_is_nothing_to_escalate_to_from_the_top():
    assert desk().escalation_choices(ticket("management")) == (None, "")
    with pytest.raises(Conflict) as refused:
        desk().escalation_choices(ticket("executive", impact="system_wide"))
    assert str(refused.value) == ("ESC-7 is with Executive, the top of the ladder: there is no level above "
                                  "to escalate to.")
