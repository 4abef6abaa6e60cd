"""Global middleware: typed ticket context, and Slack event retries de-duplicated."""
from __future__ import annotations

import logging

from slack_bolt import BoltResponse

from bot.context import ActionContext
from bot.events import EventLedger
from bot.http.payloads import describe
from bot.logging_setup import add_log_context

log = logging.getLogger("escalator.handlers")


def ticket_context(body, context, next):
    """Parse our context from a button value or a modal's private_metadata, once.
    One we can't read (we never wrote it) is refused before any listener runs."""
    raw = None
    if body.get("type") == "block_actions" and body.get("actions"):
        raw = body["actions"][0].get("value")
    elif body.get("type") in ("view_submission", "view_closed"):
        raw = (body.get("view") or {}).get("private_metadata")
    ticket_context = ActionContext.read(raw)
    if ticket_context is None:
        log.warning("refused a %s request: its button value or private_metadata is not ours", describe(body))
        return BoltResponse(status=400, body="")
    context["ticket_context"] = ticket_context
    if ticket_context.ticket_id is not None:
        add_log_context(ticket=f"ESC-{ticket_context.ticket_id}", ticket_level=ticket_context.level)
    next()


def deduplicate_events(ledger: EventLedger):
    def deduplicate(body, next):
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not ledger.claim(event_id):
            log.info("event %s already handled; ignoring this delivery", event_id)
            return BoltResponse(status=200, body="")
        next()

    return deduplicate
