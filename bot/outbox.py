"""Recording what the bot owes Slack, in the caller's transaction.

Nothing is sent here: rows are delivered by bot.delivery after the commit, so a
state change and the messages it causes are stored together or not at all.
"""
from __future__ import annotations

import threading

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import OutboxMessage, OutboxStatus, SlackMessage

# Written in a template where the permalink of another message belongs; `<` can't
# come from user text (it is escaped), so this can't be forged.
LINK_PLACEHOLDER = "<escalator:link|"

class Wake:
    """A worker's wake-up call: set by a commit that added outbox rows, with the channels
    they are for (or None: anything may be due, e.g. a send finished)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._channels: set[str] | None = set()

    def set(self, channels: set[str] | None = None) -> None:
        with self._lock:
            if channels is None or self._channels is None:
                self._channels = None
            else:
                self._channels |= channels
            self._event.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def take(self) -> set[str] | None:
        """Clear the call; the channels of the rows it was for (None: anything)."""
        with self._lock:
            channels, self._channels = self._channels, set()
            self._event.clear()
            return channels

    def clear(self) -> None:
        self.take()


# Each worker in this process subscribes; a commit that added outbox rows wakes them at once.
_subscribers: list[Wake] = []


def subscribe() -> Wake:
    wake = Wake()
    _subscribers.append(wake)
    return wake


def unsubscribe(wake: Wake) -> None:
    if wake in _subscribers:
        _subscribers.remove(wake)


def _mark_dirty(session: Session, *channels: str) -> None:
    session.info.setdefault("outbox_channels", set()).update(channels)


@event.listens_for(Session, "after_commit")
def _wake_worker(session: Session) -> None:
    channels = session.info.pop("outbox_channels", None)
    if channels:
        for wake in list(_subscribers):
            wake.set(channels)


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
    if thread is not None and thread.id is None:
        session.flush()  # the order key names the thread's root
    message = SlackMessage(ticket_id=ticket_id, level=level, role=role, channel=channel)
    row = OutboxMessage(
        ticket_id=ticket_id,
        method="chat.postMessage",
        channel=channel,
        order_key=f"thread:{thread.id}" if thread else f"channel:{channel}",
        message=message,
        thread_message=thread,
        link_message=link_to,
        payload=payload,
        dedupe_key=dedupe_key,
    )
    if dedupe_key is None:
        session.add_all([message, row])
    else:
        try:
            with session.begin_nested():
                session.add_all([message, row])
                session.flush()
        except IntegrityError:
            return None
    _mark_dirty(session, channel)
    return message


def update(session: Session, *, message: SlackMessage, payload: dict, ticket_id: int | None = None,
           link_to: SlackMessage | None = None) -> None:
    """Owe Slack a chat.update of a message we posted (sent after the post itself).

    A payload {"render": name, ...} is rendered by the worker when it sends, from the
    state at that moment; then one pending update of a message stands for all."""
    if message.id is None:
        session.flush()
    if "render" in payload:
        pending = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.order_key == f"update:{message.id}",
                                           OutboxMessage.status == OutboxStatus.PENDING,
                                           OutboxMessage.lease_until.is_(None)))
        if pending is not None:
            return
    session.add(
        OutboxMessage(
            ticket_id=ticket_id,
            method="chat.update",
            channel=message.channel,
            order_key=f"update:{message.id}",
            message=message,
            link_message=link_to,
            payload=payload,
        )
    )
    _mark_dirty(session, message.channel)


def publish_home(session: Session, *, user_id: str, view: dict) -> None:
    """Owe Slack a views.publish; a pending publish for the same user is replaced,
    so a burst of changes costs Slack one call."""
    pending = session.scalars(
        select(OutboxMessage).where(OutboxMessage.order_key == f"home:{user_id}",
                                    OutboxMessage.status == OutboxStatus.PENDING,
                                    OutboxMessage.lease_until.is_(None))
        .with_for_update(skip_locked=True)
    ).first()
    payload = view if "render" in view else {"view": view}
    if pending is not None:
        pending.payload = payload
    else:
        session.add(OutboxMessage(method="views.publish", channel=user_id, order_key=f"home:{user_id}",
                                  payload=payload))
    _mark_dirty(session, user_id)
