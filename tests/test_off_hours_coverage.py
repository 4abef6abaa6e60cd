"""Weekend and holiday coverage: outside business hours (and for a P1 at any hour) a
new briefing, a warning and a breach mention the level's on-call person and DM them,
once each; with no one on call the thread says so and management hears once per
ticket; round robin gives off-hours arrivals to the on-call person; the digest names
who is on call. Through the HTTP endpoint and the fake Slack."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.models import SlaClock
from tests.coverage_helpers import BERLIN, ONCALL1, ONCALL2, SATURDAY_NIGHT, WEDNESDAY_NOON, at, coverage_policy
from tests.harness import AGENT, AGENT2, CHANNELS, MANAGER, Harness
from tests.processes import Served, fake_slack, open_ticket, policy_data, shared_database, wait_quiet, write_policy

TIER1_ONCALL = {"oncall": {"rotation": [ONCALL1, ONCALL2], "every": "1w", "handoff": "mon 09:00",
                           "start": "2026-11-30"}}  # ONCALL1's week from Mon 30 Nov, ONCALL2's from 7 Dec
TIER3_ONCALL = {"oncall": {"rotation": [ONCALL2]}, "business_hours": "24x7"}


def dms(running, user):
    return [m.rendered for m in running.sim.messages(f"D{user}")] if f"D{user}" in running.sim.channels else []


def thread(running, key, level="tier1"):
    running.settle()
    return running.thread_texts(running.briefing(key, level))


def test_a_saturday_p2_dms_tier1s_on_call_once_and_a_weekday_one_does_not(database_url):
    with Harness(database_url, policy=coverage_policy({"tier1": TIER1_ONCALL})) as running:
        running.runtime.coverage.clock = at(SATURDAY_NIGHT)
        key = running.new_ticket(Summary="Checkout fails at night", Severity="P2")
        running.settle()
        [dm] = dms(running, ONCALL1)
        assert key in dm and "You're on call for *Tier 1*" in dm and "outside business hours" in dm
        assert "Checkout fails at night" in dm and "/archives/" in dm  # the link to the briefing
        assert any(f"<@{ONCALL1}>, you're on call for Tier 1" in t for t in thread(running, key))
        assert dms(running, ONCALL2) == []
        # the same arrival seen again (a reopen of the same cycle can't happen; the hook runs twice)
        with running.runtime.sessions() as session:
            from bot.models import Ticket
            ticket = session.get(Ticket, int(key.split("-")[1]))
        from bot.db import transaction
        with transaction(running.runtime.sessions) as session:
            running.runtime.coverage.pager.on_arrival(session, session.merge(ticket))
        running.settle()
        assert len(dms(running, ONCALL1)) == 1  # once

        running.runtime.coverage.clock = at(WEDNESDAY_NOON)
        weekday = running.new_ticket(Summary="Checkout fails at noon", Severity="P2")
        running.settle()
        assert len(dms(running, ONCALL1)) == 1 and dms(running, ONCALL2) == []
        assert not any("on call" in t for t in thread(running, weekday))


def test_a_holiday_is_off_hours_too(database_url):
    christmas = datetime(2026, 12, 25, 11, 0, tzinfo=BERLIN)  # a Friday, a public holiday in Germany
    with Harness(database_url, policy=coverage_policy({"tier1": TIER1_ONCALL})) as running:
        running.runtime.coverage.clock = at(christmas)
        key = running.new_ticket(Summary="Gift cards rejected")
        running.settle()
        [dm] = dms(running, ONCALL2)  # ONCALL2's week (from Mon 21 Dec: weeks 0, 1, 2, 3 → 1, 2, 1, 2)
        assert key in dm


def test_a_p1_pages_the_on_call_engineer_at_any_hour_and_its_warning_and_breach_once_each(database_url):
    policy = coverage_policy({"tier3": TIER3_ONCALL})
    with Harness(database_url, policy=policy) as running:
        running.runtime.coverage.clock = at(WEDNESDAY_NOON)  # business hours, but a P1
        key = running.new_ticket(Summary="Everything is down", Severity="P1")
        running.settle()
        assert len(dms(running, ONCALL2)) == 1
        assert any(f"<@{ONCALL2}>, you're on call for Tier 3 (a P1 pages at any hour)" in t
                   for t in thread(running, key, "tier3"))
        with running.runtime.sessions() as session:
            clock = session.scalars(select(SlaClock).where(SlaClock.kind == "response")).one()
        for moment in (clock.warn_at + timedelta(seconds=1), clock.warn_at + timedelta(seconds=2)):
            running.runtime.sla.run(now=moment)
        running.settle()
        warning = [t for t in thread(running, key, "tier3") if "SLA warning" in t]
        assert len(warning) == 1 and f"<@{ONCALL2}>" in warning[0]  # the alert itself mentions them
        for moment in (clock.due_at + timedelta(seconds=1), clock.due_at + timedelta(seconds=5)):
            running.runtime.sla.run(now=moment)
        running.settle()
        breach = [t for t in thread(running, key, "tier3") if "breached its" in t]
        assert len(breach) == 1 and f"<@{ONCALL2}>" in breach[0]
        pages = dms(running, ONCALL2)
        assert len(pages) == 3, pages  # briefing, warning, breach: once each
        assert "is close to breaching" in pages[1] and "breached its SLA" in pages[2]


def test_a_breach_after_closing_time_pages_the_on_call_person(database_url):
    data_levels = {"tier1": TIER1_ONCALL}
    policy = coverage_policy(data_levels, time_limits={"tier1": "2d"},
                             severities={**policy_data()["severities"], "P2": {"response": "1h", "entry": "tier1"}})
    with Harness(database_url, policy=policy) as running:
        running.runtime.coverage.clock = at(WEDNESDAY_NOON)
        key = running.new_ticket(Summary="Exports stuck")
        with running.runtime.sessions() as session:
            clock = session.scalars(select(SlaClock).where(SlaClock.kind == "response")).one()
        due = clock.due_at.astimezone(BERLIN)
        evening = due.replace(hour=17, minute=30) if due.hour < 17 or due.minute <= 30 else due
        running.runtime.sla.run(now=evening)  # the sweep after closing sends the breach
        running.settle()
        assert [t for t in thread(running, key) if "breached" in t and "<@" in t]
        pages = dms(running, ONCALL1) + dms(running, ONCALL2)  # whose week it is depends on today's date
        assert len(pages) == 1 and "breached its SLA" in pages[0]


def test_with_no_rotation_off_hours_messages_say_no_one_is_on_call_and_management_hears_once(database_url):
    policy = coverage_policy({}, severities={**policy_data()["severities"], "P2": {"response": "1h", "entry": "tier1"}})
    with Harness(database_url, policy=policy) as running:
        running.runtime.coverage.clock = at(SATURDAY_NIGHT)
        key = running.new_ticket(Summary="Login loops")
        assert any("No one is on call for Tier 1 outside business hours; management has been told." in t
                   for t in thread(running, key))
        pings = [m.rendered for m in running.sim.messages(CHANNELS["management"]) if key in m.rendered]
        assert len(pings) == 1 and "no one is on call at Tier 1 outside business hours" in pings[0]
        assert f"<@{MANAGER}>" in pings[0]
        with running.runtime.sessions() as session:
            clock = session.scalars(select(SlaClock).where(SlaClock.kind == "response")).one()
        running.runtime.sla.run(now=clock.due_at.astimezone(BERLIN).replace(hour=18))  # a breach off hours
        texts = thread(running, key)
        assert any("management was told earlier" in t for t in texts)
        pings = [m.rendered for m in running.sim.messages(CHANNELS["management"])
                 if key in m.rendered and "no one is on call" in m.rendered]
        assert len(pings) == 1  # once per ticket


def test_round_robin_gives_off_hours_arrivals_to_the_on_call_person(database_url):
    policy = coverage_policy({"tier1": {**TIER1_ONCALL, "assignment": "round_robin"}})
    with Harness(database_url, policy=policy) as running:
        running.runtime.coverage.clock = at(SATURDAY_NIGHT)
        night = [running.new_ticket(Summary=f"Night {n}") for n in range(2)]
        for key in night:
            assert any(f"Assigned to <@{ONCALL1}> (on call outside business hours)" in t for t in thread(running, key))
        running.runtime.coverage.clock = at(WEDNESDAY_NOON)
        day = [running.new_ticket(Summary=f"Day {n}") for n in range(2)]
        assert any(f"Assigned to <@{AGENT}> (round robin)" in t for t in thread(running, day[0]))
        assert any(f"Assigned to <@{AGENT2}> (round robin)" in t for t in thread(running, day[1]))


def test_the_daily_digest_names_who_is_on_call(database_url):
    policy = coverage_policy({"tier1": TIER1_ONCALL}, digest_at="08:30")
    with Harness(database_url, policy=policy) as running:
        monday = datetime(2026, 12, 7, 8, 45, tzinfo=BERLIN)  # before the 09:00 handoff: still ONCALL1
        assert "tier1" in running.runtime.digest.send_due(monday)
        running.settle()
        [digest] = [m.rendered for m in running.sim.messages(CHANNELS["tier1"]) if "daily digest" in m.rendered]
        assert f"On call: <@{ONCALL1}>" in digest
        [tier2] = [m.rendered for m in running.sim.messages(CHANNELS["tier2"]) if "daily digest" in m.rendered]
        assert "On call" not in tier2  # no rotation there


def test_a_restart_between_a_briefing_and_its_dm_sends_the_dm_once(database_url, tmp_path):
    data = policy_data()
    data["levels"]["tier3"].update(TIER3_ONCALL)
    policy = write_policy(tmp_path, data)
    with fake_slack() as sim:
        first = Served("first", sim, database_url, policy, tmp_path).start()
        second = Served("second", sim, database_url, policy, tmp_path)
        try:
            late = sim.answer_late("chat.postMessage", seconds=120, channel=CHANNELS["tier3"])
            from tests.test_crash_recovery import open_through_slack
            key = open_through_slack(sim, first, "The API is down", severity="P1")  # pages at any hour
            assert late.took_effect.wait(15), "the briefing never reached Slack"
            first.kill()  # Slack has the briefing; its DM is still owed
            assert f"D{ONCALL2}" not in sim.channels  # no DM yet
            second.start()
            sim.wait_for(lambda: sim.messages(f"D{ONCALL2}"), timeout=60, message="the DM after the restart")
            with shared_database(database_url) as sessions:
                wait_quiet(sessions)
            [dm] = sim.messages(f"D{ONCALL2}")
            assert key in dm.rendered
            briefings = [m for m in sim.messages(CHANNELS["tier3"]) if f"{key} ·" in m.rendered]
            assert len(briefings) == 1
        finally:
            first.stop()
            second.stop()
    assert open_ticket and time  # helpers kept for the reader of tests/processes.py


def test_a_p1_whose_response_and_time_limit_breach_together_pages_for_each(database_url):
    # the page is once per alert and clock: the time limit's breach is news beside the response's
    policy = coverage_policy({"tier3": TIER3_ONCALL}, time_limits={"tier1": "4h", "tier3": "1h"})  # P1: 1h response
    with Harness(database_url, policy=policy) as running:
        running.runtime.coverage.clock = at(WEDNESDAY_NOON)
        key = running.new_ticket(Summary="Everything is down", Severity="P1")
        running.settle()
        with running.runtime.sessions() as session:
            clock = session.scalars(select(SlaClock).where(SlaClock.kind == "response")).one()
        running.runtime.sla.run(now=clock.due_at + timedelta(seconds=1))  # both are due: two breach alerts
        running.settle()
        breaches = [t for t in thread(running, key, "tier3") if "breached its" in t]
        assert len(breaches) == 2 and all(f"<@{ONCALL2}>" in t for t in breaches)
        assert len([page for page in dms(running, ONCALL2) if "breached its SLA" in page]) == 2
