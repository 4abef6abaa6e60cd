"""Events: a level member's reply in a briefing's thread acknowledges the ticket."""
from __future__ import annotations

from bot.runtime import Runtime

IGNORED_SUBTYPES = {"bot_message", "message_changed", "message_deleted", "channel_join", "channel_leave"}


def register(app, runtime: Runtime) -> None:
    desk = runtime.desk

    @app.event("message")
    def thread_reply(event, body, ack, logger):
        ack()
        thread_ts, user = event.get("thread_ts"), event.get("user")
        if (not thread_ts or thread_ts == event.get("ts") or not user or event.get("bot_id")
                or event.get("subtype") in IGNORED_SUBTYPES):
            return
        try:
            desk.acknowledge_by_reply(event["channel"], thread_ts, user)
        except Exception:
            logger.exception("could not handle a reply in %s; Slack's retry may", event["channel"])
            runtime.events.release(body.get("event_id", ""))
