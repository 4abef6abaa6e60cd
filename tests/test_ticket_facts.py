"""Updating a ticket's facts from its briefing: the criteria matrix runs again (every
row of design.md §2's table), management and the executive level hear of new reasons
once, a raised or lowered severity re-routes, and bad input changes nothing."""
import pytest
from sqlalchemy import select

from bot.ids import ActionId
from bot.models import Ticket, TicketEvent
from tests.harness import AGENT, CEO, CHANNELS, MANAGER, OUTSIDER, SPECIALIST


def ticket(harness, ticket_id=1) -> Ticket:
    with harness.runtime.sessions() as session:
        return session.get(Ticket, ticket_id)


def update_facts(harness, user, briefing, **values):
    modal = harness.modal_from(user, briefing, ActionId.UPDATE_FACTS)
    answer = harness.driver.submit_view(user, modal.id, values)
    assert answer.status == 200, answer.body
    return answer


# one row per cell of the criteria table that moves a ticket up a support rung
MATRIX_ROWS = [
    ("tier1", {"Impact": "Multiple users"}, "tier2", "Impact: Multiple users (Tier 1 → Tier 2)", "impact"),
    ("tier1", {"Complexity": "Can't diagnose"}, "tier2", "Complexity: Can't diagnose (Tier 1 → Tier 2)",
     "complexity"),
    ("tier1", {"Business risk": ["Customer asked for a manager"]}, "tier2",
     "Flags: Customer asked for a manager (Tier 1 → Tier 2)", "customer_request"),
    ("tier2", {"Impact": "System-wide"}, "tier3", "Impact: System-wide (Tier 2 → Tier 3)", "impact"),
    ("tier2", {"Complexity": "Needs development"}, "tier3", "Complexity: Needs development (Tier 2 → Tier 3)",
     "complexity"),
    ("tier2", {"Business risk": ["Customer escalated again"]}, "tier3",
     "Flags: Customer escalated again (Tier 2 → Tier 3)", "customer_request"),
]


@pytest.mark.parametrize("start, change, target, rule, trigger", MATRIX_ROWS,
                         ids=[f"{r[0]}-{list(r[1].values())[0]}" for r in MATRIX_ROWS])
def test_each_matrix_row_moves_the_ticket_when_its_facts_change(harness, start, change, target, rule, trigger):
    fields = {"Complexity": "Can't diagnose"} if start == "tier2" else {}  # the matrix opens it at tier2
    key = harness.new_ticket(Summary="Exports fail", **fields)
    briefing = harness.briefing(key, start)
    member = AGENT if start == "tier1" else SPECIALIST
    update_facts(harness, member, briefing, **change)

    moved = harness.briefing(key, target)
    assert f"Escalated from {harness.policy.level_name(start)}" in moved.rendered
    assert f"criteria matrix: {rule}" in moved.rendered
    harness.wait_thread(briefing, f"Facts updated by <@{member}>")
    with harness.runtime.sessions() as session:
        event = session.scalars(select(TicketEvent).where(TicketEvent.kind == "escalated")
                                .order_by(TicketEvent.id.desc())).first()
        assert (event.from_level, event.to_level, event.trigger) == (start, target, trigger)
        assert event.detail["rules"] == [rule.split(" (")[0]]


def test_unchanged_matrix_facts_leave_the_ticket_where_it_is(harness):
    key = harness.new_ticket(Summary="One invoice is odd")
    briefing = harness.briefing(key)
    update_facts(harness, AGENT, briefing, **{"Revenue at risk": "500", "Severity": "P3"})
    note = harness.wait_thread(briefing, "Facts updated")
    assert "Severity: P2 → P3" in note and "Revenue at risk: none → 500" in note
    harness.settle()
    assert ticket(harness).level == "tier1" and ticket(harness).severity == "P3"
    assert not harness.sim.messages(CHANNELS["tier2"]) and not harness.sim.messages(CHANNELS["management"])
    refreshed = harness.sim.message(CHANNELS["tier1"], briefing.ts)
    assert "P3 — Minor issue" in refreshed.rendered and "500" in refreshed.rendered


@pytest.mark.parametrize("flag, reason", [("VIP customer", "VIP customer"),
                                          ("Executive contact", "executive contact"),
                                          ("Brand reputation risk", "brand reputation risk")])
def test_new_business_risk_tells_management_once(harness, flag, reason):
    key = harness.new_ticket(Summary="Slow dashboards")
    briefing = harness.briefing(key)
    update_facts(harness, AGENT, briefing, **{"Business risk": [flag]})
    ping = harness.sim.wait_for(lambda: harness.sim.find_message(key, channel=CHANNELS["management"]),
                                message="the management ping")
    assert reason in ping.rendered and f"<@{MANAGER}>" in ping.rendered
    assert ticket(harness).level == "tier1"  # business risk tells management; it doesn't move the ticket
    update_facts(harness, AGENT, briefing, **{"Revenue at risk": "10"})  # another change, same flag: no new ping
    harness.wait_thread(briefing, "Revenue at risk: none → 10")
    harness.settle()
    assert len(harness.sim.messages(CHANNELS["management"])) == 1


def test_revenue_crossing_each_threshold_tells_management_then_the_executive_level(harness):
    key = harness.new_ticket(Summary="Billing run stuck", Customer="Initech")
    briefing = harness.briefing(key)
    update_facts(harness, AGENT, briefing, **{"Revenue at risk": "20000"})
    ping = harness.sim.wait_for(lambda: harness.sim.find_message(key, channel=CHANNELS["management"]),
                                message="the management ping")
    assert "revenue at risk 20,000 (threshold 10,000)" in ping.rendered
    harness.settle()
    assert not harness.sim.messages(CHANNELS["executive"])

    update_facts(harness, AGENT, briefing, **{"Revenue at risk": "250000"})
    told = harness.sim.wait_for(lambda: harness.sim.find_message(key, channel=CHANNELS["executive"]),
                                message="the executive ping")
    assert "needs executive attention" in told.rendered and f"<@{CEO}>" in told.rendered
    assert "revenue at risk 250,000 (executive threshold 100,000)" in told.rendered
    harness.settle()
    assert len(harness.sim.messages(CHANNELS["management"])) == 1  # the revenue reason was told already
    harness.driver.command(AGENT, "C0SUPPORT", f"status {key}")
    status = harness.sim.wait_for(lambda: harness.ephemeral_texts(AGENT, "C0SUPPORT"), message="the status")[-1]
    assert "executive level told: revenue at risk 250,000" in status


def test_a_p1_for_a_vip_tells_the_executive_level_on_open(harness):
    key = harness.new_ticket(Summary="Everything is down", Severity="P1", **{"Business risk": ["VIP customer"]})
    harness.briefing(key, "tier3")
    told = harness.sim.wait_for(lambda: harness.sim.find_message(key, channel=CHANNELS["executive"]),
                                message="the executive ping")
    assert "P1 for a VIP customer" in told.rendered


def test_raising_severity_routes_to_its_entry_level(harness):
    key = harness.new_ticket(Summary="Login slow", Severity="P3")
    briefing = harness.briefing(key)
    update_facts(harness, AGENT, briefing, Severity="P1")
    tier3 = harness.briefing(key, "tier3")
    assert "severity raised P3 → P1, which enters at Tier 3" in tier3.rendered
    ping = harness.sim.wait_for(lambda: harness.sim.find_message(key, channel=CHANNELS["management"]),
                                message="the P1 ping")
    assert "P1: system down" in ping.rendered


def test_bad_facts_are_refused_inline_and_outsiders_are_told_who_can(harness):
    key = harness.new_ticket(Summary="Reports empty")
    briefing = harness.briefing(key)
    modal = harness.modal_from(AGENT, briefing, ActionId.UPDATE_FACTS)
    assert modal.title == f"Update {key}"
    bad = harness.driver.submit_view(AGENT, modal.id, {"Revenue at risk": "abc"})
    assert "revenue" in bad.json["errors"]
    same = harness.driver.submit_view(AGENT, modal.id, {})
    assert "nothing changed" in str(same.json["errors"])
    harness.driver.click(OUTSIDER, CHANNELS["tier1"], briefing.ts, ActionId.UPDATE_FACTS)
    refusal = harness.sim.wait_for(lambda: harness.ephemeral_texts(OUTSIDER), message="the refusal")
    assert "update the facts of" in refusal[0] and f"<@{AGENT}>" in refusal[0]
    with harness.runtime.sessions() as session:
        assert not session.scalars(select(TicketEvent).where(TicketEvent.kind == "facts_changed")).all()
