"""Request latency by kind and handler, measured around Bolt's dispatch: the same for
HTTP (bot.http) and Socket Mode (bot.socket_mode), from the parsed request to the answer."""
from __future__ import annotations

import time

from slack_bolt import App, BoltRequest, BoltResponse

from bot.logging_setup import log_context
from bot.metrics import Metrics

_KINDS = {"block_actions": "action", "view_submission": "view", "view_closed": "view",
          "shortcut": "shortcut", "message_action": "shortcut", "event_callback": "event",
          "block_suggestion": "options"}


def kind_and_handler(body: dict) -> tuple[str, str]:
    """What Bolt routed on. The handler is only used as a label when a listener took the
    request (our own ids, a fixed set); see MeasuredApp."""
    if "command" in body:
        return "command", str(body["command"])
    kind = _KINDS.get(str(body.get("type")), "other")
    if kind == "action":
        return kind, str((body.get("actions") or [{}])[0].get("action_id"))
    if kind == "view":
        return kind, str((body.get("view") or {}).get("callback_id"))
    if kind == "event":
        return kind, str((body.get("event") or {}).get("type"))
    return kind, str(body.get("callback_id") or body.get("type"))


class MeasuredApp(App):
    """Bolt's App, timing each dispatch. A request no listener took, or one refused
    (4xx: a value we never wrote), is labelled `unhandled`, so a sender can't mint
    label values."""

    metrics: Metrics | None = None

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        started = time.perf_counter()
        kind, handler = kind_and_handler(req.body) if isinstance(req.body, dict) else ("other", "other")
        with log_context(event=f"{kind} {handler}"):  # the ticket is added once parsed (handlers.middleware)
            response = super().dispatch(req)
        if self.metrics is not None:
            self.metrics.request(kind, "unhandled" if 400 <= response.status < 500 else handler,
                                 time.perf_counter() - started)
        return response
