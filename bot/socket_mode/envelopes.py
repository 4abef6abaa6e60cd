"""An envelope from a Socket Mode connection, run through the Bolt app; the answer is its ack.

Each envelope is claimed in the event ledger by its envelope_id before it runs, so one
delivered twice (Slack's retry after a missing ack, on the other connection during a
refresh, or to another process) has one effect. Events keep their event_id claim too.
"""
from __future__ import annotations

import json
import logging

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.events import EventLedger
from bot.http import payloads

log = logging.getLogger("escalator.socket_mode")


class EnvelopeHandler:
    def __init__(self, app: App, ledger: EventLedger):
        self.app = app
        self.ledger = ledger

    def __call__(self, envelope: dict) -> dict | None:
        """The ack to send, or None to leave the envelope un-acked so Slack retries it
        (as a failed HTTP request would be)."""
        envelope_id = str(envelope["envelope_id"])
        # An event is de-duplicated by its event_id in its listener, where a dead process's
        # claim is taken over (handling an event again changes nothing twice). An interaction
        # is not idempotent (a submission handled again opens a second ticket): its envelope
        # is claimed once, and a dead process's claim stands.
        claim = None if envelope.get("type") == "events_api" else f"envelope:{envelope_id}"
        if claim is not None and not self.ledger.claim(claim, take_over=False):
            log.info("envelope %s already handled; acking this delivery only", envelope_id)
            return {"envelope_id": envelope_id}
        body = envelope.get("payload") or {}
        problem = payloads.problem(body)
        if problem:  # the shape check HTTP requests get, before Bolt routes it; refused for good
            log.warning("refused a malformed Socket Mode envelope %s (%s): %s", envelope_id,
                        payloads.describe(body), problem)
            return {"envelope_id": envelope_id}
        try:
            response = self.app.dispatch(BoltRequest(mode="socket_mode", body=body,
                                                     headers=_retry_headers(envelope)))
        except Exception:
            log.exception("could not handle %s envelope %s", envelope.get("type"), envelope_id)
            response = None
        if response is None or response.status >= 500:
            if claim is not None:
                self.ledger.release(claim)
            if response is not None:
                log.info("envelope %s (%s) not acked: status %s", envelope_id, envelope.get("type"), response.status)
            return None
        if response.status != 200:
            # refused for good (an unknown action, a value we never wrote; already logged once):
            # acked, so Slack doesn't deliver it again to be refused again
            return {"envelope_id": envelope_id}
        return {"envelope_id": envelope_id, **_ack_payload(response)}


def _retry_headers(envelope: dict) -> dict | None:
    """What HTTP mode's retry headers say, so listeners see Slack's retries alike."""
    if not envelope.get("retry_attempt"):
        return None
    return {"x-slack-retry-num": str(envelope["retry_attempt"]),
            "x-slack-retry-reason": str(envelope.get("retry_reason") or "")}


def _ack_payload(response: BoltResponse) -> dict:
    if not response.body:
        return {}
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json"):
        return {"payload": json.loads(response.body)}
    return {"payload": {"text": response.body}}
