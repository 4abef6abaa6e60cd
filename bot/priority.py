"""The priority score that orders a level's queue: severity, VIP, revenue at risk,
SLA time left and age, weighted by the policy's `priority`."""
from __future__ import annotations

from datetime import datetime

from bot.models import Ticket
from bot.policy import PriorityWeights


def priority_score(ticket: Ticket, next_due: datetime | None, now: datetime, weights: PriorityWeights) -> float:
    score = weights.for_severity(ticket.severity)
    if ticket.vip:
        score += weights.vip
    if ticket.revenue_at_risk:
        score += float(ticket.revenue_at_risk) / 1000 * weights.per_thousand_revenue
    score += max(0.0, (now - ticket.created_at).total_seconds() / 3600) * weights.per_hour_open
    if next_due is not None:
        left = (next_due - now).total_seconds()
        if left <= 0:
            score += weights.breached
        elif left <= 3600:
            score += weights.due_within_hour
    return round(score, 1)
