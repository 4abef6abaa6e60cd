"""Who hears of a ticket beyond its level (bot/routing.py, design.md §2 business risk):
management for P1, VIP, revenue at risk at the threshold, executive contact, brand risk
and a customer asking for a manager; the executive level for critical business impact.
Each reason reads as the ping shows it."""
from __future__ import annotations

from decimal import Decimal

import pytest

from bot.policy import load_policy
from bot.routing import executive_reasons, management_reasons
from bot.models import Ticket

POLICY = load_policy()  # revenue_threshold 10000, executive_revenue_threshold 100000


def ticket(severity="P3", revenue=None, **flags) -> Ticket:
    facts = {"vip": False, "executive_contact": False, "brand_risk": False, "asked_for_manager": False,
             "asked_again": False, **flags}
    return Ticket(severity=severity, impact="one_user", complexity="known_issue", revenue_at_risk=revenue, **facts)


def test_an_ordinary_ticket_does_not_involve_management_or_the_executive():
    for severity in ("P2", "P3", "P4"):
        assert management_reasons(ticket(severity), POLICY) == {}
        assert executive_reasons(ticket(severity), POLICY) == {}


@pytest.mark.parametrize("facts, expected", [
    ({"severity": "P1"}, {"p1": "P1: system down"}),
    ({"vip": True}, {"vip": "VIP customer"}),
    ({"executive_contact": True}, {"executive_contact": "executive contact"}),
    ({"brand_risk": True}, {"brand_risk": "brand reputation risk"}),
    ({"asked_for_manager": True}, {"asked_for_manager": "customer asked for a manager"}),
    ({"revenue": Decimal("10000")}, {"revenue": "revenue at risk 10,000 (threshold 10,000)"}),
    ({"revenue": Decimal("25000.40")}, {"revenue": "revenue at risk 25,000 (threshold 10,000)"}),
    ({"revenue": Decimal("9999.99")}, {}),
    ({"revenue": Decimal("0")}, {}),
    ({"asked_again": True}, {}),  # a later fact that takes the ticket up the ladder, not to management
])
def test_each_business_risk_alone_tells_management_why(facts, expected):
    assert management_reasons(ticket(**facts), POLICY) == expected


def test_all_the_reasons_together_are_all_named():
    reasons = management_reasons(ticket("P1", Decimal("20000"), vip=True, executive_contact=True,
                                        brand_risk=True, asked_for_manager=True), POLICY)
    assert list(reasons) == ["p1", "vip", "revenue", "executive_contact", "brand_risk", "asked_for_manager"]


@pytest.mark.parametrize("facts, expected", [
    ({"severity": "P1", "vip": True}, {"p1_vip": "P1 for a VIP customer"}),
    ({"severity": "P1"}, {}),
    ({"severity": "P2", "vip": True}, {}),
    ({"revenue": Decimal("100000")},
     {"revenue": "revenue at risk 100,000 (executive threshold 100,000)"}),
    ({"revenue": Decimal("99999")}, {}),
    ({"severity": "P1", "vip": True, "revenue": Decimal("250000")},
     {"p1_vip": "P1 for a VIP customer", "revenue": "revenue at risk 250,000 (executive threshold 100,000)"}),
])
def test_the_executive_level_hears_of_critical_business_impact_only(facts, expected):
    assert executive_reasons(ticket(**facts), POLICY) == expected
