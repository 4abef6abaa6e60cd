"""Routing rules: where a ticket enters and when management must be told."""
from __future__ import annotations

from bot.models import Ticket
from bot.policy import Policy


def management_reasons(ticket: Ticket, policy: Policy) -> dict[str, str]:
    """Why management should hear of this ticket (design.md §2, business risk):
    reason code (the ledger's threshold) → how it reads in the ping."""
    reasons = {}
    if ticket.severity == "P1":
        reasons["p1"] = "P1: system down"
    if ticket.vip:
        reasons["vip"] = "VIP customer"
    if ticket.revenue_at_risk is not None and ticket.revenue_at_risk >= policy.revenue_threshold:
        reasons["revenue"] = (f"revenue at risk {ticket.revenue_at_risk:,.0f} "
                              f"(threshold {policy.revenue_threshold:,.0f})")
    if ticket.executive_contact:
        reasons["executive_contact"] = "executive contact"
    if ticket.brand_risk:
        reasons["brand_risk"] = "brand reputation risk"
    if ticket.asked_for_manager:
        reasons["asked_for_manager"] = "customer asked for a manager"
    return reasons


def executive_reasons(ticket: Ticket, policy: Policy) -> dict[str, str]:
    """Critical business impact, which the executive level hears of too: revenue at
    risk at or above `executive_revenue_threshold`, or a P1 for a VIP customer."""
    reasons = {}
    if ticket.severity == "P1" and ticket.vip:
        reasons["p1_vip"] = "P1 for a VIP customer"
    if ticket.revenue_at_risk is not None and ticket.revenue_at_risk >= policy.executive_revenue_threshold:
        reasons["revenue"] = (f"revenue at risk {ticket.revenue_at_risk:,.0f} "
                              f"(executive threshold {policy.executive_revenue_threshold:,.0f})")
    return reasons
