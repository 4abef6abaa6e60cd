"""`/escalate oncall`: who is on call now, managers' overrides (until the next handoff
or a given time) and their removal; a change of on-call person is noted in the
level's channel once."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.models import OncallOverride
from tests.coverage_helpers import BERLIN, ONCALL1, ONCALL2, SATURDAY_NIGHT, at, coverage_policy
from tests.harness import AGENT, CHANNELS, MANAGER, SUPPORT, Harness

ROTATION = {"oncall": {"rotation": [ONCALL1, ONCALL2], "every": "1w", "handoff": "mon 09:00", "start": "2026-11-30"}}
SUBSTITUTE = "U0SUBST"


def command(running, user, text):
    before = len(running.ephemeral_texts(user, SUPPORT))
    assert running.driver.command(user, SUPPORT, text).status == 200
    return running.sim.wait_for(lambda: running.ephemeral_texts(user, SUPPORT)[before:],
                                message=f"the answer to /escalate {text}")[-1]


def notes(running, level="tier2"):
    running.settle()
    return [m.rendered for m in running.sim.messages(CHANNELS[level]) if ":pager:" in m.rendered]


def test_oncall_shows_each_level_now_and_the_next_handoff(database_url):
    with Harness(database_url, policy=coverage_policy({"tier2": ROTATION})) as running:
        running.runtime.coverage.clock = at(SATURDAY_NIGHT)
        shown = command(running, AGENT, "oncall")
        assert f"*Tier 2* (`tier2`): <@{ONCALL1}>" in shown
        assert "Next handoff: Mon 07 Dec 09:00 CET" in shown
        assert "*Tier 1* (`tier1`): no one (no rotation)" in shown


def test_a_managers_override_until_the_next_handoff_then_the_rotation_again_each_noted_once(database_url):
    with Harness(database_url, policy=coverage_policy({"tier2": ROTATION})) as running:
        oncall = running.runtime.coverage
        oncall.clock = at(SATURDAY_NIGHT)
        assert oncall.oncall.note_changes() == ["tier2"]  # first sight: who is on call is noted
        assert oncall.oncall.note_changes() == []  # once
        answer = command(running, MANAGER, f"oncall tier2 <@{SUBSTITUTE}|sam>")
        assert f"<@{SUBSTITUTE}> is on call for Tier 2 until Mon 07 Dec 09:00 CET" in answer
        assert f"*Tier 2* (`tier2`): <@{SUBSTITUTE}>\nOverride by <@{MANAGER}> until Mon 07 Dec 09:00 CET" \
            in command(running, AGENT, "oncall")
        assert oncall.oncall.note_changes() == []  # the command noted it already
        said = notes(running)
        assert len(said) == 2 and f"<@{SUBSTITUTE}> is on call for *Tier 2* now" in said[1]
        assert f"Override set by <@{MANAGER}>" in said[1] and f"before: <@{ONCALL1}>" in said[1]

        monday = datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN)  # the override ends with the handoff
        oncall.clock = at(monday)
        assert oncall.oncall.note_changes() == ["tier2"]
        assert oncall.oncall.note_changes(monday + timedelta(minutes=1)) == []
        said = notes(running)
        assert len(said) == 3 and f"<@{ONCALL2}> is on call for *Tier 2* now" in said[2] and "Handoff" in said[2]


def test_an_override_until_a_time_expires_then_and_clear_removes_one(database_url):
    with Harness(database_url, policy=coverage_policy({"tier2": ROTATION})) as running:
        coverage = running.runtime.coverage
        coverage.clock = at(SATURDAY_NIGHT)
        answer = command(running, MANAGER, f"oncall tier2 <@{SUBSTITUTE}> until 2026-12-05 08:00")
        assert "until Sat 05 Dec 08:00 CET" in answer
        with running.runtime.sessions() as session:
            assert coverage.oncall.person(session, "tier2", datetime(2026, 12, 5, 7, 59, tzinfo=BERLIN)) == SUBSTITUTE
            assert coverage.oncall.person(session, "tier2", datetime(2026, 12, 5, 8, 0, tzinfo=BERLIN)) == ONCALL1
        coverage.clock = at(datetime(2026, 12, 5, 8, 1, tzinfo=BERLIN))
        coverage.oncall.note_changes()
        assert f"<@{ONCALL1}> is on call for *Tier 2* now" in notes(running)[-1]

        command(running, MANAGER, f"oncall tier2 <@{SUBSTITUTE}>")
        cleared = command(running, MANAGER, "oncall tier2 clear")
        assert f"Override for Tier 2 cleared: <@{ONCALL1}> is on call again." in cleared
        assert f"Override cleared by <@{MANAGER}>" in notes(running)[-1]
        with running.runtime.sessions() as session:
            overrides = session.scalars(select(OncallOverride).order_by(OncallOverride.id)).all()
            assert [o.cleared_by for o in overrides] == [None, MANAGER]  # kept, marked


def test_an_override_until_a_time_the_clocks_skip_or_repeat_ends_as_business_hours_would_read_it(database_url):
    # Berlin skips 02:00-03:00 on Sun 28 Mar 2027 and repeats it on Sun 31 Oct 2027
    with Harness(database_url, policy=coverage_policy({"tier2": ROTATION})) as running:
        running.runtime.coverage.clock = at(SATURDAY_NIGHT)
        skipped = command(running, MANAGER, f"oncall tier2 <@{SUBSTITUTE}> until 2027-03-28 02:30")
        assert "until Sun 28 Mar 03:00 CEST" in skipped  # the jump itself
        repeated = command(running, MANAGER, f"oncall tier2 <@{SUBSTITUTE}> until 2027-10-31 02:30")
        assert "until Sun 31 Oct 02:30 CEST" in repeated  # the first 02:30, before the clocks go back
        with running.runtime.sessions() as session:
            ends = session.scalars(select(OncallOverride.ends_at).order_by(OncallOverride.id)).all()
        assert ends == [datetime(2027, 3, 28, 1, 0, tzinfo=timezone.utc),
                        datetime(2027, 10, 31, 0, 30, tzinfo=timezone.utc)]


def test_only_managers_override_and_bad_words_get_a_clear_line_and_change_nothing(database_url):
    with Harness(database_url, policy=coverage_policy({"tier2": ROTATION})) as running:
        running.runtime.coverage.clock = at(SATURDAY_NIGHT)
        assert f"Only managers (<@{MANAGER}>) can change who is on call." in command(
            running, AGENT, f"oncall tier2 <@{AGENT}>")
        assert "`tier9` is not a level" in command(running, MANAGER, "oncall tier9 clear")
        assert "Name the person with an @mention" in command(running, MANAGER, "oncall tier2 sam")
        assert "Write the end as `until YYYY-MM-DD HH:MM` (Europe/Berlin time)" in command(
            running, MANAGER, f"oncall tier2 <@{SUBSTITUTE}> until tomorrow")
        assert "`until` must be later than now" in command(
            running, MANAGER, f"oncall tier2 <@{SUBSTITUTE}> until 2026-12-01 09:00")
        assert "Tier 1 has no rotation, so say until when" in command(running, MANAGER, f"oncall tier1 <@{SUBSTITUTE}>")
        assert "Tier 2 has no override to clear." in command(running, MANAGER, "oncall tier2 clear")
        with running.runtime.sessions() as session:
            assert session.scalars(select(OncallOverride)).all() == []
        assert notes(running) == []


def test_an_override_on_a_level_without_rotation_needs_an_end_and_pages_off_hours(database_url):
    with Harness(database_url, policy=coverage_policy()) as running:
        running.runtime.coverage.clock = at(SATURDAY_NIGHT)
        command(running, MANAGER, f"oncall tier1 <@{SUBSTITUTE}> until 2026-12-07 09:00")
        key = running.new_ticket(Summary="Weekend cover")
        running.settle()
        assert any(key in m.rendered for m in running.sim.messages(f"D{SUBSTITUTE}"))
