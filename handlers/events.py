"""Events: replies in a briefing's thread, the App Home tab being opened, and a user
group's members changing."""
from __future__ import annotations

import logging

from bot.runtime import Runtime
from bot.thread_messages import person_in_thread
from handlers.middleware import deduplicate_events

log = logging.getLogger("escalator.handlers")


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
        message = person_in_thread(event)
        if message is None:
            return
        if message.edited:
            desk.note_edited(message.channel, message.ts, message.text)
        else:
            desk.reply_in_thread(message.channel, message.thread_ts, message.user, message.text, message.ts)

    @app.event("app_home_opened", middleware=once)
    @acked_then_handled
    def home_opened(event):
        if event.get("tab", "home") == "home":
            home.publish(event["user"])

    @app.event("subteam_members_changed", middleware=once)
    @acked_then_handled
    def user_group_changed(event):
        runtime.coverage.rosters.members_changed(event)
