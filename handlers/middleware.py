"""Global middleware: typed ticket context, and Slack event retries de-duplicated."""
from __future__ import annotations

import logging

from slack_bolt import BoltResponse

from bot.context import ActionContext
from bot.events import EventLedger

log = logging.getLogger("escalator.handlers")


def ticket_context(body, context, next):
    """Parse our context from a button value or a modal's private_metadata, once."""
    raw = None
    if body.get("type") == "block_actions" and body.get("actions"):
        raw = body["actions"][0].get("value")
    elif body.get("type") in ("view_submission", "view_closed"):
        raw = (body.get("view") or {}).get("private_metadata")
    context["ticket_context"] = ActionContext.decode(raw)
    next()


def deduplicate_events(ledger: EventLedger):
    def deduplicate(body, next):
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not ledger.claim(event_id):
            log.info("event %s already handled; ignoring this delivery", event_id)
            return BoltResponse(status=200, body="")
        next()

    return deduplicate
