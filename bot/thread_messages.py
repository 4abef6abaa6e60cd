"""Which Slack message events are a person writing in a ticket's thread: a new reply, or
an edit of one. Bots, joins, deletions and root messages are not."""
from __future__ import annotations

from dataclasses import dataclass

# Message events that aren't a person writing something new.
IGNORED_SUBTYPES = {"bot_message", "message_changed", "message_deleted", "channel_join", "channel_leave"}


@dataclass(frozen=True)
class ThreadMessage:
    channel: str
    thread_ts: str  # the briefing's ts; empty for an edit (found by the message's own ts)
    user: str
    text: str
    ts: str
    edited: bool = False


def person_in_thread(event: dict) -> ThreadMessage | None:
    """The person's reply or edit this event carries, or None for anything else."""
    if event.get("subtype") == "message_changed":
        edited = event.get("message") or {}
        if not edited.get("user") or edited.get("bot_id"):
            return None
        return ThreadMessage(event["channel"], "", edited["user"], edited.get("text", ""), edited.get("ts", ""),
                             edited=True)
    thread_ts, user, ts = event.get("thread_ts"), event.get("user"), event.get("ts")
    if (not thread_ts or not ts or thread_ts == ts or not user or event.get("bot_id")
            or event.get("subtype") in IGNORED_SUBTYPES):
        return None
    return ThreadMessage(event["channel"], thread_ts, user, event.get("text", ""), ts)
