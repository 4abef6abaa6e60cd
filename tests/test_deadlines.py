"""Deadline arithmetic (bot/sla/deadlines.py), property-based: business time on
random calendars minus random customer pauses.

Calendars: 24x7 and weekday office hours in Europe/Berlin and America/New_York,
with public and company holidays, around DST changes and year-end. Pauses: sorted,
non-overlapping, some long enough to cross nights and weekends, some starting
before the clock did, the last one possibly still open. An independent oracle
(interval arithmetic over `BusinessCalendar.segments`) checks `elapsed` exactly.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bot.calendar import BusinessCalendar
from bot.policy import BusinessHours
from bot.sla.deadlines import Pause, deadline, elapsed

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WORKWEEK = ("mon", "tue", "wed", "thu", "fri")
TINY = timedelta(microseconds=1)

CALENDARS = {
    "24x7 Berlin": BusinessCalendar(BusinessHours(), BERLIN),
    "24x7 New York": BusinessCalendar(BusinessHours(), NEW_YORK),
    "Berlin office": BusinessCalendar(
        BusinessHours(WORKWEEK, "09:00", "17:00", "DE", (date(2026, 12, 24), date(2026, 3, 30))), BERLIN),
    "New York office": BusinessCalendar(
        BusinessHours(WORKWEEK, "08:30", "18:00", "US-NY", (date(2026, 11, 27), date(2026, 3, 9))), NEW_YORK),
    # a window that straddles the night-time DST switch (2 h on spring day, 4 h in autumn)
    "Berlin night shift": BusinessCalendar(
        BusinessHours(("sat", "sun", "mon"), "01:00", "04:00", "DE"), BERLIN),
}

# DST changes (Berlin 29 Mar / 25 Oct, New York 8 Mar / 1 Nov 2026), Christmas, an ordinary week.
ANCHORS = [datetime(2026, 3, 6, 12, tzinfo=UTC), datetime(2026, 3, 27, 7, tzinfo=UTC),
           datetime(2026, 10, 23, 15, tzinfo=UTC), datetime(2026, 10, 30, 20, tzinfo=UTC),
           datetime(2026, 12, 22, 8, tzinfo=UTC), datetime(2026, 6, 10, 16, 30, tzinfo=UTC)]

calendars = st.sampled_from(sorted(CALENDARS))


@st.composite
def moments(draw):
    """A start moment (whole minutes, sometimes with seconds) near an interesting date."""
    anchor = draw(st.sampled_from(ANCHORS))
    at = anchor + timedelta(minutes=draw(st.integers(-2 * 24 * 60, 4 * 24 * 60)))
    return at + timedelta(seconds=draw(st.sampled_from([0, 0, 0, 1, 30, 59])))


@st.composite
def pause_lists(draw, started: datetime, count=(0, 5), may_stay_open=True):
    """Sorted, non-overlapping pauses; the first may start before `started`, any may
    span nights and weekends; the last is open-ended sometimes."""
    n = draw(st.integers(*count))
    at = started + timedelta(minutes=draw(st.integers(-12 * 60, 36 * 60)))
    pauses = []
    for index in range(n):
        length = timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)), seconds=draw(st.sampled_from([0, 0, 17])))
        last = index == n - 1
        if last and may_stay_open and draw(st.booleans()):
            pauses.append(Pause(at, None, "waiting on customer"))
        else:
            pauses.append(Pause(at, at + length, "waiting on customer"))
        at = at + length + timedelta(minutes=draw(st.integers(0, 2 * 24 * 60)))
    return pauses


targets = st.builds(lambda m, s: timedelta(minutes=m, seconds=s), st.integers(1, 60 * 60), st.sampled_from([0, 0, 1, 45]))


def oracle_elapsed(calendar: BusinessCalendar, started: datetime, now: datetime, pauses: list[Pause]) -> timedelta:
    """Open segments since `started`, minus the parts of them that were paused."""
    total = timedelta(0)
    for segment in calendar.segments(started, now):
        if not segment.open:
            continue
        covered = timedelta(0)
        for pause in pauses:
            lo = max(segment.start, pause.start)
            hi = min(segment.end, pause.end or now)
            if hi > lo:
                covered += hi - lo  # pauses never overlap, so no double counting
        total += (segment.end - segment.start) - covered
    return total


def clip(pause: Pause, lo: datetime, hi: datetime) -> tuple[datetime, datetime]:
    return max(pause.start, lo), min(pause.end or hi, hi)


def describe(name, started, target, pauses):
    note(f"calendar={name} started={started.isoformat()} target={target}")
    for pause in pauses:
        note(f"  pause {pause.start.isoformat()} .. {pause.end.isoformat() if pause.end else 'open'}")


SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- elapsed --------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), name=calendars, started=moments())
def test_elapsed_is_monotonic_bounded_and_counts_only_open_unpaused_time(data, name, started):
    calendar = CALENDARS[name]
    pauses = data.draw(pause_lists(started))
    offsets = sorted(data.draw(st.lists(st.integers(-6 * 60, 8 * 24 * 60), min_size=2, max_size=6)))
    nows = [started + timedelta(minutes=m) for m in offsets]
    describe(name, started, None, pauses)
    previous = None
    for now in nows:
        used = elapsed(calendar, started, now, pauses)
        assert timedelta(0) <= used <= calendar.business_time(started, now)
        assert used == oracle_elapsed(calendar, started, now, pauses), now
        if previous is not None:
            assert used >= previous, f"elapsed went backwards at {now.isoformat()}"
        previous = used


@SETTINGS
@given(data=st.data(), name=calendars, started=moments())
def test_elapsed_does_not_grow_while_paused(data, name, started):
    calendar = CALENDARS[name]
    pauses = data.draw(pause_lists(started, count=(1, 4)))
    describe(name, started, None, pauses)
    pause = data.draw(st.sampled_from(pauses))
    end = pause.end or pause.start + timedelta(days=9)
    span = int((end - pause.start).total_seconds())
    a, b = sorted(data.draw(st.lists(st.integers(0, span), min_size=2, max_size=2)))
    lo, hi = pause.start + timedelta(seconds=a), pause.start + timedelta(seconds=b)
    assert elapsed(calendar, started, lo, pauses) == elapsed(calendar, started, hi, pauses)
    # and the whole pause: the clock reads the same when it starts and when it ends
    assert elapsed(calendar, started, pause.start, pauses) == elapsed(calendar, started, end, pauses)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(["Berlin office", "New York office", "Berlin night shift"]),
       started=moments())
def test_elapsed_does_not_grow_while_closed(data, name, started):
    calendar = CALENDARS[name]
    pauses = data.draw(pause_lists(started))
    describe(name, started, None, pauses)
    closed = [s for s in calendar.segments(started - timedelta(days=1), started + timedelta(days=10)) if not s.open]
    segment = data.draw(st.sampled_from(closed))
    note(f"closed {segment.start.isoformat()} .. {segment.end.isoformat()} ({segment.cause})")
    span = int((segment.end - segment.start).total_seconds())
    a, b = sorted(data.draw(st.lists(st.integers(0, span), min_size=2, max_size=2)))
    lo, hi = segment.start + timedelta(seconds=a), segment.start + timedelta(seconds=b)
    assert calendar.business_time(lo, hi) == timedelta(0)
    assert elapsed(calendar, started, lo, pauses) == elapsed(calendar, started, hi, pauses)
    assert elapsed(calendar, started, segment.start, pauses) == elapsed(calendar, started, segment.end, pauses)


# -- deadline -------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), name=calendars, started=moments(), target=targets)
def test_deadline_is_when_elapsed_reaches_the_target(data, name, started, target):
    calendar = CALENDARS[name]
    pauses = data.draw(pause_lists(started))
    describe(name, started, target, pauses)
    due = deadline(calendar, started, target, pauses)
    open_pauses = [p for p in pauses if p.end is None]
    closed = [p for p in pauses if p.end is not None]
    without_open = deadline(calendar, started, target, closed)
    assert without_open is not None  # only an open pause can stop a clock for good
    blocked = any(p.start < without_open for p in open_pauses)
    assert (due is None) == blocked, f"deadline {due}, open pauses {open_pauses}, reachable at {without_open}"
    if due is None:
        # the clock stands still for good, short of its target
        far = max([started, *(p.start for p in open_pauses)]) + timedelta(days=30)
        assert elapsed(calendar, started, far, pauses) < target
        return
    assert due == without_open  # an open pause after the deadline changes nothing
    assert due > started
    assert elapsed(calendar, started, due, pauses) == target
    assert elapsed(calendar, started, due - TINY, pauses) < target
    assert calendar.is_open(due - TINY)  # time was running right up to the deadline
    assert not any(p.start <= due - TINY < (p.end or due) for p in pauses)  # nor paused


@SETTINGS
@given(data=st.data(), name=calendars, started=moments(), target=targets)
def test_a_pause_before_the_deadline_moves_it_by_at_least_its_business_time(data, name, started, target):
    calendar = CALENDARS[name]
    pauses = data.draw(pause_lists(started, count=(1, 5)))
    index = data.draw(st.integers(0, len(pauses) - 1))
    added = pauses[index]
    base = pauses[:index] + pauses[index + 1:]
    describe(name, started, target, base)
    note(f"added pause {added.start.isoformat()} .. {added.end.isoformat() if added.end else 'open'}")
    before = deadline(calendar, started, target, base)
    after = deadline(calendar, started, target, pauses)
    if before is None:
        assert after is None  # more waiting never makes an unreachable deadline reachable
        return
    if added.start >= before:
        assert after == before, "a pause after the deadline moved it"
        return
    if added.end is None:
        assert after is None  # an open pause before the deadline: no deadline while it lasts
        return
    if after is None:
        # pushed past the start of a pause that is still open (it began at or after the old deadline)
        still_open = [p for p in base if p.end is None]
        assert still_open and still_open[0].start >= before
        assert still_open[0].start < deadline(calendar, started, target, [p for p in pauses if p.end is not None])
        return
    lo, hi = clip(added, started, before)
    paused_before = calendar.business_time(lo, hi) if hi > lo else timedelta(0)
    assert after >= before + paused_before
    assert calendar.business_time(before, after) >= paused_before
    # exactly: on the old reckoning the new deadline is later by the added pause's business time
    lo, hi = clip(added, started, after)
    assert elapsed(calendar, started, after, base) - target == calendar.business_time(lo, hi)


@SETTINGS
@given(data=st.data(), name=calendars, started=moments(), target=targets)
def test_pauses_after_the_deadline_do_not_move_it(data, name, started, target):
    calendar = CALENDARS[name]
    pauses = data.draw(pause_lists(started, count=(0, 3), may_stay_open=False))
    describe(name, started, target, pauses)
    due = deadline(calendar, started, target, pauses)
    assert due is not None
    tail_start = max([due, *(p.end for p in pauses)]) + timedelta(minutes=data.draw(st.integers(0, 3 * 24 * 60)))
    later = [Pause(tail_start, tail_start + timedelta(hours=data.draw(st.integers(1, 72)))),
             Pause(tail_start + timedelta(days=4), None)]
    assert deadline(calendar, started, target, pauses + later[:1]) == due
    assert deadline(calendar, started, target, pauses + later) == due
    # a pause starting exactly at the deadline doesn't stop the clock from reaching it
    at_due = [Pause(due, None)] if all(p.end <= due for p in pauses) else []
    assert deadline(calendar, started, target, pauses + at_due) == due


@given(name=calendars, started=moments(), target=targets)
@SETTINGS
def test_without_pauses_the_deadline_is_calendar_add(name, started, target):
    calendar = CALENDARS[name]
    due = deadline(calendar, started, target, [])
    assert due == calendar.add(started, target)
    assert elapsed(calendar, started, due, []) == calendar.business_time(started, due) == target
