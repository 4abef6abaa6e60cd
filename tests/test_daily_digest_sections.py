"""What a level's daily digest lists (bot/sla/digest.py): its open tickets, the clocks due
within four hours, the breached ones, the tickets waiting on the customer — only this
level's, only live clocks of the current stay — and when each level gets it."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.db import transaction
from bot.forms import EscalationRequest, Resolution
from bot.models import ClockKind, SlaClock, Ticket
from bot.policy import BusinessHours, load_policy
from tests.harness import AGENT, Harness

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=BERLIN)  # a Friday


def set_clock(harness, ticket_id, kind, *, due_in, breached=False):
    with transaction(harness.runtime.sessions) as session:
        clock = session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket_id, SlaClock.kind == kind,
                                                       SlaClock.stopped_at.is_(None))).one()
        clock.due_at, clock.breached = NOW + due_in, breached


def set_unlisted_clocks(harness, ticket_id, *, due_in):
    """The clocks a digest never lists: stopped ones and the progress-update cadence."""
    with transaction(harness.runtime.sessions) as session:
        for clock in session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket_id)):
            if clock.stopped_at is not None or clock.kind == ClockKind.UPDATE:
                clock.due_at = NOW + due_in


def opened_at(harness, ticket_id, when):
    with transaction(harness.runtime.sessions) as session:
        session.get(Ticket, ticket_id).created_at = when


def sections(harness, level="tier1", now=NOW) -> dict[str, str]:
    with harness.runtime.sessions() as session:
        payload = harness.runtime.digest.render(session, level, now)
    texts = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    header = payload["blocks"][0]["text"]["text"]
    footer = payload["blocks"][-1]["elements"][0]["text"]
    return {"header": header, **{text.split("*")[1]: text for text in texts}, "footer": footer}


def test_the_digest_lists_each_section_with_its_clocks(harness):
    for n, severity in enumerate(["P3", "P2", "P3", "P2", "P3", "P3"], start=1):
        harness.new_ticket(Summary=f"Case {n}", Severity=severity)
    desk = harness.runtime.desk
    set_clock(harness, 1, ClockKind.RESPONSE, due_in=timedelta(hours=4))  # due soon, just
    set_clock(harness, 2, ClockKind.TIME_LIMIT, due_in=timedelta(hours=2))  # due soon, sooner
    set_clock(harness, 3, ClockKind.RESPONSE, due_in=timedelta(hours=4, minutes=1))  # not yet
    set_clock(harness, 4, ClockKind.RESPONSE, due_in=timedelta(days=-7), breached=True)
    desk.acknowledge(5, AGENT)  # the response clock stops; the progress-update clock is no SLA target
    set_unlisted_clocks(harness, 5, due_in=timedelta(hours=1))
    desk.wait_on_customer(6, AGENT, "logs")
    harness.new_ticket(Summary="Moved up", Severity="P2")  # 7: escalated, so tier2's
    desk.escalate(7, EscalationRequest("tier2", "complexity", "can't diagnose"), AGENT)
    harness.new_ticket(Summary="Done")  # 8: resolved
    desk.resolve(8, Resolution("fixed", "Bug", False, None, None, None), AGENT)
    set_unlisted_clocks(harness, 8, due_in=timedelta(hours=1))
    opened_at(harness, 1, datetime(2030, 1, 1, tzinfo=BERLIN))  # opened last after all

    shown = sections(harness)
    assert list(shown) == ["header", "Open", "Due soon", "Breached", "Waiting on customer", "footer"]
    assert shown["header"] == "Tier 1 · daily digest · Fri 27 Nov"
    assert shown["footer"].startswith("`/escalate list tier1` for the whole queue")
    # P2 before P3, then oldest first
    assert shown["Open"] == ("*Open* (6)\n• *ESC-2* P2 · Case 2\n• *ESC-4* P2 · Case 4\n• *ESC-3* P3 · Case 3\n"
                             "• *ESC-5* P3 · Case 5\n• *ESC-6* P3 · Case 6\n• *ESC-1* P3 · Case 1\n")
    # soonest first
    assert shown["Due soon"] == ("*Due soon* (2)\n• *ESC-2* P2 · Case 2 · time limit due Fri 12:00 Berlin\n"
                                 "• *ESC-1* P3 · Case 1 · response due Fri 14:00 Berlin\n")
    # a week back: the date is named
    assert shown["Breached"] == ("*Breached* (1)\n• *ESC-4* P2 · Case 4 · response breached Fri 20 Nov 10:00 "
                                 "Berlin\n")
    assert shown["Waiting on customer"] == "*Waiting on customer* (1)\n• *ESC-6* P3 · Case 6\n"
    tier2 = sections(harness, "tier2")
    assert tier2["Open"] == "*Open* (1)\n• *ESC-7* P2 · Moved up\n"
    assert tier2["Breached"] == "*Breached* (0)\nNone\n"


def test_a_long_section_shows_eight_and_counts_the_rest(harness):
    for n in range(10):
        harness.new_ticket(Summary=f"Case {n + 1}", Severity="P3")
    for ticket_id in range(1, 11):
        set_clock(harness, ticket_id, ClockKind.RESPONSE, due_in=timedelta(minutes=-ticket_id), breached=True)
    shown = sections(harness)
    assert shown["Open"].startswith("*Open* (10)\n• *ESC-1* P3 · Case 1\n")
    assert shown["Open"].endswith("• *ESC-8* P3 · Case 8\n…and 2 more\n")
    # the longest breached first
    assert shown["Breached"].startswith("*Breached* (10)\n• *ESC-10* P3 · Case 10 · response breached Fri 09:50")
    assert shown["Breached"].endswith("…and 2 more\n")


@pytest.fixture
def weekdays(database_url):
    policy = replace(load_policy(), digest_at="08:30",
                     business_hours=BusinessHours(days=("mon", "tue", "wed", "thu", "fri"), start="09:00",
                                                  end="17:00"))
    levels = dict(policy.levels)
    levels["tier3"] = replace(levels["tier3"], business_hours=BusinessHours())  # engineering: 24x7
    with Harness(database_url, policy=replace(policy, levels=levels)) as running:
        yield running


def test_each_level_gets_it_on_its_own_working_days_from_digest_at(weekdays):
    digest = weekdays.runtime.digest
    saturday = datetime(2026, 11, 28, 8, 30, tzinfo=BERLIN)
    assert digest.send_due(saturday - timedelta(minutes=1)) == []
    assert digest.send_due(saturday) == ["tier3"]  # the only level that works on Saturdays
    assert digest.send_due(saturday + timedelta(days=1)) == ["tier3"]  # and on Sundays
    monday = datetime(2026, 11, 30, 8, 30, tzinfo=BERLIN)
    assert set(digest.send_due(monday)) == set(weekdays.policy.levels)


def test_once_per_local_day_even_when_the_utc_date_differs(sqlite_url):
    policy = replace(load_policy(), digest_at="00:30")
    with Harness(sqlite_url, policy=policy) as running:
        digest = running.runtime.digest
        def at(day, hour, minute):  # the scheduler passes UTC
            return datetime(2026, 11, day, hour, minute, tzinfo=BERLIN).astimezone(timezone.utc)

        assert set(digest.send_due(at(27, 0, 45))) == set(policy.levels)  # 23:45 UTC the day before
        assert digest.send_due(at(27, 23, 30)) == []  # the same Berlin day
        assert set(digest.send_due(at(28, 0, 31))) == set(policy.levels)
