"""Which processes are alive, so work claimed by a dead one is taken over at once.

Each outbox worker has an id of the form ``host:pid:L<key>`` (stored in
``outbox.claimed_by``) and, for as long as it lives, holds a lock named by ``<key>``
that the operating system or the database server releases when the process dies:

- PostgreSQL: a session-level advisory lock on a dedicated connection (bot.liveness.postgres);
- SQLite: an ``flock`` on a file per worker beside the database (bot.liveness.files).

A claim whose owner's lock can be taken belongs to a dead process; nothing is guessed
from heartbeats or clocks. The outbox lease stays as the last resort for an owner that
is alive but can't be reached.

The key is 63 random bits carried in the id itself, not a hash of it nor a row of a
workers table: nothing to register or clean up, no migration, and an id without the
``L`` marker (a process of an earlier version, mid rolling upgrade) has no key, so its
claims are left to the lease rather than taken from a process that may be alive. Two
ids share a key with probability 2^-63 per pair, and a shared key can only make a dead
owner look alive (its claims then wait for the lease), never the other way round.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

_KEY = re.compile(r":L([0-9a-f]{16})$")


def new_worker_id() -> str:
    """host:pid:L<16 hex digits> — fits outbox.claimed_by (80 characters)."""
    key = secrets.randbits(63)
    return f"{socket.gethostname()[:50]}:{os.getpid()}:L{key:016x}"


def key_of(worker_id: str | None) -> int | None:
    """The liveness key a worker id carries; None for ids without one."""
    match = _KEY.search(worker_id or "")
    return int(match[1], 16) if match else None


class Liveness(Protocol):
    """One worker's lock, and the test of other workers' locks."""

    worker_id: str

    def hold(self) -> bool:
        """Take (or re-take) this worker's lock; True while it is held."""

    @property
    def held(self) -> bool:
        """Whether this worker's lock is held now (False before hold() and once lost)."""

    def confirm(self, session: Session) -> bool:
        """Whether this worker's lock is held now, asked of whatever keeps it (PostgreSQL's
        pg_locks), not the cached `held`: a lock lost a moment ago reads False at once."""

    def is_dead(self, session: Session, worker_id: str) -> bool:
        """Whether the owner of `worker_id` is gone: its lock can be taken. In `session`'s
        transaction, so on PostgreSQL the test lasts until that transaction ends."""

    def forget(self, worker_id: str) -> None:
        """A dead worker's claims were taken over: clean up what its lock left behind."""

    def release(self) -> None:
        """Let go of this worker's lock (a clean stop)."""


def liveness_for(engine: Engine, worker_id: str | None = None) -> Liveness:
    worker_id = worker_id or new_worker_id()
    if engine.dialect.name == "postgresql":
        from bot.liveness.postgres import AdvisoryLockLiveness

        return AdvisoryLockLiveness(engine, worker_id)
    from bot.liveness.files import liveness_for_sqlite

    return liveness_for_sqlite(engine, worker_id)
