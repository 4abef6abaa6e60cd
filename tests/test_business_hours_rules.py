"""Business-hours rules a support lead would check by hand: when the desk opens on the
night the clocks jump, which regional holidays close it, and what a broken calendar says."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.calendar import BusinessCalendar, Segment
from bot.policy import WEEKDAYS, BusinessHours

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WORKWEEK = ("mon", "tue", "wed", "thu", "fri")
H = timedelta(hours=1)


def test_an_opening_inside_the_skipped_hour_is_the_instant_the_clocks_jump():
    # 02:01 does not exist on 29 March 2026 in Berlin: the desk opens at 03:00 CEST sharp
    # (01:00 UTC), not a few seconds either side, and is open 1 h until 04:00.
    night_shift = BusinessCalendar(BusinessHours(WEEKDAYS, "02:01", "04:00"), BERLIN)
    sunday = datetime(2026, 3, 29, tzinfo=BERLIN)
    opens = night_shift.next_open(sunday)
    assert opens == datetime(2026, 3, 29, 1, tzinfo=UTC) and opens.tzinfo is UTC  # stored as UTC
    assert night_shift.business_time(sunday, sunday + 24 * H) == H
    assert not night_shift.is_open(datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC))
    # New York jumps at 02:00 EST (07:00 UTC) on 8 March 2026.
    new_york = BusinessCalendar(BusinessHours(WEEKDAYS, "02:01", "04:00"), NEW_YORK)
    assert new_york.next_open(datetime(2026, 3, 8, tzinfo=NEW_YORK)) == datetime(2026, 3, 8, 7, tzinfo=UTC)


def test_a_regional_holiday_closes_only_that_region():
    # 6 January (Epiphany) is a public holiday in Bavaria, a working day in Berlin.
    bavaria = BusinessCalendar(BusinessHours(WORKWEEK, "09:00", "17:00", "DE-BY"), BERLIN)
    germany = BusinessCalendar(BusinessHours(WORKWEEK, "09:00", "17:00", "DE"), BERLIN)
    epiphany = datetime(2026, 1, 6, tzinfo=BERLIN)
    assert bavaria.segments(epiphany, epiphany + 24 * H) == [
        Segment(datetime(2026, 1, 5, 23, tzinfo=UTC), datetime(2026, 1, 6, 23, tzinfo=UTC), False, "holiday: Epiphany"),
    ]
    assert bavaria.add(epiphany, H) == datetime(2026, 1, 7, 10, tzinfo=BERLIN)
    assert germany.add(epiphany, H) == datetime(2026, 1, 6, 10, tzinfo=BERLIN)


def test_a_company_holiday_on_a_public_holiday_is_named_after_the_public_one():
    hours = BusinessHours(WORKWEEK, "09:00", "17:00", "DE", (date(2026, 12, 25), date(2026, 12, 24)))
    christmas = datetime(2026, 12, 24, tzinfo=BERLIN)
    assert [s.cause for s in BusinessCalendar(hours, BERLIN).segments(christmas, christmas + 48 * H)] == [
        "holiday: company holiday", "holiday: Christmas Day"]


def test_an_unknown_holiday_calendar_says_which_code():
    odd = BusinessCalendar(BusinessHours(WORKWEEK, "09:00", "17:00", "XX"), BERLIN)
    with pytest.raises(ValueError, match=r"^unknown holiday calendar 'XX': "):
        odd.add(datetime(2026, 1, 6, tzinfo=BERLIN), H)


def test_a_broken_calendar_says_what_is_wrong():
    with pytest.raises(ValueError) as caught:
        BusinessCalendar(BusinessHours(("mon", "funday"), "09:00", "17:00"), BERLIN)
    assert str(caught.value) == (
        "unknown weekday(s) ['funday']; use mon, tue, wed, thu, fri, sat, sun")
    for start, end in (("09:00", None), (None, "17:00")):
        with pytest.raises(ValueError) as caught:
            BusinessCalendar(BusinessHours(WORKWEEK, start, end), BERLIN)
        assert str(caught.value) == "business hours need both start and end (HH:MM)"
    never = BusinessCalendar(BusinessHours(("mon", "tue"), "09:00", "09:00"), BERLIN)
    with pytest.raises(ValueError) as caught:
        never.add(datetime(2026, 2, 9, tzinfo=BERLIN), H)
    assert str(caught.value) == (
        "business hours mon,tue 09:00-09:00 (Europe/Berlin) never open within 1830 days")


def test_weekday_names_are_not_case_sensitive():
    shouting = BusinessCalendar(BusinessHours(("MON", "Tue"), "09:00", "17:00"), BERLIN)
    assert shouting.is_open(datetime(2026, 2, 9, 10, tzinfo=BERLIN))  # Monday
    assert shouting.is_open(datetime(2026, 2, 10, 10, tzinfo=BERLIN))  # Tuesday
    assert not shouting.is_open(datetime(2026, 2, 11, 10, tzinfo=BERLIN))  # Wednesday


def test_at_closing_time_sharp_the_desk_is_closed_until_the_next_morning():
    office = BusinessCalendar(BusinessHours(WORKWEEK, "09:00", "17:00"), BERLIN)
    closing = datetime(2026, 2, 9, 17, tzinfo=BERLIN)  # Monday 17:00:00
    assert not office.is_open(closing)
    assert office.next_open(closing) == datetime(2026, 2, 10, 9, tzinfo=BERLIN)


def test_a_target_that_runs_out_at_closing_time_is_due_at_closing_time():
    office = BusinessCalendar(BusinessHours(WORKWEEK, "09:00", "17:00"), BERLIN)
    assert office.add(datetime(2026, 2, 9, 16, tzinfo=BERLIN), H) == datetime(2026, 2, 9, 17, tzinfo=BERLIN)
