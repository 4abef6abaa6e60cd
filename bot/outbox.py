"""Recording what the bot owes Slack, in the caller's transaction.

Nothing is sent here: rows are delivered by bot.delivery after the commit, so a
state change and the messages it causes are stored together or not at all.
"""
from __future__ import annotations

import threading
from datetime import datetime
from typing import Iterable, NamedTuple, Sequence

from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import Insert, UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlalchemy.orm import Session

from bot import sqlite_writer
from bot.models import PENDING, OutboxFile, OutboxMessage, SlackMessage, utcnow

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


def _wake_for(info: dict) -> None:
    channels = info.pop("outbox_channels", None)
    if channels:
        for wake in list(_subscribers):
            wake.set(channels)


@event.listens_for(Session, "after_commit")
def _wake_worker(session: Session) -> None:
    _wake_for(session.info)


# on SQLite a unit's rows become visible when its group commits, after its session's commit
sqlite_writer.after_durable_commit.append(_wake_for)


class MessageRef(NamedTuple):
    """A ticket's Slack message as the write path passes it around: a plain row, not an
    ORM object, so owing Slack a message costs a statement or two and no flush."""

    id: int
    ticket_id: int | None
    level: str | None
    role: str
    channel: str
    ts: str | None = None
    permalink: str | None = None
    created_at: datetime | None = None


# Core statements, built once: the busiest writes (every acknowledgment owes four rows) must
# not pay for the ORM's unit of work.
_MESSAGES = SlackMessage.__table__
_OUTBOX = OutboxMessage.__table__
# RETURNING rows come back in no promised order, and asking SQLAlchemy to sort them costs a
# statement per row on SQLite: each carries the columns that tell which message it is.
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, _MESSAGES.c.ticket_id, _MESSAGES.c.level,
                                               _MESSAGES.c.role, _MESSAGES.c.channel)
_INSERT_ROW = insert(_OUTBOX)
# A payload {"render": name, ...} is rendered when sent, from the state at that moment, so
# one pending row of an order key stands for every change after it: this statement owes
# one unless such a row waits unclaimed. A row a claim has locked (PostgreSQL) may be about
# to be leased and rendered, so it counts as claimed: the change gets its own row rather
# than wait for that claim (at worst one extra call, never a lost change).
_RENDERED_COLUMNS = ("ticket_id", "method", "channel", "order_key", "message_id", "link_message_id", "payload",
                     "created_at", "not_before")


def _owe_rendered(status) -> Insert:
    unclaimed_pending = (select(_OUTBOX.c.id)
                         .where(_OUTBOX.c.order_key == bindparam("order_key"), status == PENDING,
                                _OUTBOX.c.lease_until.is_(None))
                         .with_for_update(skip_locked=True))
    return insert(_OUTBOX).from_select(
        _RENDERED_COLUMNS,
        select(*(bindparam(name, type_=_OUTBOX.c[name].type) for name in _RENDERED_COLUMNS))
        .where(~unclaimed_pending.exists()))


# by dialect. SQLite (no statistics) looked the pending row up through ix_outbox_due, on
# status, reading every pending row: "+status" keeps it on the order_key index. Pending rows
# are few while Slack answers, but pile up in an outage, and in a simulation (nothing is
# ever sent) each owed update read the whole outbox: simulate grew with the square of tickets.
_OWE_RENDERED = {
    "postgresql": _owe_rendered(_OUTBOX.c.status),
    "sqlite": _owe_rendered(UnaryExpression(_OUTBOX.c.status, operator=custom_op("+"), type_=_OUTBOX.c.status.type)),
}
REF_COLUMNS = (_MESSAGES.c.id, _MESSAGES.c.ticket_id, _MESSAGES.c.level, _MESSAGES.c.role, _MESSAGES.c.channel,
               _MESSAGES.c.ts, _MESSAGES.c.permalink, _MESSAGES.c.created_at)


def ref(row) -> MessageRef | None:
    return None if row is None else MessageRef(*row)


class Post(NamedTuple):
    """A chat.postMessage owed (see post)."""

    channel: str
    payload: dict
    role: str
    ticket_id: int | None = None
    level: str | None = None
    thread: MessageRef | SlackMessage | None = None
    link_to: MessageRef | SlackMessage | None = None
    dedupe_key: str | None = None


class Update(NamedTuple):
    """A chat.update owed (see update)."""

    message: MessageRef | SlackMessage
    payload: dict
    ticket_id: int | None = None
    link_to: MessageRef | SlackMessage | None = None


def post(
    session: Session,
    *,
    channel: str,
    payload: dict,
    role: str,
    ticket_id: int | None = None,
    level: str | None = None,
    thread: MessageRef | SlackMessage | None = None,
    link_to: MessageRef | SlackMessage | None = None,
    dedupe_key: str | None = None,
) -> MessageRef | None:
    """Owe Slack a chat.postMessage; returns the message it will become.

    With a dedupe_key the message is owed at most once, ever: a second call with
    the same key (here or in another process) records nothing and returns None.
    """
    message = Post(channel, payload, role, ticket_id, level, thread, link_to, dedupe_key)
    if message.dedupe_key is None:
        return post_all(session, [message])[0]
    try:
        with session.begin_nested():
            return post_all(session, [message])[0]
    except IntegrityError:
        return None


def post_all(session: Session, posts: Sequence[Post]) -> list[MessageRef]:
    """Owe Slack several messages with two statements; the messages they will become."""
    if not posts:
        return []
    session.flush()  # ORM rows they name (a new ticket) go first
    now = utcnow()
    connection = session.connection()  # asked for inside the caller's savepoint, so it is emitted
    inserted = connection.execute(_INSERT_MESSAGES, [
        {"ticket_id": p.ticket_id, "level": p.level, "role": p.role, "channel": p.channel, "created_at": now}
        for p in posts]).all()
    # each post gets a row with its columns; rows alike in every column are interchangeable
    # and go in id order
    ids_by_columns: dict[tuple, list[int]] = {}
    for row in sorted(inserted, key=lambda row: row.id):
        ids_by_columns.setdefault((row.ticket_id, row.level, row.role, row.channel), []).append(row.id)
    message_ids = [ids_by_columns[(p.ticket_id, p.level, p.role, p.channel)].pop(0) for p in posts]
    connection.execute(_INSERT_ROW, [{
        "ticket_id": p.ticket_id, "method": "chat.postMessage", "channel": p.channel,
        "order_key": f"thread:{p.thread.id}" if p.thread else f"channel:{p.channel}",
        "message_id": message_id, "thread_message_id": p.thread.id if p.thread else None,
        "link_message_id": p.link_to.id if p.link_to else None, "payload": p.payload, "dedupe_key": p.dedupe_key,
        "created_at": now, "not_before": now,
    } for p, message_id in zip(posts, message_ids)])
    _mark_dirty(session, *(p.channel for p in posts))
    return [MessageRef(message_id, p.ticket_id, p.level, p.role, p.channel, created_at=now)
            for p, message_id in zip(posts, message_ids)]


def update(session: Session, *, message: MessageRef | SlackMessage, payload: dict, ticket_id: int | None = None,
           link_to: MessageRef | SlackMessage | None = None) -> None:
    """Owe Slack a chat.update of a message we posted (sent after the post itself).

    A payload {"render": name, ...} is rendered by the worker when it sends, from the
    state at that moment; then one pending update of a message stands for all."""
    update_all(session, [Update(message, payload, ticket_id, link_to)])


def update_all(session: Session, updates: Sequence[Update]) -> None:
    if not updates:
        return
    session.flush()
    now = utcnow()
    runs: list[tuple[bool, list[dict]]] = []  # in order, each run rendered when sent or not
    for u in updates:
        rendered = "render" in u.payload
        if not runs or runs[-1][0] != rendered:
            runs.append((rendered, []))
        runs[-1][1].append({
            "ticket_id": u.ticket_id, "method": "chat.update", "channel": u.message.channel,
            "order_key": f"update:{u.message.id}", "message_id": u.message.id,
            "link_message_id": u.link_to.id if u.link_to else None, "payload": u.payload, "created_at": now,
            "not_before": now})
    connection = session.connection()
    for rendered, rows in runs:
        connection.execute(_OWE_RENDERED[connection.dialect.name] if rendered else _INSERT_ROW, rows)
    _mark_dirty(session, *(u.message.channel for u in updates))


def publish_homes(session: Session, user_ids: Iterable[str]) -> None:
    """Owe Slack a views.publish of each user's Home, rendered when sent; a pending one
    for the same user stands for it, so a burst of changes costs Slack one call."""
    now = utcnow()
    rows = [{"ticket_id": None, "method": "views.publish", "channel": user_id, "order_key": f"home:{user_id}",
             "message_id": None, "link_message_id": None, "payload": {"render": "home", "user_id": user_id},
             "created_at": now, "not_before": now} for user_id in sorted(set(user_ids))]
    if rows:
        connection = session.connection()
        connection.execute(_OWE_RENDERED[connection.dialect.name], rows)
        _mark_dirty(session, *(row["channel"] for row in rows))


SHARE_FILES = "files.completeUploadExternal"


class FileToShare(NamedTuple):
    filename: str
    title: str
    content: bytes
    alt_text: str = ""


def share_files(session: Session, *, channel: str, files: Sequence[FileToShare], initial_comment: str,
                thread: MessageRef | SlackMessage | None = None, ticket_id: int | None = None) -> int:
    """Owe Slack files shared as one message in `channel` (in `thread` when given, after
    its root is posted): each file's upload URL and bytes, then files.completeUploadExternal.
    The files are stored with the row; bot.slack_upload records each step. Returns the row id."""
    if not files:
        raise ValueError("share_files needs at least one file")
    session.flush()
    now = utcnow()
    row = OutboxMessage(ticket_id=ticket_id, method=SHARE_FILES, channel=channel,
                        order_key=f"thread:{thread.id}" if thread else f"channel:{channel}",
                        thread_message_id=thread.id if thread else None,
                        payload={"initial_comment": initial_comment}, created_at=now, not_before=now)
    session.add(row)
    session.flush()
    session.add_all(OutboxFile(outbox_id=row.id, position=position, filename=f.filename, title=f.title,
                               alt_text=f.alt_text, content=f.content) for position, f in enumerate(files))
    _mark_dirty(session, channel)
    return row.id
