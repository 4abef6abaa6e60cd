"""The rules of de-escalation, mitigation and undo (bot/deescalation.py), through the
running bot's domain services: what each refusal says, that a refusal changes nothing,
and who may undo a de-escalation."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.errors import Conflict, NotAllowed
from bot.forms import EscalationRequest, Resolution
from bot.models import Ticket, TicketEvent
from tests.harness import AGENT, ENGINEER, MANAGER, OUTSIDER, SPECIALIST


def state(harness, ticket_id=1):
    with harness.runtime.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                                 .order_by(TicketEvent.id)).all()
        return ticket.level, ticket.cycle, [(e.kind, e.from_level, e.to_level, e.trigger, e.reason, e.actor_id)
                                             for e in events]


def moves(harness, ticket_id=1):
    return [event for event in state(harness, ticket_id)[2] if event[0] in ("escalated", "deescalated")]


def p1(harness) -> str:
    key = harness.new_ticket(Severity="P1", Summary="API down")  # enters at tier3
    harness.briefing(key, "tier3")
    return key


def test_de_escalating_by_hand_records_the_move_and_its_reason(harness):
    p1(harness)
    harness.runtime.deescalation.deescalate(1, "tier2", "fix deployed, needs a config check", ENGINEER)
    assert state(harness)[0] == "tier2"
    assert moves(harness)[-1] == ("deescalated", "tier3", "tier2", "de-escalation",
                                  "fix deployed, needs a config check", ENGINEER)


@pytest.mark.parametrize("to_level, named", [("management", "Management"), ("tier3", "Tier 3"),
                                             ("nowhere", "nowhere")])
def test_de_escalating_to_a_level_not_below_is_refused_and_changes_nothing(harness, to_level, named):
    key = p1(harness)
    before = state(harness)
    with pytest.raises(Conflict) as refused:
        harness.runtime.deescalation.deescalate(1, to_level, "why not", ENGINEER)
    assert str(refused.value) == f"{key} is at Tier 3; it can't be de-escalated to {named}."
    assert state(harness) == before


def test_only_the_level_or_management_may_de_escalate(harness):
    key = p1(harness)
    before = state(harness)
    with pytest.raises(NotAllowed) as refused:
        harness.runtime.deescalation.deescalate(1, "tier1", "not mine", SPECIALIST)
    assert str(refused.value) == f"Only Tier 3 (<@{ENGINEER}>) or management can de-escalate {key}."
    assert state(harness) == before
    harness.runtime.deescalation.deescalate(1, "tier1", "customer follow-up", MANAGER)
    assert state(harness)[0] == "tier1"


def test_a_stale_de_escalate_form_is_refused(harness):
    key = p1(harness)
    harness.runtime.deescalation.deescalate(1, "tier2", "first", ENGINEER)
    before = state(harness)
    with pytest.raises(Conflict) as refused:
        harness.runtime.deescalation.deescalate(1, "tier1", "second", ENGINEER, seen_cycle=1)
    assert str(refused.value).startswith(f"{key} changed while you had this open")
    assert state(harness) == before


def test_mitigated_hands_tier3_back_to_tier1_with_the_reason(harness):
    p1(harness)
    harness.runtime.deescalation.mitigated(1, ENGINEER)
    assert moves(harness)[-1] == ("deescalated", "tier3", "tier1", "mitigated",
                                  "mitigated by Tier 3; back to Tier 1 for the customer follow-up", ENGINEER)


def test_mitigated_at_the_follow_up_level_is_refused(harness):
    key = harness.new_ticket(Severity="P2")  # enters at tier1, mitigated_to
    harness.briefing(key)
    before = state(harness)
    with pytest.raises(Conflict) as refused:
        harness.runtime.deescalation.mitigated(1, AGENT)
    assert str(refused.value) == f"{key} is already at Tier 1."
    assert state(harness) == before


def test_only_the_level_or_management_may_mark_mitigated(harness):
    key = p1(harness)
    with pytest.raises(NotAllowed) as refused:
        harness.runtime.deescalation.mitigated(1, AGENT)
    assert str(refused.value) == f"Only Tier 3 (<@{ENGINEER}>) or management can mark mitigated {key}."
    assert state(harness)[0] == "tier3"


def test_a_resolved_ticket_is_neither_de_escalated_nor_mitigated(harness):
    key = p1(harness)
    harness.runtime.desk.resolve(1, Resolution("fixed", "Bug", False, None, None, None), ENGINEER)
    before = state(harness)
    for attempt in (lambda: harness.runtime.deescalation.deescalate(1, "tier1", "late", ENGINEER),
                    lambda: harness.runtime.deescalation.mitigated(1, ENGINEER)):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert str(refused.value).startswith(f"{key} was resolved")
        assert "can't be de-escalated" in str(refused.value)
    assert state(harness) == before


def _deescalation_event(harness, ticket_id=1) -> int:
    with harness.runtime.sessions() as session:
        return session.scalars(select(TicketEvent.id).where(TicketEvent.ticket_id == ticket_id,
                                                            TicketEvent.kind == "deescalated")
                               .order_by(TicketEvent.id.desc())).first()


@pytest.mark.parametrize("undoer", [MANAGER, ENGINEER, AGENT])
def test_who_may_undo_the_actor_the_level_it_left_the_level_it_is_at_management(harness, undoer):
    """MANAGER de-escalated; ENGINEER's level (tier3) was left, AGENT's (tier1) has it now."""
    p1(harness)
    harness.runtime.deescalation.deescalate(1, "tier1", "customer follow-up", MANAGER)
    harness.runtime.deescalation.undo(1, _deescalation_event(harness), undoer)
    level, _, events = state(harness)
    assert level == "tier3"
    assert events[-1] == ("escalated", "tier1", "tier3", "undo", "undid the de-escalation to Tier 1", undoer)


def test_a_specialist_of_another_level_may_not_undo(harness):
    key = p1(harness)
    harness.runtime.deescalation.deescalate(1, "tier1", "customer follow-up", ENGINEER)
    before = state(harness)
    for stranger in (SPECIALIST, OUTSIDER):
        with pytest.raises(NotAllowed) as refused:
            harness.runtime.deescalation.undo(1, _deescalation_event(harness), stranger)
        assert str(refused.value) == "Only Tier 3, Tier 1 or management can undo this de-escalation."
    assert state(harness) == before and key


def test_undo_needs_this_tickets_latest_de_escalation(harness):
    key = p1(harness)
    other = harness.new_ticket(Severity="P1", Summary="Another outage")
    harness.briefing(other, "tier3")
    harness.runtime.deescalation.deescalate(2, "tier1", "other ticket", ENGINEER)
    no_undo = "There is no de-escalation to undo here."
    for event_id in (None, _deescalation_event(harness, 2)):
        with pytest.raises(Conflict) as refused:
            harness.runtime.deescalation.undo(1, event_id, ENGINEER)
        assert str(refused.value) == no_undo
    # an escalation is not a de-escalation
    harness.runtime.deescalation.deescalate(1, "tier1", "follow-up", ENGINEER)
    first = _deescalation_event(harness)
    harness.runtime.desk.escalate(1, EscalationRequest("tier2", "complexity", "needs a specialist"), AGENT)
    with harness.runtime.sessions() as session:
        escalated = session.scalars(select(TicketEvent.id).where(TicketEvent.ticket_id == 1,
                                                                 TicketEvent.kind == "escalated")
                                    .order_by(TicketEvent.id.desc())).first()
    with pytest.raises(Conflict) as refused:
        harness.runtime.deescalation.undo(1, escalated, ENGINEER)
    assert str(refused.value) == no_undo
    before = state(harness)
    with pytest.raises(Conflict) as refused:
        harness.runtime.deescalation.undo(1, first, ENGINEER)
    assert str(refused.value) == f"{key} has moved since; this de-escalation can't be undone."
    assert state(harness) == before



def test_undo_works_after_earlier_moves_other_tickets_moves_and_clicks_at_the_new_level(harness):
    key = harness.new_ticket(Severity="P2")  # tier1
    harness.briefing(key)
    harness.runtime.desk.escalate(1, EscalationRequest("tier2", "complexity", "can't diagnose"), AGENT)
    harness.runtime.deescalation.deescalate(1, "tier1", "a known issue after all", SPECIALIST)
    event = _deescalation_event(harness)
    other = harness.new_ticket(Summary="Another case")  # another ticket moves after this one
    harness.briefing(other)
    harness.runtime.desk.escalate(2, EscalationRequest("tier2", "complexity", "can't diagnose"), AGENT)
    harness.runtime.desk.acknowledge(1, AGENT)  # the level it went to took it up
    harness.runtime.deescalation.undo(1, event, SPECIALIST)
    assert state(harness)[0] == "tier2"


def test_an_older_de_escalation_is_not_undone_once_the_ticket_moved_away_and_back(harness):
    key = p1(harness)
    harness.runtime.deescalation.deescalate(1, "tier1", "first try", ENGINEER)
    first = _deescalation_event(harness)
    harness.runtime.desk.escalate(1, EscalationRequest("tier2", "complexity", "can't diagnose"), AGENT)
    harness.runtime.deescalation.deescalate(1, "tier1", "second try", SPECIALIST)
    before = state(harness)
    with pytest.raises(Conflict) as refused:
        harness.runtime.deescalation.undo(1, first, ENGINEER)
    assert str(refused.value) == f"{key} has moved since; this de-escalation can't be undone."
    assert state(harness) == before


def test_undo_on_a_resolved_ticket_is_refused(harness):
    key = p1(harness)
    harness.runtime.deescalation.deescalate(1, "tier1", "follow-up", ENGINEER)
    harness.runtime.desk.resolve(1, Resolution("fixed", "Bug", False, None, None, None), AGENT)
    before = state(harness)
    with pytest.raises(Conflict) as refused:
        harness.runtime.deescalation.undo(1, _deescalation_event(harness), ENGINEER)
    assert str(refused.value).startswith(f"{key} was resolved by <@{AGENT}>")
    assert "so it can't be changed. Nothing changed" in str(refused.value)
    assert state(harness) == before
