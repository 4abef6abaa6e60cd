"""De-escalation by hand, on mitigation and on a lowered severity, each undoable in time."""
from datetime import timedelta

from sqlalchemy import select

from bot.db import transaction
from bot.ids import ActionId
from bot.models import Ticket, TicketEvent
from tests.harness import AGENT, CHANNELS, ENGINEER, OUTSIDER, SPECIALIST


def level_of(harness, ticket_id=1) -> str:
    with harness.runtime.sessions() as session:
        return session.get(Ticket, ticket_id).level


def test_deescalate_by_hand_then_undo(harness):
    key = harness.new_ticket(Severity="P1", Summary="API down")  # enters at tier3
    tier3 = harness.briefing(key, "tier3")
    harness.driver.click(ENGINEER, CHANNELS["tier3"], tier3.ts, ActionId.DEESCALATE)
    modal = harness.sim.wait_for(lambda: harness.sim.open_modal(ENGINEER), message="the de-escalate modal")
    levels = next(b for b in modal.blocks if b.get("block_id") == "level")["element"]["options"]
    assert [o["text"]["text"] for o in levels] == ["Tier 2", "Tier 1"]
    empty = harness.driver.submit_view(ENGINEER, modal.id, {"Level": "Tier 1", "Reason": ""},
                                       enforce_required=False)
    assert "reason" in empty.json["errors"]
    harness.driver.submit_view(ENGINEER, modal.id, {"Level": "Tier 1", "Reason": "Fix deployed; customer comms"})
    tier1 = harness.briefing(key, "tier1")
    assert "De-escalated from Tier 3" in tier1.rendered and "Fix deployed" in tier1.rendered
    note = harness.sim.wait_for(lambda: next((r for r in harness.sim.replies(CHANNELS["tier3"], tier3.ts)
                                              if "De-escalated to Tier 1" in r.rendered), None), message="the note")
    assert "[Undo]" in note.rendered
    harness.driver.click(OUTSIDER, CHANNELS["tier3"], note.ts, ActionId.UNDO)
    refusal = harness.sim.wait_for(lambda: harness.ephemeral_texts(OUTSIDER), message="the refusal")
    assert "can undo this de-escalation" in refusal[0] and level_of(harness) == "tier1"
    harness.driver.click(ENGINEER, CHANNELS["tier3"], note.ts, ActionId.UNDO)
    harness.sim.wait_for(lambda: level_of(harness) == "tier3", message="the ticket back at tier3")
    harness.settle()
    assert len([m for m in harness.sim.messages(CHANNELS["tier3"]) if f"{key} ·" in m.rendered]) == 2
    harness.driver.click(ENGINEER, CHANNELS["tier3"], note.ts, ActionId.UNDO)  # a second undo: nothing
    told = harness.sim.wait_for(lambda: harness.ephemeral_texts(ENGINEER), message="the notice")
    assert "moved since" in told[-1] or "no de-escalation" in told[-1]


def test_undo_after_the_window_is_refused(harness):
    key = harness.new_ticket(Severity="P1")
    tier3 = harness.briefing(key, "tier3")
    harness.driver.click(ENGINEER, CHANNELS["tier3"], tier3.ts, ActionId.MITIGATED)
    harness.briefing(key, "tier1")
    with transaction(harness.runtime.sessions) as session:  # 16 minutes pass
        event = session.scalars(select(TicketEvent).where(TicketEvent.kind == "deescalated")).one()
        event.at -= timedelta(minutes=16)
    note = harness.sim.wait_for(lambda: next((r for r in harness.sim.replies(CHANNELS["tier3"], tier3.ts)
                                              if "[Undo]" in r.rendered), None), message="the note")
    assert "mitigated by Tier 3" in note.rendered
    harness.driver.click(ENGINEER, CHANNELS["tier3"], note.ts, ActionId.UNDO)
    told = harness.sim.wait_for(lambda: harness.ephemeral_texts(ENGINEER), message="the notice")
    assert "undo window (15 min) has passed" in told[0]
    assert level_of(harness) == "tier1"


def test_lowering_severity_below_the_entry_level_de_escalates(harness):
    key = harness.new_ticket(Severity="P1")
    harness.briefing(key, "tier3")
    harness.runtime.facts.change_severity(1, "P2", ENGINEER)
    tier1 = harness.briefing(key, "tier1")
    assert "De-escalated from Tier 3" in tier1.rendered and "severity lowered P1 → P2" in tier1.rendered
    with harness.runtime.sessions() as session:
        event = session.scalars(select(TicketEvent).where(TicketEvent.kind == "deescalated")).one()
        assert (event.trigger, event.from_level, event.to_level) == ("severity_lowered", "tier3", "tier1")


def test_escalated_tickets_keep_their_level_when_severity_drops(harness):
    key = harness.new_ticket(Severity="P2")
    harness.briefing(key)
    from bot.forms import EscalationRequest

    harness.runtime.desk.escalate(1, EscalationRequest("tier2", "complexity", "specialist"), AGENT)
    harness.runtime.facts.change_severity(1, "P3", SPECIALIST)
    assert level_of(harness) == "tier2"  # tier2 wasn't P2's entry: it was escalated there on purpose
