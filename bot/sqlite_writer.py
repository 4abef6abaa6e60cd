"""Write transactions on SQLite, one at a time per process, committed in groups.

SQLite lets one writer in at a time, and a durable commit costs an fsync (1-4 ms on
the machines we measured, more than the write itself). So every write transaction
of a process takes its turn on one connection, each unit of work inside its own
SAVEPOINT; a unit that ends while others wait for their turn leaves the COMMIT to the
last of those (the units queued when the group opened, at most MAX_GROUP of them or
MAX_GROUP_SECONDS; later arrivals form the next group), and each caller
returns only once the COMMIT that holds its writes is done. One fsync then makes a
whole burst of acknowledgments durable, and nothing is acknowledged before it is on
disk. A unit that fails rolls back its savepoint alone.
"""
from __future__ import annotations

import threading
import time
import weakref
from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

MAX_GROUP = 32  # units per COMMIT
MAX_GROUP_SECONDS = 0.02  # a group older than this commits at the next unit's end

# Called with each unit's session.info once its group is committed (the outbox wakes its
# workers here: rows of a unit are not visible to other connections before that).
after_durable_commit: list[Callable[[dict], None]] = []


class _Group:
    """The open SQLite transaction and the units waiting for its COMMIT."""

    def __init__(self, connection: Connection, capacity: int):
        self.connection = connection
        self.transaction = connection.begin()
        self.opened = time.monotonic()
        self.capacity = capacity  # the units queued when it opened: later ones form the next group
        self.turns = 0
        self.units: list[dict] = []  # session.info of each unit that succeeded
        self.done = threading.Event()
        self.error: BaseException | None = None

    def finish(self) -> None:
        try:
            if self.units:
                self.transaction.commit()
            elif self.transaction.is_active:  # a unit alone in the group has rolled it back itself
                self.transaction.rollback()  # every unit failed or wrote nothing
        except BaseException as exc:  # the members' writes are lost; each of them raises it
            self.error = exc
            self.connection.invalidate()  # SQLite may keep the failed transaction open: drop it
        finally:
            self.connection.close()
            self.done.set()
        if self.error is None:
            for info in self.units:
                for hook in after_durable_commit:
                    hook(info)


class SqliteWriter:
    def __init__(self, engine: Engine, write_option: str):
        self._engine = engine
        self._write_option = write_option
        self._turn = threading.Lock()
        self._counter = threading.Lock()
        self._waiting = 0  # threads queued for the turn
        self._group: _Group | None = None
        self._holder = threading.local()

    @contextmanager
    def unit(self, sessions: sessionmaker[Session]) -> Iterator[Session]:
        if getattr(self._holder, "group", None) is not None:
            # a transaction opened inside another one in this thread: a savepoint within it
            with self._session(sessions, self._holder.group) as session:
                yield session
            return
        with self._counter:
            self._waiting += 1
        try:
            self._turn.acquire()
        finally:
            with self._counter:
                self._waiting -= 1
        try:
            group = self._group = self._group or self._open()
            self._holder.group = group
            try:
                # alone in its group (no one was queued when it opened): the group's COMMIT or
                # ROLLBACK is this unit's, so it needs no savepoint of its own
                alone = group.capacity == 1
                with self._session(sessions, group, alone=alone) as session:
                    yield session
            finally:
                self._holder.group = None
        finally:
            self._end_turn()
        group.done.wait()
        if group.error is not None:
            raise group.error

    @contextmanager
    def _session(self, sessions: sessionmaker[Session], group: _Group, *, alone: bool = False) -> Iterator[Session]:
        session = sessions(bind=group.connection,
                           join_transaction_mode="rollback_only" if alone else "create_savepoint")
        try:
            yield session
            info = dict(session.info)
            session.info.clear()  # what it asks for after a commit waits for the group's
            session.commit()  # RELEASE SAVEPOINT (alone: a flush; the group commits)
            group.units.append(info)
        except BaseException:
            session.rollback()  # ROLLBACK TO SAVEPOINT: this unit only (alone: the group's ROLLBACK)
            raise
        finally:
            session.close()

    def _open(self) -> _Group:
        with self._counter:
            queued = self._waiting
        connection = self._engine.connect().execution_options(**{self._write_option: True})
        try:
            return _Group(connection, capacity=min(MAX_GROUP, 1 + queued))
        except BaseException:  # BEGIN IMMEDIATE failed (another process held the lock too long)
            connection.close()
            raise

    def _end_turn(self) -> None:
        """Commit the group once the units queued when it opened have had their turn (or no
        one else waits): a unit waits for at most one round of the queue. Then pass the turn."""
        try:
            group = self._group
            if group is not None:
                group.turns += 1
                with self._counter:
                    others = self._waiting
                if (not others or group.turns >= group.capacity
                        or time.monotonic() - group.opened >= MAX_GROUP_SECONDS):
                    self._group = None
                    group.finish()
        finally:
            self._turn.release()


_writers: weakref.WeakKeyDictionary[Engine, SqliteWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def writer_for(engine: Engine, write_option: str) -> SqliteWriter:
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None:
            writer = _writers[engine] = SqliteWriter(engine, write_option)
        return writer
