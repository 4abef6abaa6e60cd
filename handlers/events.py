"""Events: replies in a briefing's thread, and the App Home tab being opened."""
from __future__ import annotations

import logging

from bot.runtime import Runtime
from handlers.middleware import deduplicate_events

log = logging.getLogger("escalator.handlers")

# Message events that aren't a person writing something new.
IGNORED_SUBTYPES = {"bot_message", "message_changed", "message_deleted", "channel_join", "channel_leave"}


def register(app, runtime: Runtime) -> None:
    desk, home = runtime.desk, runtime.home
    # per listener, not global: an event no listener takes leaves no trace in the ledger
    once = [deduplicate_events(runtime.events)]

    def acked_then_handled(listener):
        """Ack at once; if handling fails, forget the event id so Slack's retry can redo it."""

        def wrapper(event, body, ack):
            ack()
            try:
                listener(event)
            except Exception:
                log.exception("could not handle %s event %s", event.get("type"), body.get("event_id"))
                runtime.events.release(body.get("event_id", ""))
                return
            runtime.events.handled(body.get("event_id", ""))

        wrapper.__name__ = listener.__name__
        return wrapper

    @app.event("message", middleware=once)
    @acked_then_handled
    def thread_reply(event):
        if event.get("subtype") == "message_changed":
            edited = event.get("message") or {}
            if edited.get("user") and not edited.get("bot_id"):
                desk.note_edited(event["channel"], edited.get("ts", ""), edited.get("text", ""))
            return
        thread_ts, user, ts = event.get("thread_ts"), event.get("user"), event.get("ts")
        if (not thread_ts or not ts or thread_ts == ts or not user or event.get("bot_id")
                or event.get("subtype") in IGNORED_SUBTYPES):
            return
        desk.reply_in_thread(event["channel"], thread_ts, user, event.get("text", ""), ts)

    @app.event("app_home_opened", middleware=once)
    @acked_then_handled
    def home_opened(event):
        if event.get("tab", "home") == "home":
            home.publish(event["user"])
