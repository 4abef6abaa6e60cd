"""The liveness lock itself: a clean stop is final, and the PostgreSQL watchdog that takes
a lost lock back survives a failed round."""
from __future__ import annotations

import time

from sqlalchemy import text

from bot.db import make_engine, make_session_factory, upgrade
from bot.liveness import liveness_for
from bot.liveness import postgres as liveness_postgres
from tests.processes import pg_url  # noqa: F401


def eventually(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_worker_stopped_cleanly_does_not_take_its_lock_again(database_url):
    """Otherwise a stopped worker's leftover claims would look alive to the others."""
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    stopped, other = liveness_for(engine), liveness_for(engine)
    try:
        assert stopped.hold()
        stopped.release()
        assert not stopped.hold()
        assert not stopped.held
        with sessions() as session:
            assert other.is_dead(session, stopped.worker_id)
    finally:
        stopped.release()
        other.release()
        engine.dispose()


def test_the_watchdog_outlives_a_failed_round_and_takes_the_lock_back(pg_url, monkeypatch, caplog):
    monkeypatch.setattr(liveness_postgres, "PING_INTERVAL", 0.05)
    engine = make_engine(pg_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    liveness = liveness_for(engine)
    connect = liveness_postgres.AdvisoryLockLiveness._connect
    failures = []

    def connect_failing_once(self):
        if not failures:
            failures.append(1)
            raise RuntimeError("the driver broke in an unexpected way")
        connect(self)

    try:
        assert liveness.hold()
        monkeypatch.setattr(liveness_postgres.AdvisoryLockLiveness, "_connect", connect_failing_once)
        with engine.connect() as connection:  # the server ends the lock's session
            assert connection.scalar(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
                "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": liveness.key})
        eventually(lambda: failures, "the failed round")
        eventually(lambda: liveness.held, "the lock taken back by the watchdog, without a hold()")
        with sessions() as session:
            assert liveness.confirm(session)
        assert "watchdog round failed" in caplog.text
    finally:
        liveness.release()
        engine.dispose()
