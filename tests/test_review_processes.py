"""The monthly review across processes (`escalator serve --http` run for real): killed
in the middle of the chart upload and restarted, or one of several processes on
PostgreSQL killed there, the review and its charts are still shared exactly once."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.db import make_engine, upgrade
from bot.models import OutboxFile, OutboxMessage, OutboxStatus, utcnow
from bot.policy import parse_policy
from bot.quality.review_schedule import month_due
from tests.processes import Served, fake_slack, pending_rows, pg_url, shared_database, write_policy  # noqa: F401
from tests.review_helpers import MGMT, chart_shares, generate_month, review_messages, review_policy_data

TIMEOUT = 90  # a process starts, computes the month and draws its charts on a busy 2-core machine


def prepare(database_url: str, tmp_path):
    """A policy whose review is due now (at 00:00 on the 1st, 24x7) and last month's history."""
    data = review_policy_data(at="00:00")
    policy = parse_policy(data)
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        generate_month(engine, policy, month_due(policy, utcnow()), tickets=25, seed=7)
    finally:
        engine.dispose()
    return write_policy(tmp_path, data)


def share_row(sessions) -> OutboxMessage | None:
    with sessions() as session:
        return session.scalar(select(OutboxMessage).where(OutboxMessage.method == "files.completeUploadExternal"))


def uploads_recorded(sessions) -> int:
    with sessions() as session:
        return len(session.scalars(select(OutboxFile.id).where(OutboxFile.uploaded_at.is_not(None))).all())


def calls(sim, method: str) -> int:
    return sum(1 for call in sim.calls if call.method == method)


def wait_delivered(sim, sessions) -> None:
    sim.wait_for(lambda: share_row(sessions) is not None and not pending_rows(sessions), timeout=TIMEOUT,
                 interval=0.2, message="the review and its charts delivered")


@pytest.mark.parametrize("killed", ["after asking for an upload URL", "after uploading, before completing",
                                    "after completing, before recording it"])
def test_killed_mid_upload_and_restarted_the_charts_are_shared_once(killed, database_url, tmp_path):
    policy = prepare(database_url, tmp_path)
    with fake_slack() as sim, shared_database(database_url) as sessions:
        first = Served("first", sim, database_url, policy, tmp_path)
        second = Served("second", sim, database_url, policy, tmp_path)
        try:
            if killed == "after asking for an upload URL":
                late = sim.answer_late("files.getUploadURLExternal", seconds=120)
            elif killed == "after completing, before recording it":
                late = sim.answer_late("files.completeUploadExternal", seconds=120)
            else:
                sim.fail_next("files.completeUploadExternal", "internal_error", count=1000)
            first.start()
            if killed == "after uploading, before completing":
                sim.wait_for(lambda: calls(sim, "files.completeUploadExternal") >= 1, timeout=TIMEOUT, interval=0.1,
                             message="a completion refused after every upload")
            else:
                assert late.took_effect.wait(TIMEOUT), first.log()
            first.kill()
            charts = len(share_files_of(sessions))
            uploaded_before = uploads_recorded(sessions)
            sim.clear_faults()
            second.start()
            wait_delivered(sim, sessions)
            row = share_row(sessions)
        finally:
            first.stop()
            second.stop()
        assert row.status == OutboxStatus.SENT, row.last_error
        assert len(review_messages(sim)) == 1
        [shared] = chart_shares(sim)
        [review] = review_messages(sim)
        assert shared.thread_ts == review.ts and len(shared.files) == charts >= 3
        assert len(sim.shared_files(MGMT)) == charts
        urls_asked = calls(sim, "files.getUploadURLExternal")
        if killed == "after asking for an upload URL":
            # the URL the dead process got was never recorded: every file gets a new one, the
            # abandoned upload is never completed (Slack drops it)
            assert uploaded_before == 0 and urls_asked == charts + 1
            assert len(sim.uploads_started()) == charts + 1
        else:
            # every upload was recorded: the restarted process completes them as they are
            assert uploaded_before == charts and urls_asked == charts
        if killed == "after completing, before recording it":
            assert calls(sim, "files.completeUploadExternal") == 1  # the restarted one asked files.info instead
            assert f"the files of row {row.id} were already shared" in second.log(), second.log()


def share_files_of(sessions) -> list[OutboxFile]:
    with sessions() as session:
        return list(session.scalars(select(OutboxFile)))


def test_three_processes_on_postgresql_share_one_review_and_a_survivor_finishes_a_killed_upload(pg_url, tmp_path):  # noqa: F811
    policy = prepare(pg_url, tmp_path)
    with fake_slack() as sim, shared_database(pg_url) as sessions:
        late = sim.answer_late("files.completeUploadExternal", seconds=120)
        processes = [Served(name, sim, pg_url, policy, tmp_path) for name in ("one", "two", "three")]
        try:
            for served in processes:
                served.start(wait=False)
            for served in processes:
                served.wait_healthy(timeout=TIMEOUT)
            assert late.took_effect.wait(TIMEOUT)
            row = share_row(sessions)
            owner = next(p for p in processes if row.claimed_by and f":{p.process.pid}:" in row.claimed_by)
            owner.kill()
            wait_delivered(sim, sessions)
            row = share_row(sessions)
            survivors = [p for p in processes if p is not owner]
        finally:
            for served in processes:
                served.stop()
        assert row.status == OutboxStatus.SENT
        assert len(review_messages(sim)) == 1 and len(chart_shares(sim)) == 1
        assert calls(sim, "files.completeUploadExternal") == 1
        assert calls(sim, "chat.postMessage") == 1
        assert any(f"the files of row {row.id} were already shared" in p.log() for p in survivors), \
            [p.log() for p in survivors]
