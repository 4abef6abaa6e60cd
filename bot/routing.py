"""Routing rules: where a ticket enters and when management must be told."""
from __future__ import annotations

from bot.models import Ticket
from bot.policy import Policy


def management_reasons(ticket: Ticket, policy: Policy) -> list[str]:
    """Why management should hear of this ticket (design.md §2, business risk)."""
    reasons = []
    if ticket.severity == "P1":
        reasons.append("P1: system down")
    if ticket.vip:
        reasons.append("VIP customer")
    if ticket.revenue_at_risk is not None and ticket.revenue_at_risk >= policy.revenue_threshold:
        reasons.append(f"revenue at risk {ticket.revenue_at_risk:,.0f} (threshold {policy.revenue_threshold:,.0f})")
    if ticket.executive_contact:
        reasons.append("executive contact")
    if ticket.brand_risk:
        reasons.append("brand reputation risk")
    if ticket.asked_for_manager:
        reasons.append("customer asked for a manager")
    return reasons
