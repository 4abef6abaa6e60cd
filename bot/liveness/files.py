"""SQLite: a worker is alive while it holds an flock on its own file beside the database.

Chosen over refusing a second serving process on one SQLite file: it is the same rule as
PostgreSQL's advisory locks (a claim whose owner's lock can be taken belongs to a dead
process), so one take-over path serves both, and what runs beside `serve` on the same
file (`escalator db upgrade`, a second worker in tests or the demo) keeps working. The
kernel drops an flock when the process dies, kill -9 included. flock locks belong to an
open file, not to the process, so two workers in one process test each other correctly.

The files live in ``<database>-workers/``, one per worker id's key. A worker removes its
own on a clean stop; the process that takes over a dead worker's claims removes that
worker's file, and each start removes the files of workers that died holding nothing.
A database only in memory can't be shared between processes: its workers are tracked
in this process.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.liveness import key_of

log = logging.getLogger("escalator.liveness")


def liveness_for_sqlite(engine: Engine, worker_id: str):
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return InProcessLiveness(worker_id)
    return FileLockLiveness(Path(database).resolve().parent / f"{Path(database).name}-workers", worker_id)


class FileLockLiveness:
    def __init__(self, directory: Path, worker_id: str):
        self.directory = directory
        self.worker_id = worker_id
        self.key = key_of(worker_id)
        self._fd: int | None = None
        self._released = False  # a clean stop is final, as on PostgreSQL

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _path(self, key: int) -> Path:
        return self.directory / f"{key:016x}.lock"

    def hold(self) -> bool:
        if self._released:
            return False
        if self._fd is None:
            self.directory.mkdir(exist_ok=True)
            # locked before it is in place: a file found under a worker's name is locked
            # unless that worker is gone (another start's clean-up would remove it otherwise)
            path = self._path(self.key)
            pending = path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh random key: nobody else has it
            os.rename(pending, path)
            self._fd = fd
            self._remove_dead_files()
        return True

    def confirm(self, session: Session) -> bool:
        return self.held  # our own descriptor: the kernel can't take the lock from a live process

    def is_dead(self, session: Session, worker_id: str) -> bool:
        key = key_of(worker_id)
        if key is None or key == self.key:
            return False
        # missing: an owner creates its file before it claims, so a taker removed it
        return _probe(self._path(key)) != HELD

    def forget(self, worker_id: str) -> None:
        key = key_of(worker_id)
        if key is not None and key != self.key:
            self._path(key).unlink(missing_ok=True)

    def release(self) -> None:
        self._released = True
        if self._fd is not None:
            self._path(self.key).unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def _remove_dead_files(self) -> None:
        """Workers killed while holding no claims leave their file; nobody else would remove it."""
        for path in self.directory.glob("*.lock"):
            if path == self._path(self.key):
                continue
            try:  # removed while locked: no owner can come back to it
                _probe(path, while_free=lambda: path.unlink(missing_ok=True))
            except OSError:
                pass


MISSING, HELD, FREE = "missing", "held", "free"


def _probe(path: Path, while_free: Callable[[], None] | None = None) -> str:
    """Whether a worker's lock file is missing, held (its owner lives) or free (its owner
    is gone): a free lock is taken for the moment of the test, and `while_free` runs then."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return MISSING
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return HELD
            raise
        if while_free is not None:
            while_free()
        return FREE
    finally:
        os.close(fd)  # the lock taken for the test goes with the descriptor


_live_in_process: set[str] = set()
_live_lock = threading.Lock()


class InProcessLiveness:
    """An in-memory database lives and dies with this process: its workers are the ones
    holding a place in this set."""

    def __init__(self, worker_id: str):
        self.worker_id = worker_id
        self._released = False

    @property
    def held(self) -> bool:
        return self.worker_id in _live_in_process

    def hold(self) -> bool:
        if self._released:
            return False
        with _live_lock:
            _live_in_process.add(self.worker_id)
        return True

    def confirm(self, session: Session) -> bool:
        return self.held

    def is_dead(self, session: Session, worker_id: str) -> bool:
        if key_of(worker_id) is None or worker_id == self.worker_id:
            return False
        with _live_lock:
            return worker_id not in _live_in_process

    def forget(self, worker_id: str) -> None:
        pass

    def release(self) -> None:
        self._released = True
        with _live_lock:
            _live_in_process.discard(self.worker_id)
