"""Automatic de-escalation rules (`deescalation:` in the policy), run by the SLA sweep:
each hands its ticket down once per stay, with its rule as the reason and the Undo
note in the old thread, across restarts and several processes."""
import threading
from datetime import timedelta
from importlib import resources

import pytest
import yaml
from sqlalchemy import select

from bot.db import transaction
from bot.forms import EscalationRequest, TicketFacts
from bot.ids import ActionId
from bot.models import Alert, Ticket, TicketEvent, TicketNote, utcnow
from bot.policy import PolicyError, parse_policy
from bot.sla.sweep import SlaSweep
from tests.harness import AGENT, CHANNELS, ENGINEER, MANAGER, SPECIALIST, Harness

RULES = [
    {"from": "tier3", "when": "waiting_on_customer", "for": "2d", "to": "tier1"},
    {"from": "management", "when": "no_business_risk", "to": "previous"},
    {"from": "tier2", "when": "quiet", "for": "3d", "to": "tier1"},
]


def policy_with(rules):
    data = yaml.safe_load(resources.files("bot").joinpath("default_policy.yaml").read_text())
    data["deescalation"] = rules
    data["time_limits"] = {"tier1": "4h"}  # tier2's 8h limit would escalate a quiet ticket long before 3d
    return parse_policy(data)


@pytest.fixture
def desk(database_url):
    with Harness(database_url, policy=policy_with(RULES)) as running:
        yield running


def ticket(harness, ticket_id=1) -> Ticket:
    with harness.runtime.sessions() as session:
        return session.get(Ticket, ticket_id)


def rule_moves(harness):
    with harness.runtime.sessions() as session:
        return session.scalars(select(TicketEvent).where(TicketEvent.trigger == "deescalation_rule")).all()


def test_waiting_on_the_customer_at_tier3_for_2d_goes_back_to_tier1_once_with_undo(desk):
    key = desk.new_ticket(Severity="P1", Summary="API down")  # enters at tier3
    tier3 = desk.briefing(key, "tier3")
    desk.runtime.desk.wait_on_customer(1, ENGINEER, "asked for logs")
    start = utcnow()
    desk.runtime.sla.run(now=start + timedelta(days=1, hours=23))  # not yet two days
    assert ticket(desk).level == "tier3" and rule_moves(desk) == []
    for _ in range(2):  # the second sweep, like a restart's catch-up, changes nothing
        desk.runtime.sla.run(now=start + timedelta(days=2, minutes=1))
    assert ticket(desk).level == "tier1" and ticket(desk).status == "waiting"  # still waiting, now at tier1
    [move] = rule_moves(desk)
    assert (move.kind, move.from_level, move.to_level, move.actor_id) == ("deescalated", "tier3", "tier1", None)
    assert move.reason == "de-escalation rule 1: waiting on the customer for 2d at Tier 3 → Tier 1"
    tier1 = desk.briefing(key, "tier1")
    assert "De-escalated from Tier 3" in tier1.rendered and "de-escalation rule 1" in tier1.rendered
    note = desk.wait_thread(tier3, "De-escalated to Tier 1 by Escalator: de-escalation rule 1")
    assert "[Undo]" in note
    undo = next(r for r in desk.sim.replies(CHANNELS["tier3"], tier3.ts) if "[Undo]" in r.rendered)
    desk.driver.click(ENGINEER, CHANNELS["tier3"], undo.ts, ActionId.UNDO)
    desk.sim.wait_for(lambda: ticket(desk).level == "tier3", message="the undo back to tier3")
    desk.runtime.sla.run(now=start + timedelta(days=9))  # a person undid it: the rules leave this stay alone
    assert ticket(desk).level == "tier3" and len(rule_moves(desk)) == 1


def test_management_hands_a_ticket_back_once_its_business_risk_is_gone(desk):
    key = desk.new_ticket(Severity="P2", **{"Business risk": ["VIP customer"]})
    desk.briefing(key)
    desk.runtime.desk.escalate(1, EscalationRequest("management", "business_risk", "VIP is furious"), AGENT)
    desk.briefing(key, "management")
    desk.runtime.sla.run(now=utcnow() + timedelta(hours=1))
    assert ticket(desk).level == "management"  # the VIP flag still holds
    desk.runtime.facts.update(1, TicketFacts("P2", "one_user", "known_issue", None, frozenset()), MANAGER)
    desk.runtime.sla.run(now=utcnow() + timedelta(seconds=1))
    assert ticket(desk).level == "tier1"  # `to: previous`: where it came from
    [move] = rule_moves(desk)
    assert move.reason == "de-escalation rule 2: no business-risk reason left at Management → the level it came from"


def test_a_quiet_ticket_at_tier2_goes_down_after_3d_and_a_note_restarts_the_count(desk):
    key = desk.new_ticket(Severity="P2")
    desk.runtime.desk.escalate(1, EscalationRequest("tier2", "complexity", "needs a specialist"), AGENT)
    tier2 = desk.briefing(key, "tier2")
    start = utcnow()
    desk.runtime.desk.reply_in_thread(CHANNELS["tier2"], tier2.ts, SPECIALIST, "looking", "1700000000.000100")
    with transaction(desk.runtime.sessions) as session:  # the specialist's note is two days into the stay
        session.scalars(select(TicketNote)).one().created_at = start + timedelta(days=2)
    desk.runtime.sla.run(now=start + timedelta(days=3, minutes=1))
    assert ticket(desk).level == "tier2"  # quiet for only one day since the note
    desk.runtime.sla.run(now=start + timedelta(days=5, minutes=1))
    assert ticket(desk).level == "tier1"
    assert rule_moves(desk)[0].reason.startswith("de-escalation rule 3: quiet for 3d at Tier 2")


def test_two_sweeping_processes_hand_a_ticket_down_once(desk):
    key = desk.new_ticket(Severity="P1")
    tier3 = desk.briefing(key, "tier3")
    desk.runtime.desk.wait_on_customer(1, ENGINEER, "asked for logs")
    later = utcnow() + timedelta(days=3)
    sweeps = [SlaSweep(desk.runtime.sessions, desk.runtime.policy, desk.runtime.desk) for _ in range(2)]
    threads = [threading.Thread(target=sweep.run, args=(later,)) for sweep in sweeps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    desk.settle()
    assert len(rule_moves(desk)) == 1
    with desk.runtime.sessions() as session:
        assert session.scalars(select(Alert.key).where(Alert.kind == "auto_deescalation")).all() == ["1:auto_deescalation:tier3:rule1:1"]
    notes = [t for t in desk.thread_texts(tier3) if "De-escalated to Tier 1" in t]
    assert len(notes) == 1


def test_no_rules_no_moves(database_url):
    with Harness(database_url) as plain:
        key = plain.new_ticket(Severity="P1")
        plain.briefing(key, "tier3")
        plain.runtime.desk.wait_on_customer(1, ENGINEER, "asked for logs")
        plain.runtime.sla.run(now=utcnow() + timedelta(days=30))
        assert ticket(plain).level == "tier3"


@pytest.mark.parametrize("rule, problem", [
    ({"from": "tier9", "when": "quiet", "for": "1d", "to": "tier1"},
     "deescalation[1].from: 'tier9' is not a level of the ladder"),
    ({"from": "tier3", "when": "sleepy", "for": "1d", "to": "tier1"},
     "deescalation[1].when: must be one of waiting_on_customer, quiet, no_business_risk, got 'sleepy'"),
    ({"from": "tier3", "when": "quiet", "to": "tier1"}, "deescalation[1].for: missing"),
    ({"from": "tier3", "when": "quiet", "for": "soon", "to": "tier1"}, "deescalation[1].for: bad duration 'soon'"),
    ({"from": "tier1", "when": "quiet", "for": "1d", "to": "tier3"},
     "deescalation[1].to: tier3 is not below tier1; a de-escalation goes down the ladder"),
    ({"from": "tier2", "when": "quiet", "for": "1d"}, "deescalation[1].to: missing"),
    ({"from": "tier2", "when": "quiet", "for": "1d", "to": "tier1", "after": "1d"},
     "deescalation[1].after: unknown key"),
    ("tier3 → tier1", "deescalation[1]: must be a mapping"),
])
def test_policy_check_names_what_is_wrong_with_a_rule(rule, problem):
    with pytest.raises(PolicyError) as raised:
        policy_with([rule])
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_policy_check_accepts_the_example_rules(tmp_path, capsys):
    from bot.cli import main

    data = yaml.safe_load(resources.files("bot").joinpath("default_policy.yaml").read_text())
    data["deescalation"] = RULES
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["policy", "check", str(path)]) == 0
    data["deescalation"] = "sometimes"
    path.write_text(yaml.safe_dump(data))
    assert main(["policy", "check", str(path)]) == 1
    assert "deescalation: must be a list of rules" in capsys.readouterr().err
