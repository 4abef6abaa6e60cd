"""The "priority N" a queue shows in App Home (bot/priority.py): severity, VIP, revenue
at risk, hours open, and a breached or nearly due SLA, weighted by the policy."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bot.models import Ticket
from bot.policy import PriorityWeights
from bot.priority import priority_score

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
DEFAULT = PriorityWeights()  # P1 400, P2 200, P3 50, P4 10; vip 100; 2 per thousand; 1 per hour;
#                              breached 150; due within the hour 75


def ticket(severity="P3", *, vip=False, revenue=None, opened=NOW) -> Ticket:
    return Ticket(severity=severity, vip=vip, revenue_at_risk=revenue, created_at=opened)


@pytest.mark.parametrize("severity, score", [("P1", 400), ("P2", 200), ("P3", 50), ("P4", 10)])
def test_severity_sets_the_base(severity, score):
    assert priority_score(ticket(severity), None, NOW, DEFAULT) == score


def test_each_fact_adds_its_weight():
    assert priority_score(ticket(vip=True), None, NOW, DEFAULT) == 150
    assert priority_score(ticket(revenue=Decimal("25000")), None, NOW, DEFAULT) == 100  # 25 × 2
    assert priority_score(ticket(opened=NOW - timedelta(hours=6, minutes=30)), None, NOW, DEFAULT) == 56.5
    assert priority_score(ticket(vip=True, revenue=Decimal("5000"), opened=NOW - timedelta(hours=2)),
                          None, NOW, DEFAULT) == 50 + 100 + 10 + 2


def test_a_ticket_stamped_in_the_future_does_not_lose_points_for_age():
    assert priority_score(ticket(opened=NOW + timedelta(hours=3)), None, NOW, DEFAULT) == 50


@pytest.mark.parametrize("due_in, bonus", [
    (timedelta(hours=-2), 150), (timedelta(0), 150),  # breached
    (timedelta(seconds=1), 75), (timedelta(minutes=60), 75),  # due within the hour
    (timedelta(minutes=60, seconds=1), 0), (timedelta(hours=5), 0),
])
def test_a_breached_or_nearly_due_clock_moves_the_ticket_up(due_in, bonus):
    assert priority_score(ticket(), NOW + due_in, NOW, DEFAULT) == 50 + bonus


def test_the_policy_weights_are_the_ones_applied():
    weights = PriorityWeights(severity=(("P1", 1), ("P2", 2), ("P3", 3), ("P4", 4)), vip=7,
                              per_thousand_revenue=0.5, per_hour_open=10, breached=1000, due_within_hour=500)
    assert priority_score(ticket("P2", vip=True, revenue=Decimal("4000"), opened=NOW - timedelta(hours=1)),
                          NOW - timedelta(seconds=1), NOW, weights) == 2 + 7 + 2 + 10 + 1000
    assert priority_score(ticket("P4"), NOW + timedelta(minutes=30), NOW, weights) == 4 + 500


def test_the_score_is_shown_to_one_decimal():
    assert priority_score(ticket(opened=NOW - timedelta(minutes=10)), None, NOW, DEFAULT) == 50.2
