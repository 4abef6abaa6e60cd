"""Recording what the bot owes Slack, in the caller's transaction.

Nothing is sent here: rows are delivered by bot.delivery after the commit, so a
state change and the messages it causes are stored together or not at all.
"""
from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import OutboxMessage, SlackMessage

# Written in a template where the permalink of another message belongs; `<` can't
# come from user text (it is escaped), so this can't be forged.
LINK_PLACEHOLDER = "<escalator:link|"

# Set after a commit that added outbox rows, so this process's worker wakes at once.
new_rows = threading.Event()


def _mark_dirty(session: Session) -> None:
    session.info["outbox_dirty"] = True


@event.listens_for(Session, "after_commit")
def _wake_worker(session: Session) -> None:
    if session.info.pop("outbox_dirty", False):
        new_rows.set()


def post(
    session: Session,
    *,
    channel: str,
    payload: dict,
    role: str,
    ticket_id: int | None = None,
    level: str | None = None,
    thread: SlackMessage | None = None,
    link_to: SlackMessage | None = None,
    dedupe_key: str | None = None,
) -> SlackMessage | None:
    """Owe Slack a chat.postMessage; returns the message it will become.

    With a dedupe_key the message is owed at most once, ever: a second call with
    the same key (here or in another process) records nothing and returns None.
    """
    with session.begin_nested() as savepoint:
        message = SlackMessage(ticket_id=ticket_id, level=level, role=role, channel=channel)
        session.add(message)
        session.flush()
        row = OutboxMessage(
            ticket_id=ticket_id,
            method="chat.postMessage",
            channel=channel,
            order_key=f"thread:{thread.id}" if thread else f"channel:{channel}",
            message_id=message.id,
            thread_message_id=thread.id if thread else None,
            link_message_id=link_to.id if link_to else None,
            payload=payload,
            dedupe_key=dedupe_key,
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            if dedupe_key is None:
                raise
            savepoint.rollback()
            return None
    _mark_dirty(session)
    return message


def update(session: Session, *, message: SlackMessage, payload: dict, ticket_id: int | None = None,
           link_to: SlackMessage | None = None) -> None:
    """Owe Slack a chat.update of a message we posted (sent after the post itself)."""
    session.add(
        OutboxMessage(
            ticket_id=ticket_id,
            method="chat.update",
            channel=message.channel,
            order_key=f"update:{message.id}",
            message_id=message.id,
            link_message_id=link_to.id if link_to else None,
            payload=payload,
        )
    )
    _mark_dirty(session)
