"""PostgreSQL: a worker is alive while its session-level advisory lock is held.

The lock lives on a dedicated connection, opened outside the pool and kept open for the
worker's life: when the process dies its socket closes, the server ends the session and
releases the lock at once. That connection must reach PostgreSQL itself (or a pool in
session mode): behind PgBouncer in transaction mode the lock would stay with a server
connection that other clients go on using, so a dead process would look alive, and a
check run on that same server connection would see a live one as dead. The pooled
connections the bot does its work on may go through any pooler: the check, in
is_dead, is a transaction-level lock.

The server is also told to probe the connection (TCP keepalives, ~25 s), so a host that
vanished without closing its sockets is noticed long before the outbox lease ends.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from bot.liveness import key_of

log = logging.getLogger("escalator.liveness")

PING_INTERVAL = 2.0  # seconds between checks that the lock's connection is still there
# the client gives up on a silent server within ~11 s, and the server on a silent client
# within ~25 s: a process cut off notices (and stops claiming) before others take over
_CLIENT_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
                      "tcp_user_timeout": 10_000, "connect_timeout": 5}
_SERVER_KEEPALIVES = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5", "SET tcp_keepalives_count = 3")


# a session advisory lock on one bigint key: classid holds its high 32 bits, objid the low
_LOCK_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted "
    "AND pid = :pid AND ((classid::bigint << 32) | objid::bigint) = :key)")


class AdvisoryLockLiveness:
    def __init__(self, engine: Engine, worker_id: str):
        self.worker_id = worker_id
        self.key = key_of(worker_id)
        self._engine = create_engine(engine.url, poolclass=NullPool, connect_args=_CLIENT_KEEPALIVES)
        self._connection: Connection | None = None
        self._backend_pid: int | None = None  # the lock connection's server process
        self._held = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._held

    def hold(self) -> bool:
        with self._lock:
            if not self._held and not self._stop.is_set():
                self._connect()
        if (self._watch is None or not self._watch.is_alive()) and not self._stop.is_set():
            self._watch = threading.Thread(target=self._keep, name="liveness", daemon=True)
            self._watch.start()
        return self._held

    def _connect(self) -> None:
        self._close()
        try:
            connection = self._engine.connect()
            for setting in _SERVER_KEEPALIVES:
                connection.exec_driver_sql(setting)
            # "try": a process testing whether we are dead holds the key for a moment
            got = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
            backend_pid = connection.scalar(text("SELECT pg_backend_pid()"))
            connection.commit()
        except Exception as exc:
            log.warning("liveness: could not take this worker's lock: %s", type(exc).__name__)
            return
        if not got:
            connection.close()
            return
        self._connection, self._backend_pid, self._held = connection, backend_pid, True

    def confirm(self, session: Session) -> bool:
        """Asked of the server in `session` (one small query): `held` only changes when the
        watchdog's ping notices, up to PING_INTERVAL after the session ended."""
        pid = self._backend_pid
        if not self._held or pid is None:
            return False
        held = bool(session.scalar(_LOCK_HELD, {"pid": pid, "key": self.key}))
        if not held and self._backend_pid == pid:
            self._held = False  # the next hold() connects again at once, not at the next ping
            log.error("liveness: this process's lock is gone (its database session ended); "
                      "not claiming or sending until it is back")
        return held

    def _keep(self) -> None:
        """Notice a lost connection (the lock went with it): stop claiming, then take the
        lock again. Claims another process took over meanwhile are no longer ours."""
        while not self._stop.wait(PING_INTERVAL):
            try:
                self._check_or_reconnect()
            except Exception:  # the watchdog must outlive any one round
                log.exception("liveness: watchdog round failed; trying again")

    def _check_or_reconnect(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if self._held:
                try:
                    self._connection.exec_driver_sql("SELECT 1")
                    self._connection.commit()
                    return
                except Exception as exc:
                    self._held = False
                    log.error("liveness: lost the database connection that holds this process's lock (%s); "
                              "not claiming work until it is back", type(exc).__name__)
            self._connect()
            if self._held:
                log.warning("liveness: holding this process's lock again")

    def is_dead(self, session: Session, worker_id: str) -> bool:
        key = key_of(worker_id)
        if key is None or key == self.key:
            return False
        return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))

    def forget(self, worker_id: str) -> None:
        """Nothing to clean: the server dropped the lock with the session."""

    def release(self) -> None:
        self._stop.set()
        with self._lock:
            self._held = False
            if self._connection is not None:
                try:  # at once: closing alone leaves it to the backend's exit, which can lag behind
                    self._connection.execute(text("SELECT pg_advisory_unlock_all()"))
                except Exception:
                    pass
            self._close()
        if self._watch is not None and self._watch is not threading.current_thread():
            self._watch.join(timeout=5)
        self._engine.dispose()

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()  # the session ends; the server releases the lock
            except Exception:
                pass
            self._connection = None
