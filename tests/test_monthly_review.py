"""The monthly review in Slack (bot/quality/review*.py, docs/quality-review.md): when it is
due, what it says, and that it is posted once, through the real bot and the fake Slack."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.policy import PolicyError, parse_policy
from bot.quality.review_content import format_change
from bot.quality.review_schedule import first_working_day, month_due
from tests.harness import Harness
from tests.review_helpers import (MGMT, chart_shares, generate_month, review_messages, review_policy,
                                  review_policy_data, two_charts)

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {"business_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00",
                             "holidays": "DE", "extra_holidays": ["2026-12-01"]}}


def at(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def test_the_first_working_day_follows_the_policy_calendar():
    office = review_policy(**OFFICE)
    assert first_working_day(office, "management", date(2027, 1, 1)) == date(2027, 1, 4)  # holiday, weekend
    assert first_working_day(office, "management", date(2026, 8, 1)) == date(2026, 8, 3)  # Saturday
    assert first_working_day(office, "management", date(2026, 12, 1)) == date(2026, 12, 2)  # extra holiday
    assert first_working_day(office, "management", date(2026, 9, 1)) == date(2026, 9, 1)  # a Tuesday
    assert first_working_day(review_policy(), "management", date(2027, 1, 1)) == date(2027, 1, 1)  # 24x7


def test_the_review_is_due_from_its_moment_until_the_month_ends():
    office = review_policy(**OFFICE)
    assert month_due(office, at(2027, 1, 1, 10, 0)) is None  # New Year's Day: not a working day
    assert month_due(office, at(2027, 1, 4, 8, 59)) is None
    assert month_due(office, at(2027, 1, 4, 9, 0)) == date(2026, 12, 1)
    assert month_due(office, at(2027, 1, 29, 23, 0)) == date(2026, 12, 1)  # a process down on the 4th catches up
    assert month_due(office, at(2027, 2, 1, 8, 0)) is None  # February's review not yet, and December's is over
    assert month_due(review_policy(at="07:30"), at(2027, 2, 1, 7, 30)) == date(2027, 1, 1)
    without = parse_policy({**review_policy_data(), "review": None})
    assert month_due(without, at(2027, 2, 3)) is None


@pytest.mark.parametrize("unit, current, previous, shown", [
    ("count", 180, 150, "+30"), ("count", 5, 7, "−2"), ("count", 5, 5, "±0"),
    ("share", 0.65, 0.55, "+10.0 pts"), ("share", 0.5, 0.52, "−2.0 pts"), ("share", 0.5, 0.5, "±0.0 pts"),
    ("seconds", 7 * 3600, 7 * 3600 + 31 * 60, "−31 min"), ("seconds", 2 * 3600, 3600, "+1 h 00 min"),
    ("score", 4.2, 3.9, "+0.30"), ("per_ticket", 0.34, 0.40, "−0.06"),
    ("score", None, 4.0, ""), ("count", 3, None, ""),
])
def test_the_change_from_the_month_before_is_signed_in_the_figures_unit(unit, current, previous, shown):
    assert format_change(unit, current, previous) == shown


@pytest.mark.parametrize("review, problem", [
    ("monthly", "review: must be a mapping like {level: management, at: \"09:00\"}, got 'monthly'"),
    ({"at": "09:00"}, "review.level: missing (the level whose channel gets the monthly review)"),
    ({"level": "board", "at": "09:00"}, "review.level: unknown level 'board'"),
    ({"level": "management", "at": "9am"}, "review.at: must be a time like \"09:00\", got '9am'"),
    ({"level": "management", "at": 540}, "review.at: put the time in quotes, like \"09:00\" (YAML read 540)"),
    ({"level": "management", "every": "month"}, "review.every: unknown key (use level and at)"),
])
def test_policy_check_names_what_is_wrong_with_the_review(review, problem, tmp_path, capsys):
    data = {**review_policy_data(), "review": review}
    with pytest.raises(PolicyError) as refused:
        parse_policy(data)
    assert problem in refused.value.problems
    import yaml

    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["policy", "check", str(path)]) == 1
    assert f"  {problem}" in capsys.readouterr().err.splitlines()


def test_policy_check_accepts_the_review(tmp_path, capsys):
    import yaml

    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(review_policy_data(at="08:30")))
    assert main(["policy", "check", str(path)]) == 0
    assert parse_policy(review_policy_data(at="08:30")).review.at == "08:30"


def test_the_manifest_asks_for_the_scopes_of_the_chart_upload():
    import yaml
    from pathlib import Path

    manifest = yaml.safe_load((Path(__file__).parents[1] / "app_manifest.yaml").read_text())
    # files.getUploadURLExternal / files.completeUploadExternal, and files.info (was it shared before a crash?)
    assert {"files:write", "files:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_the_review_posts_once_with_figures_changes_lists_and_charts(database_url):
    policy = review_policy()
    with Harness(database_url, policy=policy) as h:
        generate_month(h.runtime.engine, policy, date(2026, 10, 1), tickets=150, seed=1)
        generate_month(h.runtime.engine, policy, date(2026, 11, 1), tickets=180, seed=2)
        assert h.runtime.review.send_due(at(2026, 12, 1, 8, 59)) is None
        assert h.runtime.review.send_due(at(2026, 12, 1, 9, 0)) == date(2026, 11, 1)
        h.settle(timeout=30)
        [review] = review_messages(h.sim)
        text = review.rendered
        assert "Escalation review · November 2026" in text
        assert "*Tickets opened*\n180  (+30)" in text  # 180 in November, 150 in October
        for figure in ("First-contact resolution", "Time to acknowledge (median)", "Response SLA met",
                       "CSAT (mean of 1–5)"):
            assert f"*{figure}*" in text
        for title in ("Top root causes", "Knowledge-base gaps", "Training needs", "Tier skill gap",
                      "Product improvements", "Automation opportunities"):
            assert f"*{title}" in text
        assert "ESC-" in text  # the lists name their tickets
        [charts] = h.sim.replies(MGMT, review.ts)
        assert charts.text == "Charts for the November 2026 review"
        titles = [f["title"] for f in charts.files]
        assert titles[:2] == ["Weekly volume by level", "Time per level"]
        shared = h.sim.shared_files(MGMT)
        assert [f.title for f in shared] == titles and all(f.data.startswith(b"\x89PNG") for f in shared)

        # due all month, owed once: later checks (this process or another) post nothing, and
        # find the ledger key before computing the month again
        drawn_again = []
        h.runtime.review.draw = lambda metrics, level_names: drawn_again.append(metrics) or []
        for moment in (at(2026, 12, 1, 9, 1), at(2026, 12, 20, 12, 0)):
            assert h.runtime.review.send_due(moment) is None
        assert drawn_again == []
        h.settle()
        assert len(review_messages(h.sim)) == 1 and len(chart_shares(h.sim)) == 1
        assert len(h.sim.uploads_started()) == len(titles)


def test_charts_that_cannot_be_drawn_leave_the_figures(sqlite_url, caplog):
    policy = review_policy()

    def broken(metrics, level_names):
        raise RuntimeError("no fonts")

    with Harness(sqlite_url, policy=policy) as h:
        generate_month(h.runtime.engine, policy, date(2026, 11, 1), tickets=40, seed=3)
        h.runtime.review.draw = broken
        assert h.runtime.review.send(date(2026, 11, 1))
        h.settle()
        [review] = review_messages(h.sim)
        assert "*Tickets opened*\n40" in review.rendered
        assert "The charts could not be drawn this time; the figures above are complete." in review.rendered
        assert h.sim.replies(MGMT, review.ts) == []
        assert not [c for c in h.sim.calls if c.method.startswith("files.")]
        assert "the charts of November 2026 could not be drawn" in caplog.text
        assert not h.runtime.review.send(date(2026, 11, 1))  # owed once, charts or not


def test_an_empty_month_says_so_plainly(sqlite_url):
    with Harness(sqlite_url, policy=review_policy()) as h:
        h.runtime.review.draw = two_charts
        assert h.runtime.review.send(date(2026, 11, 1))
        h.settle()
        [review] = review_messages(h.sim)
        assert "No tickets were opened, escalated or resolved in November 2026: nothing to review." in review.rendered
        assert h.sim.replies(MGMT, review.ts) == [] and not h.sim.uploads_started()


def test_a_failing_upload_is_retried_like_any_outbox_row(sqlite_url):
    policy = review_policy()
    with Harness(sqlite_url, policy=policy) as h:
        generate_month(h.runtime.engine, policy, date(2026, 11, 1), tickets=30, seed=4)
        h.runtime.review.draw = two_charts
        h.sim.fail_http("upload", 500)  # the first file's bytes are refused
        h.sim.fail_next("files.completeUploadExternal", "internal_error")  # then Slack fails the completion
        assert h.runtime.review.send(date(2026, 11, 1))
        h.settle(timeout=20)
        [review] = review_messages(h.sim)
        [charts] = h.sim.replies(MGMT, review.ts)
        assert [f["title"] for f in charts.files] == ["Weekly volume", "SLA"]
        assert [f.data for f in h.sim.shared_files(MGMT)] == [b"\x89PNG volume", b"\x89PNG sla"]
        # the refused upload's file was asked for again; the completed uploads were not
        assert [c.method for c in h.sim.calls if c.method.startswith("files.") or c.method == "upload"] == [
            "files.getUploadURLExternal", "upload",  # refused (500): a new URL next time
            "files.getUploadURLExternal", "upload", "files.getUploadURLExternal", "upload",
            "files.completeUploadExternal",  # internal_error: retried with the same files
            "files.info",  # were they shared before this process heard back? no
            "files.completeUploadExternal"]


def test_a_review_whose_channel_is_gone_fails_with_its_charts_and_is_logged(sqlite_url, caplog):
    policy = review_policy()
    with Harness(sqlite_url, policy=policy) as h:
        generate_month(h.runtime.engine, policy, date(2026, 11, 1), tickets=10, seed=5)
        h.runtime.review.draw = two_charts
        h.sim.set_archived(MGMT)
        assert h.runtime.review.send(date(2026, 11, 1))
        h.settle()
        assert not h.sim.uploads_started()
        assert "giving up on row" in caplog.text and "files.completeUploadExternal" in caplog.text


def test_a_process_that_lost_the_upload_row_midway_records_nothing_and_shares_nothing(database_url):
    """Taken over while it waited for an upload URL (its liveness lock lost, say): the step
    it got is not written down over the new owner's, and it uploads and shares nothing."""
    import threading

    from sqlalchemy import select, update

    from bot import outbox
    from bot.db import transaction
    from bot.models import OutboxFile, OutboxMessage
    from tests.processes import claim

    with Harness(database_url, policy=review_policy(), start_worker=False) as h:
        with transaction(h.runtime.sessions) as session:
            row_id = outbox.share_files(session, channel=MGMT, initial_comment="Charts",
                                        files=[outbox.FileToShare("a.png", "A", b"\x89PNG a")])
        worker = h.runtime.worker
        worker.liveness.hold()
        [(claimed, _, _)] = claim(worker)
        assert claimed == row_id
        slow = h.sim.answer_late("files.getUploadURLExternal", seconds=1.5)
        sending = threading.Thread(target=worker._deliver, args=(row_id,))
        sending.start()
        assert slow.took_effect.wait(10)
        with transaction(h.runtime.sessions) as session:  # another process takes the row over
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                            .values(claimed_by="another-process"))
        sending.join(15)
        with h.runtime.sessions() as session:
            stored = session.scalar(select(OutboxFile).where(OutboxFile.outbox_id == row_id))
            row = session.get(OutboxMessage, row_id)
        assert (stored.file_id, stored.upload_url, stored.uploaded_at) == (None, None, None)
        assert row.claimed_by == "another-process" and row.status == "pending"
        assert [c.method for c in h.sim.calls if c.method.startswith("files.") or c.method == "upload"] == [
            "files.getUploadURLExternal"]
