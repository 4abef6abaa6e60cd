"""Every action_id and callback_id the app uses, in one place."""
from enum import StrEnum


class ActionId(StrEnum):
    ACKNOWLEDGE = "ticket.acknowledge"
    ESCALATE = "ticket.escalate"
    RESOLVE = "ticket.resolve"
    WAIT = "ticket.wait"
    RESUME = "ticket.resume"
    REOPEN = "ticket.reopen"
    DEESCALATE = "ticket.deescalate"
    MITIGATED = "ticket.mitigated"
    UNDO = "ticket.undo"
    TAKE = "ticket.take"
    REASSIGN = "ticket.reassign"
    UPDATE_FACTS = "ticket.facts"
    UPDATE_CUSTOMER = "ticket.update_customer"
    # the satisfaction question's five buttons (distinct ids: Slack wants them unique in a block)
    CSAT_1 = "csat.1"
    CSAT_2 = "csat.2"
    CSAT_3 = "csat.3"
    CSAT_4 = "csat.4"
    CSAT_5 = "csat.5"
    LIST_NEXT = "list.next"
    LIST_PREVIOUS = "list.previous"


class CallbackId(StrEnum):
    NEW_ESCALATION_MODAL = "ticket.new"
    ESCALATE_MODAL = "ticket.escalate"
    RESOLVE_MODAL = "ticket.resolve"
    WAIT_MODAL = "ticket.wait"
    RESUME_MODAL = "ticket.resume"
    DEESCALATE_MODAL = "ticket.deescalate"
    REASSIGN_MODAL = "ticket.reassign"
    FACTS_MODAL = "ticket.facts"
    CUSTOMER_UPDATE_MODAL = "ticket.update_customer"
    MESSAGE_SHORTCUT = "escalate_message"
    GLOBAL_SHORTCUT = "new_escalation"


class BlockId(StrEnum):
    """Input blocks of our modals: view submissions are read back by these."""

    SUMMARY = "summary"
    CUSTOMER = "customer"
    SEVERITY = "severity"
    IMPACT = "impact"
    COMPLEXITY = "complexity"
    STEPS = "steps"
    REVENUE = "revenue"
    FLAGS = "flags"
    LEVEL = "level"
    TRIGGER = "trigger"
    REASON = "reason"
    RESOLUTION = "resolution"
    ROOT_CAUSE = "root_cause"
    KB_GAP = "kb_gap"
    KB_ARTICLE = "kb_article"
    TRAINING_NEED = "training_need"
    PRODUCT_LINK = "product_link"
    ASSIGNEE = "assignee"
    MESSAGE = "message"


CSAT_ACTIONS = {ActionId.CSAT_1: 1, ActionId.CSAT_2: 2, ActionId.CSAT_3: 3, ActionId.CSAT_4: 4, ActionId.CSAT_5: 5}

INPUT_ACTION = "value"  # every input element uses this action_id inside its block
