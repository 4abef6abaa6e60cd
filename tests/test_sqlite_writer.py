"""Group commit on SQLite: units share a COMMIT, fail alone, and return only once durable."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import outbox
from bot.db import make_engine, make_session_factory, transaction, upgrade
from bot.models import OutboxMessage


@pytest.fixture
def sessions(sqlite_url):
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def owe(session, text: str) -> None:
    outbox.post(session, channel="C0GROUP", payload={"text": text}, role="note")


def texts(sessions) -> list[str]:
    with sessions() as session:
        return [row.payload["text"] for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def queue_behind(sessions, body) -> tuple[threading.Thread, dict]:
    """Run `body(session)` in a transaction of another thread; returns once it waits for its turn."""
    outcome: dict = {}
    queued = threading.Event()

    def run():
        queued.set()
        try:
            with transaction(sessions) as session:
                body(session)
            outcome["returned"] = True
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    queued.wait(5)
    return thread, outcome


def wait_until_queued(sessions, count: int = 1) -> None:
    from bot.sqlite_writer import writer_for

    writer = writer_for(sessions.kw["bind"], "escalator_writes")
    for _ in range(500):
        if writer._waiting >= count:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the other transaction never queued")


def two_queued_behind(sessions, first_text: str, second_body, third_body) -> tuple[dict, dict]:
    """A unit owing `first_text` ends while two others wait for their turn; their outcomes."""
    with transaction(sessions) as session:
        owe(session, first_text)
        second, second_outcome = queue_behind(sessions, second_body)
        third, third_outcome = queue_behind(sessions, third_body)
        wait_until_queued(sessions, 2)
    second.join(10)
    third.join(10)
    return second_outcome, third_outcome


def test_a_failing_unit_rolls_back_alone_and_the_others_commit_together(sessions):
    def fails(session):
        owe(session, "from the failing unit")
        raise ValueError("bad input")

    second_outcome, third_outcome = two_queued_behind(sessions, "first", lambda s: owe(s, "second"), fails)

    assert second_outcome == {"returned": True}
    assert isinstance(third_outcome["error"], ValueError)
    assert texts(sessions) == ["first", "second"]


def test_when_the_group_commit_fails_every_member_is_told_and_nothing_is_kept(sessions):
    """A unit returns only after the COMMIT holding its rows: if that COMMIT fails (here a
    deferred foreign key, standing in for a full disk), its caller gets the error too.
    The two units queued behind the first form the next group together."""

    def breaks_the_commit(session):
        session.connection().exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        session.connection().exec_driver_sql(
            "INSERT INTO outbox (ticket_id, method, channel, order_key, payload, status, attempts, not_before, "
            "created_at) VALUES (999999, 'chat.postMessage', 'C0GROUP', 'x', '{\"text\": \"orphan\"}', "
            "'pending', 0, '2026-01-01', '2026-01-01')")

    sound_outcome, broken_outcome = two_queued_behind(
        sessions, "alone in its group", lambda s: owe(s, "lost with its group"), breaks_the_commit)

    assert isinstance(sound_outcome["error"], IntegrityError)
    assert isinstance(broken_outcome["error"], IntegrityError)
    assert texts(sessions) == ["alone in its group"]
    with transaction(sessions) as session:  # the writer carries on
        owe(session, "after")
    assert texts(sessions) == ["alone in its group", "after"]


def test_a_transaction_inside_another_is_a_savepoint_of_it(sessions):
    with transaction(sessions) as session:
        owe(session, "outer")
        with pytest.raises(ValueError):
            with transaction(sessions) as inner:
                owe(inner, "inner, undone")
                raise ValueError("inner fails")
        with transaction(sessions) as inner:
            owe(inner, "inner, kept")
    assert texts(sessions) == ["outer", "inner, kept"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
