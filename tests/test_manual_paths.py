"""Every manual escalation path from Slack: the next rung, Tier 1 → Tier 3 when the
criteria matrix suggests it, any level → management, management → executive, and
nothing above the executive level."""
from bot.ids import ActionId
from bot.models import Ticket
from tests.harness import AGENT, CEO, CHANNELS, ENGINEER, MANAGER, SPECIALIST, SUPPORT


def offered(modal) -> list[str]:
    return [o["text"]["text"] for o in next(b for b in modal.blocks if b.get("block_id") == "level")
            ["element"]["options"]]


def escalate(harness, user, key, level, to, reason):
    briefing = harness.briefing(key, level)
    modal = harness.modal_from(user, briefing, ActionId.ESCALATE)
    choices = offered(modal)
    answer = harness.driver.submit_view(user, modal.id, {"Level": to, "Trigger": "Impact", "Reason": reason})
    assert answer.status == 200 and not (answer.json or {}).get("errors"), answer.body
    return choices


def test_up_the_whole_ladder_by_hand(harness):
    key = harness.new_ticket(Summary="Data export corrupt")
    assert escalate(harness, AGENT, key, "tier1", "Tier 2", "Beyond the runbook") == ["Tier 2", "Management"]
    assert escalate(harness, SPECIALIST, key, "tier2", "Tier 3", "Needs a code fix") == ["Tier 3", "Management"]
    assert escalate(harness, ENGINEER, key, "tier3", "Management", "Fix needs a release") == ["Management"]
    assert escalate(harness, MANAGER, key, "management", "Executive", "Contract at stake") == ["Executive"]
    top = harness.briefing(key, "executive")
    assert "Escalated from Management" in top.rendered and "Contract at stake" in top.rendered
    assert "[Escalate]" not in top.rendered  # nowhere higher
    harness.driver.command(CEO, SUPPORT, key)
    told = harness.sim.wait_for(lambda: harness.ephemeral_texts(CEO, SUPPORT), message="the refusal")
    assert "the top of the ladder" in told[0]
    with harness.runtime.sessions() as session:
        assert session.get(Ticket, 1).level == "executive"


def test_tier1_straight_to_tier3_when_the_matrix_suggests_it(harness):
    key = harness.new_ticket(Summary="Reports need a schema change", Severity="P1",
                             Complexity="Needs development")  # P1 enters at tier3
    tier3 = harness.briefing(key, "tier3")
    harness.driver.click(ENGINEER, CHANNELS["tier3"], tier3.ts, ActionId.MITIGATED)  # back to tier1
    harness.briefing(key, "tier1")
    briefing = harness.briefing(key, "tier1")
    modal = harness.modal_from(AGENT, briefing, ActionId.ESCALATE)
    assert offered(modal) == ["Tier 2", "Tier 3", "Management"]
    assert "criteria matrix suggests *Tier 3*" in modal.rendered and "Needs development" in modal.rendered
    harness.driver.submit_view(AGENT, modal.id, {"Level": "Tier 3", "Trigger": "Complexity",
                                                 "Reason": "Regression of the fix"})
    again = harness.sim.wait_for(lambda: [m for m in harness.sim.messages(CHANNELS["tier3"])
                                          if "Escalated from Tier 1" in m.rendered], message="the new tier3 briefing")
    assert "Regression of the fix" in again[0].rendered
