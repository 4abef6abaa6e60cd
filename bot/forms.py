"""Validation of what people type into our modals; errors are keyed by input block."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.errors import InvalidInput
from bot.ids import BlockId
from bot.policy import Policy
from bot.vocabulary import COMPLEXITIES, FLAGS, IMPACTS, SEVERITY_LABELS, TICKET_FLAGS, TRIGGERS

MAX_SUMMARY = 20_000  # stored whole; messages cut it to fit Block Kit
MAX_CUSTOMER = 200
MAX_LONG_TEXT = 3000
MAX_REVENUE = Decimal("1e12")
SLACK_TEXT_INPUT_CAP = 3000  # Slack refuses a plain_text_input whose max_length is more
# Each typed input's max_length in our modals, so Slack shows the limit while the person
# types (the checks above stay: a request need not come from our modal). The summary is
# stored up to MAX_SUMMARY (a long message sent to the shortcut), but typed up to Slack's cap.
INPUT_LIMITS = {"summary": SLACK_TEXT_INPUT_CAP, "customer": MAX_CUSTOMER, "long_text": MAX_LONG_TEXT,
                "revenue": len("999,999,999,999.99") + 12}  # under MAX_REVENUE, with room for spaces
_KEEP_IT_UNDER = "Keep it under {limit:,} characters."
_URL = re.compile(r"^https?://[^\s<>|]{3,2000}$")


@dataclass(frozen=True)
class NewTicket:
    summary: str
    customer: str
    severity: str
    impact: str
    complexity: str
    steps_taken: str
    revenue_at_risk: Decimal | None
    flags: frozenset[str]


@dataclass(frozen=True)
class EscalationRequest:
    to_level: str
    trigger: str
    reason: str


def _text(values: dict, key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def _typed_text(values: dict, block: str, errors: dict[str, str], *, limit: int, too_long: str,
                empty: str | None = None) -> str:
    """A field the person typed, stripped. Its error, if any, goes in `errors`: `empty`
    when it is empty and may not be, `too_long` (formatted with limit and now) past `limit`."""
    text = _text(values, block)
    if not text and empty:
        errors[block] = empty
    elif len(text) > limit:
        errors[block] = too_long.format(limit=limit, now=len(text))
    return text


def parse_new_ticket(values: dict) -> NewTicket:
    """`values` maps block id → the submitted value (str, or a list for checkboxes)."""
    errors: dict[str, str] = {}
    summary = _typed_text(values, BlockId.SUMMARY, errors, limit=MAX_SUMMARY,
                          empty="Describe the problem in a sentence or two.",
                          too_long="Keep the summary under {limit:,} characters ({now:,} now).")
    customer = _typed_text(values, BlockId.CUSTOMER, errors, limit=MAX_CUSTOMER,
                           too_long="Keep the customer name under {limit} characters.")
    severity = _text(values, BlockId.SEVERITY)
    if severity not in SEVERITY_LABELS:
        errors[BlockId.SEVERITY] = "Choose a severity, P1 to P4."
    impact = _text(values, BlockId.IMPACT) or "one_user"
    if impact not in IMPACTS:
        errors[BlockId.IMPACT] = "Choose who is affected."
    complexity = _text(values, BlockId.COMPLEXITY) or "known_issue"
    if complexity not in COMPLEXITIES:
        errors[BlockId.COMPLEXITY] = "Choose how complex the problem is."
    steps = _typed_text(values, BlockId.STEPS, errors, limit=MAX_LONG_TEXT,
                        too_long="Keep the steps taken under {limit:,} characters.")
    revenue = _parse_revenue(_text(values, BlockId.REVENUE), errors)
    flags = frozenset(flag for flag in (values.get(BlockId.FLAGS) or []) if flag in FLAGS)
    if errors:
        raise InvalidInput(errors)
    return NewTicket(summary, customer, severity, impact, complexity, steps, revenue, flags)


@dataclass(frozen=True)
class TicketFacts:
    """What the criteria matrix and the pings look at, as someone updates them."""

    severity: str
    impact: str
    complexity: str
    revenue_at_risk: Decimal | None
    flags: frozenset[str]


def parse_facts(values: dict) -> TicketFacts:
    errors: dict[str, str] = {}
    severity = _text(values, BlockId.SEVERITY)
    if severity not in SEVERITY_LABELS:
        errors[BlockId.SEVERITY] = "Choose a severity, P1 to P4."
    impact = _text(values, BlockId.IMPACT)
    if impact not in IMPACTS:
        errors[BlockId.IMPACT] = "Choose who is affected."
    complexity = _text(values, BlockId.COMPLEXITY)
    if complexity not in COMPLEXITIES:
        errors[BlockId.COMPLEXITY] = "Choose how complex the problem is."
    revenue = _parse_revenue(_text(values, BlockId.REVENUE), errors)
    flags = frozenset(flag for flag in (values.get(BlockId.FLAGS) or []) if flag in TICKET_FLAGS)
    if errors:
        raise InvalidInput(errors)
    return TicketFacts(severity, impact, complexity, revenue, flags)


def _parse_revenue(text: str, errors: dict[str, str]) -> Decimal | None:
    if not text:
        return None
    try:
        amount = Decimal(text.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        errors[BlockId.REVENUE] = "Enter an amount as a number, e.g. 12000."
        return None
    if not amount.is_finite() or amount < 0:
        errors[BlockId.REVENUE] = "Revenue at risk can't be negative."
        return None
    if amount >= MAX_REVENUE:
        errors[BlockId.REVENUE] = "That amount is too large; enter the revenue at risk in whole currency units."
        return None
    return amount.quantize(Decimal("0.01"))


def parse_escalation(values: dict, policy: Policy, current_level: str,
                     suggested: str | None = None) -> EscalationRequest:
    errors: dict[str, str] = {}
    to_level = _text(values, BlockId.LEVEL)
    if to_level not in policy.escalation_targets(current_level, suggested):
        errors[BlockId.LEVEL] = f"Choose a level above {policy.level_name(current_level)}."
    trigger = _text(values, BlockId.TRIGGER)
    if trigger not in TRIGGERS:
        errors[BlockId.TRIGGER] = "Choose what triggered the escalation."
    reason = _typed_text(values, BlockId.REASON, errors, limit=MAX_LONG_TEXT,
                         empty="Say why, so the next level knows where to start.",
                         too_long="Keep the reason under {limit:,} characters.")
    if errors:
        raise InvalidInput(errors)
    return EscalationRequest(to_level, trigger, reason)


@dataclass(frozen=True)
class Resolution:
    text: str
    root_cause: str
    kb_gap: bool
    kb_article: str | None
    training_need: str | None
    product_link: str | None


def parse_resolution(values: dict, root_causes: tuple[str, ...]) -> Resolution:
    errors: dict[str, str] = {}
    text = _typed_text(values, BlockId.RESOLUTION, errors, limit=MAX_LONG_TEXT, empty="Say how it was resolved.",
                       too_long=_KEEP_IT_UNDER)
    root_cause = _text(values, BlockId.ROOT_CAUSE)
    if root_cause not in root_causes:
        errors[BlockId.ROOT_CAUSE] = "Choose the root cause category."
    links = {}
    for block in (BlockId.KB_ARTICLE, BlockId.PRODUCT_LINK):
        link = _text(values, block)
        if link and not _URL.match(link):
            errors[block] = "Enter a full link starting with https://"
        links[block] = link or None
    training = _typed_text(values, BlockId.TRAINING_NEED, errors, limit=MAX_LONG_TEXT, too_long=_KEEP_IT_UNDER)
    if errors:
        raise InvalidInput(errors)
    return Resolution(text, root_cause, _text(values, BlockId.KB_GAP) == "yes", links[BlockId.KB_ARTICLE],
                      training or None, links[BlockId.PRODUCT_LINK])


def parse_reason(values: dict, *, required: bool) -> str:
    errors: dict[str, str] = {}
    reason = _typed_text(values, BlockId.REASON, errors, limit=MAX_LONG_TEXT, too_long=_KEEP_IT_UNDER,
                         empty="Say why, so the next person knows." if required else None)
    if errors:
        raise InvalidInput(errors)
    return reason


def parse_deescalation(values: dict, policy: Policy, current_level: str) -> tuple[str, str]:
    errors: dict[str, str] = {}
    to_level = _text(values, BlockId.LEVEL)
    if to_level not in policy.deescalation_targets(current_level):
        errors[BlockId.LEVEL] = f"Choose a level below {policy.level_name(current_level)}."
    try:
        reason = parse_reason(values, required=True)
    except InvalidInput as invalid:
        errors.update(invalid.errors)
        reason = ""
    if errors:
        raise InvalidInput(errors)
    return to_level, reason
