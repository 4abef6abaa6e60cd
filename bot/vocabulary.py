"""The words of the escalation framework (design.md §2–3): stored value → label."""

SEVERITY_LABELS = {
    "P1": "P1 — System down, revenue impact",
    "P2": "P2 — Major functionality broken",
    "P3": "P3 — Minor issue, workaround exists",
    "P4": "P4 — Enhancement request",
}

IMPACTS = {
    "one_user": "One user",
    "multiple_users": "Multiple users",
    "system_wide": "System-wide",
}

COMPLEXITIES = {
    "known_issue": "Known issue",
    "cant_diagnose": "Can't diagnose",
    "needs_development": "Needs development",
}

FLAGS = {
    "vip": "VIP customer",
    "executive_contact": "Executive contact",
    "asked_for_manager": "Customer asked for a manager",
    "brand_risk": "Brand reputation risk",
}

# Facts that arise once a ticket is under way: offered when its facts are updated
# (the New escalation modal keeps the four flags above).
LATER_FLAGS = {
    "asked_again": "Customer escalated again",
}
TICKET_FLAGS = {**FLAGS, **LATER_FLAGS}

TRIGGERS = {
    "time_limit": "Time limit",
    "complexity": "Complexity",
    "customer_request": "Customer request",
    "impact": "Impact",
    "business_risk": "Business risk",
}

# Triggers the bot records for moves it makes itself (not offered in the modal).
AUTOMATIC_TRIGGERS = {
    "de-escalation": "De-escalation",
    "mitigated": "Mitigated",
    "undo": "Undo",
    "severity_lowered": "Severity lowered",
    "severity_raised": "Severity raised",
    "criteria": "Criteria matrix",
    "deescalation_rule": "De-escalation rule",
}

STATUS_LABELS = {
    "open": "Waiting for acknowledgment",
    "acknowledged": "Acknowledged",
    "waiting": "Waiting on customer",
    "resolved": "Resolved",
}
