"""Business-hours calendar: worked examples (Europe/Berlin, DE holidays) and properties."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.calendar import BusinessCalendar, Segment, calendar_for
from bot.policy import WEEKDAYS, BusinessHours, parse_policy

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
WORKWEEK = ("mon", "tue", "wed", "thu", "fri")
OFFICE = BusinessHours(WORKWEEK, "09:00", "17:00", "DE", (date(2026, 12, 24),))
H = timedelta(hours=1)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def office() -> BusinessCalendar:
    return BusinessCalendar(OFFICE, BERLIN)


def local(segments: list[Segment]) -> list[tuple[datetime, datetime, bool, str]]:
    return [(s.start.astimezone(BERLIN), s.end.astimezone(BERLIN), s.open, s.cause) for s in segments]


# -- examples -------------------------------------------------------------------


def test_weekend_is_skipped(office):
    due = office.add(berlin(2026, 2, 6, 16), 2 * H)  # Friday
    assert due == berlin(2026, 2, 9, 10)  # Monday
    assert due.tzinfo is UTC


def test_ticket_opened_just_before_closing(office):
    assert office.add(berlin(2026, 2, 10, 16, 55), H) == berlin(2026, 2, 11, 9, 55)


def test_holidays_push_the_breach_to_the_next_working_day(office):
    # Wed 23 Dec: 1 h left today; 24th (company), 25th (Christmas), 26th/27th weekend.
    due = office.add(berlin(2026, 12, 23, 16), 2 * H)
    assert due == berlin(2026, 12, 28, 10)
    assert local(office.segments(berlin(2026, 12, 23, 16), due)) == [
        (berlin(2026, 12, 23, 16), berlin(2026, 12, 23, 17), True, "business hours"),
        (berlin(2026, 12, 23, 17), berlin(2026, 12, 24), False, "off-hours"),
        (berlin(2026, 12, 24), berlin(2026, 12, 25), False, "holiday: company holiday"),
        (berlin(2026, 12, 25), berlin(2026, 12, 26), False, "holiday: Christmas Day"),
        (berlin(2026, 12, 26), berlin(2026, 12, 28), False, "weekend"),
        (berlin(2026, 12, 28), berlin(2026, 12, 28, 9), False, "off-hours"),
        (berlin(2026, 12, 28, 9), berlin(2026, 12, 28, 10), True, "business hours"),
    ]
    assert not office.is_open(berlin(2026, 12, 25, 12))


def test_dst_spring_forward(office):
    start = berlin(2026, 3, 27, 16)  # Friday; clocks jump on Sunday 29 March
    assert office.add(start, 4 * H) == berlin(2026, 3, 30, 12)
    assert office.add(start, 3 * H) == berlin(2026, 3, 30, 11)
    assert office.business_time(start, berlin(2026, 3, 30, 12)) == 4 * H
    assert office.business_time(berlin(2026, 3, 30, 9), berlin(2026, 3, 30, 17)) == 8 * H
    always = BusinessCalendar(BusinessHours(), BERLIN)
    assert always.business_time(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 23 * H


def test_dst_fall_back(office):
    start = berlin(2026, 10, 23, 16)  # Friday; clocks go back on Sunday 25 October
    assert office.add(start, 2 * H) == berlin(2026, 10, 26, 10)
    assert office.add(start, 2 * H) == datetime(2026, 10, 26, 9, tzinfo=UTC)
    assert office.business_time(berlin(2026, 10, 26, 9), berlin(2026, 10, 26, 17)) == 8 * H
    always = BusinessCalendar(BusinessHours(), BERLIN)
    assert always.business_time(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 25 * H
    assert always.add(berlin(2026, 10, 25), 25 * H) == berlin(2026, 10, 26)


def test_opening_hours_inside_a_dst_transition():
    # Documented choice: a skipped wall time opens when the clocks jump (03:00 CEST),
    # an ambiguous one means its first occurrence (02:30 CEST in October).
    nightly = BusinessCalendar(BusinessHours(WEEKDAYS, "02:30", "03:30"), BERLIN)
    assert nightly.business_time(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 30 * timedelta(minutes=1)
    assert nightly.next_open(berlin(2026, 3, 29)) == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert nightly.business_time(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 2 * H
    assert nightly.next_open(berlin(2026, 10, 25)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    skipped = BusinessCalendar(BusinessHours(WEEKDAYS, "02:00", "02:45"), BERLIN)
    assert skipped.business_time(berlin(2026, 3, 29), berlin(2026, 3, 30)) == timedelta(0)


def test_always_open_is_plain_addition():
    always = BusinessCalendar(BusinessHours(), BERLIN)
    start = berlin(2026, 12, 25, 23, 30)
    assert always.always_open and always.is_open(start)
    assert always.add(start, 5 * H) == start + 5 * H
    assert always.next_open(start) == start
    assert always.segments(start, start + 50 * H) == [Segment(start, start + 50 * H, True, "24x7")]


def test_counting_starts_at_the_next_opening(office):
    night = berlin(2026, 2, 10, 3)  # Tuesday 03:00
    assert not office.is_open(night)
    assert office.next_open(night) == berlin(2026, 2, 10, 9)
    assert office.add(night, H) == berlin(2026, 2, 10, 10)
    assert office.add(night, timedelta(0)) == berlin(2026, 2, 10, 9)
    weekend = berlin(2026, 2, 7, 12)  # Saturday
    assert office.add(weekend, H) == berlin(2026, 2, 9, 10)
    assert office.next_open(berlin(2026, 2, 10, 11)) == berlin(2026, 2, 10, 11)


def test_segments_over_a_weekend(office):
    assert local(office.segments(berlin(2026, 2, 6, 15), berlin(2026, 2, 9, 10))) == [
        (berlin(2026, 2, 6, 15), berlin(2026, 2, 6, 17), True, "business hours"),
        (berlin(2026, 2, 6, 17), berlin(2026, 2, 7), False, "off-hours"),
        (berlin(2026, 2, 7), berlin(2026, 2, 9), False, "weekend"),
        (berlin(2026, 2, 9), berlin(2026, 2, 9, 9), False, "off-hours"),
        (berlin(2026, 2, 9, 9), berlin(2026, 2, 9, 10), True, "business hours"),
    ]


def test_levels_can_have_their_own_hours():
    def level(name: str) -> dict:
        return {"name": name, "channel": f"C0{name.upper()}", "members": ["U0SOMEONE"]}

    levels = {key: level(key) for key in ("tier1", "tier2", "tier3", "management", "executive")}
    levels["tier3"]["business_hours"] = "24x7"
    policy = parse_policy({
        "timezone": "Europe/Berlin",
        "business_hours": {"days": list(WORKWEEK), "start": "09:00", "end": "17:00", "holidays": "DE"},
        "levels": levels,
        "severities": {p: {"response": "4h", "entry": "tier1"} for p in ("P1", "P2", "P3", "P4")},
    })
    saturday = berlin(2026, 2, 7, 12)
    tier1, tier3 = calendar_for(policy, "tier1"), calendar_for(policy, "tier3")
    assert tier3.always_open and tier3.add(saturday, H) == saturday + H
    assert not tier1.always_open and tier1.add(saturday, H) == berlin(2026, 2, 9, 10)
    assert calendar_for(policy, "tier2") is tier1  # cached per (hours, tz)


def test_naive_datetimes_are_rejected(office):
    naive = datetime(2026, 2, 9, 10)
    for call in (
        lambda: office.is_open(naive),
        lambda: office.add(naive, H),
        lambda: office.next_open(naive),
        lambda: office.business_time(naive, berlin(2026, 2, 10)),
        lambda: office.segments(berlin(2026, 2, 8), naive),
        lambda: BusinessCalendar(BusinessHours(), BERLIN).add(naive, H),
    ):
        with pytest.raises(ValueError, match="naive"):
            call()


def test_a_calendar_that_never_opens_raises(office):
    never = BusinessCalendar(BusinessHours(("mon",), "09:00", "09:00"), BERLIN)
    with pytest.raises(ValueError, match="never open"):
        never.add(berlin(2026, 2, 9), H)
    with pytest.raises(ValueError, match="never open"):
        never.next_open(berlin(2026, 2, 9))
    assert never.business_time(berlin(2026, 1, 1), berlin(2027, 1, 1)) == timedelta(0)
    with pytest.raises(ValueError):
        office.add(berlin(2026, 2, 9), -H)


# -- properties -------------------------------------------------------------------

ZONES = [ZoneInfo(z) for z in ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")]
QUARTERS = st.integers(0, 24 * 4 - 1).map(lambda q: time(q // 4, q % 4 * 15))


@st.composite
def calendars(draw) -> BusinessCalendar:
    tz = draw(st.sampled_from(ZONES))
    if draw(st.integers(0, 9)) == 0:
        return BusinessCalendar(BusinessHours(), tz)
    days = draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1))
    opens, closes = sorted(draw(st.lists(QUARTERS, min_size=2, max_size=2, unique=True)))
    extra = tuple(draw(st.lists(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=5)))
    hours = BusinessHours(
        days=tuple(d for d in WEEKDAYS if d in days),
        start=opens.strftime("%H:%M"),
        end=closes.strftime("%H:%M"),
        holidays=draw(st.sampled_from([None, "DE", "US", "AU-NSW", "IN"])),
        extra_holidays=extra,
    )
    return BusinessCalendar(hours, tz)


moments = st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.sampled_from(ZONES))
offsets = st.timedeltas(timedelta(0), timedelta(days=40))
durations = st.one_of(st.just(timedelta(0)), st.timedeltas(timedelta(0), timedelta(hours=80)))


def later(at: datetime, delta: timedelta) -> datetime:
    """`at` plus real elapsed time, kept in at's own zone (wall-clock + is not real time)."""
    return (at.astimezone(UTC) + delta).astimezone(at.tzinfo)


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(calendars(), moments, offsets, offsets)
def test_business_time_is_monotonic_and_bounded(cal, a, ab, bc):
    b, c = later(a, ab), later(a, ab + bc)
    assert timedelta(0) <= cal.business_time(a, b) <= cal.business_time(a, c)
    assert cal.business_time(a, c) <= c.astimezone(UTC) - a.astimezone(UTC)
    assert cal.business_time(c, a) == timedelta(0)


@PROPERTY
@given(calendars(), moments, offsets, offsets)
def test_business_time_is_additive(cal, a, ab, bc):
    b, c = later(a, ab), later(a, ab + bc)
    assert cal.business_time(a, c) == cal.business_time(a, b) + cal.business_time(b, c)


@PROPERTY
@given(calendars(), moments, offsets)
def test_segments_partition_the_interval(cal, start, length):
    end = later(start, length)
    segs = cal.segments(start, end)
    if end.astimezone(UTC) <= start.astimezone(UTC):
        assert segs == []
        return
    # Compare in UTC: an imaginary local time (in a DST gap) never compares == across zones.
    assert segs[0].start == start.astimezone(UTC) and segs[-1].end == end.astimezone(UTC)
    for seg, following in zip(segs, segs[1:]):
        assert seg.end == following.start
        assert (seg.open, seg.cause) != (following.open, following.cause)  # merged
    for seg in segs:
        assert seg.start < seg.end and seg.start.tzinfo is UTC and seg.end.tzinfo is UTC
        assert seg.open == (seg.cause in ("business hours", "24x7"))


@PROPERTY
@given(calendars(), moments, offsets)
def test_segments_agree_with_business_time_and_is_open(cal, start, length):
    segs = cal.segments(start, later(start, length))
    for seg in segs:
        expected = seg.end - seg.start if seg.open else timedelta(0)
        assert cal.business_time(seg.start, seg.end) == expected
        assert cal.is_open(seg.start) == seg.open
        assert cal.is_open(seg.end - timedelta(microseconds=1)) == seg.open
    assert sum((s.end - s.start for s in segs if s.open), timedelta(0)) == cal.business_time(start, later(start, length))


@PROPERTY
@given(calendars(), moments, durations)
def test_add_inverts_business_time(cal, start, duration):
    due = cal.add(start, duration)
    assert due.tzinfo is UTC and due >= start.astimezone(UTC)
    assert cal.business_time(start, due) == duration
    assert cal.is_open(due) or cal.is_open(due - timedelta(microseconds=1))
    if duration > timedelta(0):
        assert cal.business_time(start, due - timedelta(microseconds=1)) < duration
    else:
        assert due == cal.next_open(start) and cal.is_open(due)
        assert cal.business_time(start, due) == timedelta(0)
