"""The first slice end to end: /escalate → modal → briefing → acknowledge → escalate."""
from bot.ids import ActionId
from tests.harness import AGENT, CHANNELS, MANAGER, OUTSIDER, SPECIALIST, SUPPORT


def test_new_escalation_posts_a_briefing_with_acknowledge(harness):
    key = harness.new_ticket(Summary="Checkout fails for all EU users", Customer="ACME GmbH",
                             **{"Steps taken": "Cleared cache, reproduced in staging"})
    briefing = harness.briefing(key, "tier1")
    assert "Checkout fails for all EU users" in briefing.rendered
    assert "Cleared cache, reproduced in staging" in briefing.rendered
    assert briefing.button(ActionId.ACKNOWLEDGE)[1]["text"]["text"] == "Acknowledge"

    harness.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
    harness.wait_thread(briefing, f"Acknowledged by <@{AGENT}>")
