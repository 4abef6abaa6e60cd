"""A ticket goes only where the policy lets it: the Escalate modal offers the levels of
Policy.escalation_targets, and the server refuses any other (a forged submission, or a
modal opened when the matrix still suggested a jump) with a clear message, changing
nothing."""
import pytest
from sqlalchemy import func, select

from bot.errors import Conflict
from bot.forms import EscalationRequest
from bot.ids import ActionId, BlockId
from bot.models import OutboxMessage, Ticket, TicketEvent
from tests.harness import AGENT, CHANNELS


def snapshot(harness, ticket_id: int) -> tuple:
    with harness.runtime.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        return (ticket.level, ticket.cycle, ticket.status,
                session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id)),
                session.scalar(select(func.count()).select_from(OutboxMessage)))


def offer_tier3(harness, modal) -> None:
    """The person's client sends Tier 3 although the modal never offered it."""
    block = next(b for b in harness.sim.view(modal.id).blocks if b.get("block_id") == BlockId.LEVEL)
    options = block["element"]["options"]
    assert "tier3" not in [o["value"] for o in options]
    options.append({"text": {"type": "plain_text", "text": "Tier 3"}, "value": "tier3"})


def test_a_forged_escalation_past_the_next_rung_is_refused_and_changes_nothing(harness):
    key = harness.new_ticket(Summary="One invoice looks odd")  # nothing suggests Tier 3
    briefing = harness.briefing(key)
    modal = harness.modal_from(AGENT, briefing, ActionId.ESCALATE)
    harness.settle()
    ticket_id = int(key.split("-")[1])
    before = snapshot(harness, ticket_id)
    offer_tier3(harness, modal)
    answer = harness.driver.submit_view(AGENT, modal.id, {"Level": "Tier 3", "Trigger": "Complexity",
                                                          "Reason": "Straight to engineering"})
    assert answer.json == {"response_action": "errors", "errors": {"level": "Choose a level above Tier 1."}}
    harness.settle()
    assert snapshot(harness, ticket_id) == before
    assert not [m for m in harness.sim.messages(CHANNELS["tier3"]) if f"{key} ·" in m.rendered]
    # the same modal, with a level it offers, still goes through
    answer = harness.driver.submit_view(AGENT, modal.id, {"Level": "Tier 2", "Trigger": "Complexity",
                                                          "Reason": "Needs a specialist"})
    assert not (answer.json or {}).get("errors"), answer.body
    assert "Needs a specialist" in harness.briefing(key, "tier2").rendered


@pytest.mark.parametrize("to_level, allowed", [("tier2", True), ("management", True), ("tier3", False),
                                               ("executive", False), ("tier1", False), ("planning", False)])
def test_the_desk_moves_a_ticket_only_to_its_escalation_targets(sqlite_harness, to_level, allowed):
    """The rule itself, below the form: from Tier 1 with no suggestion, the next rung or
    management; never a jump, the executive level, sideways or down."""
    desk = sqlite_harness.runtime.desk
    key = sqlite_harness.new_ticket(Summary="One invoice looks odd")
    ticket_id = int(key.split("-")[1])
    assert sqlite_harness.runtime.policy.escalation_targets("tier1", desk.suggestion(desk.find(key))[0]) == \
        ["tier2", "management"]
    before = snapshot(sqlite_harness, ticket_id)
    request = EscalationRequest(to_level, "complexity", "Straight up")
    if allowed:
        assert desk.escalate(ticket_id, request, AGENT).level == to_level
        return
    name = sqlite_harness.runtime.policy.level_name(to_level)
    with pytest.raises(Conflict) as refused:
        desk.escalate(ticket_id, request, AGENT)
    assert str(refused.value) == f"{key} is already at Tier 1; it can't go to {name} from there."
    assert snapshot(sqlite_harness, ticket_id) == before


def test_the_desk_allows_the_jump_the_matrix_suggests(sqlite_harness):
    """Tier 1 → Tier 3 when the facts say so (a ticket handed back down to Tier 1)."""
    runtime = sqlite_harness.runtime
    key = sqlite_harness.new_ticket(Summary="Schema change needed", Complexity="Needs development")
    ticket_id = int(key.split("-")[1])
    runtime.deescalation.deescalate(ticket_id, "tier1", "Customer follow-up", "U0ENG1")
    assert runtime.desk.suggestion(runtime.desk.find(key))[0] == "tier3"
    assert runtime.desk.escalate(ticket_id, EscalationRequest("tier3", "complexity", "Back to engineering"),
                                 AGENT).level == "tier3"
