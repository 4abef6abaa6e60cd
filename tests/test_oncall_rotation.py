"""On-call rotations: who is on call at a moment, and when the next handoff is, across
weekends, DST changes and holidays (properties with hypothesis); `policy check`
validates `oncall`."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from bot.calendar import resolve_wall_time
from bot.coverage.rotation import handoff_at, turn_at
from bot.policy import OnCall, PolicyError, parse_policy
from tests.coverage_helpers import BERLIN, policy_data

PEOPLE = ("U0A", "U0B", "U0C")
WEEKLY = OnCall(rotation=PEOPLE, every_days=7, handoff_day="mon", handoff_time="09:00", start=date(2026, 1, 5))
DAILY = OnCall(rotation=PEOPLE, every_days=1, handoff_day=None, handoff_time="02:30", start=date(2026, 1, 1))
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31),
                       timezones=st.just(timezone.utc))


def local(*args):
    return datetime(*args, tzinfo=BERLIN)


def test_a_weekly_rotation_hands_over_on_monday_at_nine_and_not_at_the_weekend():
    friday, saturday, sunday = local(2026, 12, 4, 18), local(2026, 12, 5, 2, 10), local(2026, 12, 6, 23, 59)
    monday_early, monday = local(2026, 12, 7, 8, 59), local(2026, 12, 7, 9, 0)
    people = {turn_at(WEEKLY, PEOPLE, moment, BERLIN).person for moment in (friday, saturday, sunday, monday_early)}
    assert len(people) == 1  # the whole weekend is one person's
    after = turn_at(WEEKLY, PEOPLE, monday, BERLIN)
    assert after.person != people.pop()
    assert after.began == monday.astimezone(timezone.utc)
    assert after.ends == local(2026, 12, 14, 9, 0).astimezone(timezone.utc)


def test_handoffs_keep_their_wall_clock_time_across_dst():
    # Berlin goes to summer time on Sun 29 Mar 2026 and back on Sun 25 Oct 2026
    for monday in (date(2026, 3, 23), date(2026, 3, 30), date(2026, 10, 19), date(2026, 10, 26)):
        turn = turn_at(WEEKLY, PEOPLE, datetime.combine(monday, datetime.min.time(), BERLIN) + timedelta(hours=12),
                       BERLIN)
        assert turn.began.astimezone(BERLIN).strftime("%a %H:%M") == "Mon 09:00"
    across = turn_at(WEEKLY, PEOPLE, local(2026, 3, 25, 12), BERLIN)
    assert across.ends - across.began == timedelta(days=7, hours=-1)  # the week that lost an hour


def test_a_handoff_in_the_skipped_hour_happens_when_the_clock_jumps():
    # 02:30 does not exist in Berlin on 29 Mar 2026: the handoff comes at 03:00 local (01:00 UTC)
    jump = handoff_at(DAILY, (date(2026, 3, 29) - DAILY.start).days, BERLIN)
    assert jump == datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc)
    assert jump.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    before = turn_at(DAILY, PEOPLE, jump - timedelta(seconds=1), BERLIN)
    after = turn_at(DAILY, PEOPLE, jump, BERLIN)
    assert before.person != after.person and before.ends == after.began == jump


@pytest.mark.parametrize("zone, day, handoff, expected_utc, shown", [
    # the skipped hour (spring): the handoff comes at the jump itself, as business hours open there
    ("Europe/Berlin", date(2026, 3, 29), "02:30", datetime(2026, 3, 29, 1, 0), "03:00 CEST"),
    ("America/New_York", date(2026, 3, 8), "02:30", datetime(2026, 3, 8, 7, 0), "03:00 EDT"),
    ("America/New_York", date(2026, 3, 8), "02:00", datetime(2026, 3, 8, 7, 0), "03:00 EDT"),
    # the repeated hour (autumn): the first time the clock shows the handoff time
    ("Europe/Berlin", date(2026, 10, 25), "02:30", datetime(2026, 10, 25, 0, 30), "02:30 CEST"),
    ("America/New_York", date(2026, 11, 1), "01:30", datetime(2026, 11, 1, 5, 30), "01:30 EDT"),
])
def test_a_handoff_on_a_dst_day_follows_the_business_calendars_rule(zone, day, handoff, expected_utc, shown):
    tz = ZoneInfo(zone)
    oncall = OnCall(rotation=PEOPLE, every_days=1, handoff_day=None, handoff_time=handoff, start=day)
    at = handoff_at(oncall, 0, tz)
    assert at == expected_utc.replace(tzinfo=timezone.utc)
    assert at.astimezone(tz).strftime("%H:%M %Z") == shown
    assert at == resolve_wall_time(day, time.fromisoformat(handoff), tz)  # one rule for both
    assert turn_at(oncall, PEOPLE, at - timedelta(seconds=1), tz).number == -1
    assert turn_at(oncall, PEOPLE, at, tz).number == 0


def test_holidays_do_not_move_a_handoff():
    # 1 Jan 2029 is a Monday and a public holiday in Germany: the rotation hands over all the same
    turn = turn_at(WEEKLY, PEOPLE, local(2029, 1, 1, 9, 0), BERLIN)
    assert turn.began == local(2029, 1, 1, 9, 0).astimezone(timezone.utc)


@settings(max_examples=300, deadline=None)
@given(moment=moments, rotation=st.sampled_from([WEEKLY, DAILY]))
def test_a_turn_contains_its_moment_and_the_next_turn_starts_where_it_ends(moment, rotation):
    turn = turn_at(rotation, PEOPLE, moment, BERLIN)
    assert turn.began <= moment < turn.ends
    following = turn_at(rotation, PEOPLE, turn.ends, BERLIN)
    assert following.number == turn.number + 1 and following.began == turn.ends
    assert following.person == PEOPLE[(PEOPLE.index(turn.person) + 1) % len(PEOPLE)]


@settings(max_examples=300, deadline=None)
@given(moment=moments)
def test_weekly_turns_run_monday_nine_to_monday_nine_local_whatever_the_dst(moment):
    turn = turn_at(WEEKLY, PEOPLE, moment, BERLIN)
    for edge in (turn.began, turn.ends):
        assert edge.astimezone(BERLIN).strftime("%a %H:%M") == "Mon 09:00"
    assert timedelta(days=7, hours=-1) <= turn.ends - turn.began <= timedelta(days=7, hours=1)


@settings(max_examples=200, deadline=None)
@given(moment=moments, size=st.integers(min_value=1, max_value=6))
def test_everyone_in_the_rotation_takes_a_turn_in_order(moment, size):
    people = tuple(f"U0P{n}" for n in range(size))
    turn = turn_at(WEEKLY, people, moment, BERLIN)
    seen = []
    for _ in range(size):
        seen.append(turn.person)
        turn = turn_at(WEEKLY, people, turn.ends, BERLIN)
    assert sorted(seen) == sorted(people)
    assert turn.person == seen[0]  # round and back to the first


def test_an_empty_rotation_puts_no_one_on_call():
    assert turn_at(WEEKLY, (), local(2026, 12, 5, 2), BERLIN).person is None


def test_the_policy_reads_a_rotation():
    data = policy_data()
    data["levels"]["tier1"]["oncall"] = {"rotation": ["U0A", "S0GROUP"], "every": "2w", "handoff": "fri 17:30",
                                         "start": "2026-01-02"}
    oncall = parse_policy(data).levels["tier1"].oncall
    assert oncall == OnCall(("U0A", "S0GROUP"), 14, "fri", "17:30", date(2026, 1, 2))
    data["levels"]["tier1"]["oncall"] = {"rotation": ["U0A"]}  # defaults: weekly, Monday 09:00
    assert parse_policy(data).levels["tier1"].oncall == OnCall(("U0A",), 7, "mon", "09:00", None)


@pytest.mark.parametrize("oncall, problem", [
    ({"rotation": []}, "levels.tier1.oncall.rotation: must list the people on call"),
    ({"rotation": ["bob"]}, "levels.tier1.oncall.rotation[0]: 'bob' is not a Slack user id"),
    ({"rotation": ["U0A"], "every": "12h"}, "levels.tier1.oncall.every: must be whole days"),
    ({"rotation": ["U0A"], "every": "3d"}, "levels.tier1.oncall.handoff: a weekday handoff needs `every` in whole"),
    ({"rotation": ["U0A"], "handoff": "monday 9am"}, "levels.tier1.oncall.handoff: must be a time like"),
    ({"rotation": ["U0A"], "handoff": "25:00"}, "levels.tier1.oncall.handoff: must be a time like"),
    ({"rotation": ["U0A"], "start": "next week"}, "levels.tier1.oncall.start: 'next week' is not a date"),
    ({"rotation": ["U0A"], "shift": "1w"}, "levels.tier1.oncall.shift: unknown key"),
    ("U0A", "levels.tier1.oncall: must be a mapping"),
])
def test_policy_check_names_a_bad_rotation_by_its_field(oncall, problem):
    data = policy_data()
    data["levels"]["tier1"]["oncall"] = oncall
    with pytest.raises(PolicyError) as raised:
        parse_policy(data)
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_members_may_name_user_groups_but_not_other_things():
    data = policy_data()
    data["levels"]["tier2"]["members"] = ["U0SPEC1", "S0SPECS"]
    assert parse_policy(data).levels["tier2"].members == ("U0SPEC1", "S0SPECS")
    data["levels"]["tier2"]["members"] = ["C0CHANNEL"]
    with pytest.raises(PolicyError, match=r"levels.tier2.members\[0\]: 'C0CHANNEL' is not a Slack user id"):
        parse_policy(data)


def test_a_daily_rotation_may_hand_over_at_a_time_without_a_day():
    data = policy_data()
    data["levels"]["tier3"]["oncall"] = {"rotation": ["U0A", "U0B"], "every": "1d", "handoff": "08:00"}
    oncall = parse_policy(data).levels["tier3"].oncall
    assert (oncall.every_days, oncall.handoff_day, oncall.handoff_time) == (1, None, "08:00")
    assert ZoneInfo("Europe/Berlin") == BERLIN


def test_the_example_in_docs_coverage_is_a_valid_policy():
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parent.parent / "docs" / "coverage.md").read_text()
    example = yaml.safe_load(re.search(r"```yaml\n(timezone:.*?)```", text, re.S).group(1))
    data = policy_data()
    data["levels"].update(example.pop("levels"))
    data.update(example)
    policy = parse_policy(data)
    assert policy.levels["tier2"].overflow_to == "tier2b" and policy.levels["tier3"].oncall.every_days == 1
    assert policy.next_level("tier2b") == "tier3"  # the overflow level hands on along Tier 2's path
