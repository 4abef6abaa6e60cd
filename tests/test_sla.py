"""SLA clocks from Slack's side: warnings, breaches, automatic escalation, progress
reminders, pauses and `/escalate why`, each notice exactly once."""
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select

from bot.forms import Resolution
from bot.ids import ActionId
from bot.models import Alert, SlaClock, Ticket, utcnow
from bot.policy import parse_policy
from tests.harness import AGENT, AGENT2, CHANNELS, MANAGER, SUPPORT, Harness


def short_policy(**overrides):
    from importlib import resources

    data = yaml.safe_load(resources.files("bot").joinpath("default_policy.yaml").read_text())
    data.update(sweep_interval="1s", warn_at=0.5, time_limits={"tier1": "8s", "tier2": "1h"})
    data["severities"]["P2"] = {"response": "4s", "update_every": "3s", "entry": "tier1"}
    data.update(overrides)
    return parse_policy(data)


@pytest.fixture
def sla(database_url):
    with Harness(database_url, policy=short_policy()) as running:
        yield running


def alerts_of(harness, kind):
    with harness.runtime.sessions() as session:
        return session.scalars(select(Alert).where(Alert.kind == kind)).all()


def ticket_row(harness):
    with harness.runtime.sessions() as session:
        return session.scalars(select(Ticket)).one()


def test_warning_then_breach_then_automatic_escalation_each_once(sla):
    key = sla.new_ticket(Severity="P2", **{"Business risk": ["VIP customer"]})
    briefing = sla.briefing(key)
    opened = ticket_row(sla).created_at
    for seconds in (1, 2.1, 2.2, 4.1, 4.5, 8.1, 8.2, 9, 12):  # a sweep after each moment, some twice
        sla.runtime.sla.run(now=opened + timedelta(seconds=seconds))
        sla.runtime.sla.run(now=opened + timedelta(seconds=seconds))
    sla.settle()
    thread = sla.thread_texts(briefing)
    assert len([t for t in thread if "response SLA warning" in t]) == 1
    assert len([t for t in thread if "breached its 4s response target" in t]) == 1
    assert len([t for t in thread if "breached its 8s time limit at Tier 1" in t and "escalating to Tier 2" in t]) == 1
    assert len([t for t in thread if "Escalated to Tier 2 by Escalator" in t]) == 1
    tier2 = sla.briefing(key, "tier2")
    assert "Time limit" in tier2.rendered and "8s in Tier 1 without resolution" in tier2.rendered
    management = [m.rendered for m in sla.sim.messages(CHANNELS["management"])]
    assert len([m for m in management if "breached its 4s response target" in m]) == 1  # P2 + VIP
    assert all(f"<@{MANAGER}>" in m for m in management if "breached" in m)
    assert [a.kind for a in alerts_of(sla, "breach")] == ["breach", "breach"]


def test_acknowledging_stops_the_response_clock(sla):
    key = sla.new_ticket(Severity="P2")
    briefing = sla.briefing(key)
    sla.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
    sla.runtime.sla.run(now=utcnow() + timedelta(seconds=5))
    sla.settle()
    assert not [t for t in sla.thread_texts(briefing) if "response" in t and ("warning" in t or "breached" in t)]


def test_progress_reminders_come_on_the_cadence_and_a_reply_resets_it(database_url):
    # Tier 1's time limit out of the way: with 8s, a sweep 6.7s after a slow acknowledgment
    # escalated the ticket instead of reminding (the reminder is moot then), an intermittent failure
    with Harness(database_url, policy=short_policy(time_limits={"tier1": "1h", "tier2": "1h"})) as sla:
        key = sla.new_ticket(Severity="P2")
        briefing = sla.briefing(key)
        sla.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
        sla.settle()
        start = ticket_row(sla).acknowledged_at  # the cadence counts from the acknowledgment
        sla.runtime.sla.run(now=start + timedelta(seconds=3.5))  # update_every 3s: one reminder
        sla.runtime.sla.run(now=start + timedelta(seconds=3.6))  # not again
        sla.settle()
        reminders = [t for t in sla.thread_texts(briefing) if "No progress update" in t]
        assert len(reminders) == 1 and f"<@{AGENT2}>" in reminders[0]
        sla.runtime.sla.run(now=start + timedelta(seconds=6.7))  # one cadence later: the next one
        sla.settle()
        assert len([t for t in sla.thread_texts(briefing) if "No progress update" in t]) == 2


def test_waiting_on_customer_pauses_and_resume_keeps_the_paused_time(sla):
    key = sla.new_ticket(Severity="P2")
    briefing = sla.briefing(key)
    ticket_id = int(key.split("-")[1])
    with sla.runtime.sessions() as session:
        before = session.scalars(select(SlaClock).where(SlaClock.kind == "response")).one().due_at
    sla.runtime.desk.wait_on_customer(ticket_id, AGENT, "asked for a HAR file")
    sla.runtime.sla.run(now=utcnow() + timedelta(seconds=30))  # long past the old deadline: nothing
    sla.settle()
    assert not [t for t in sla.thread_texts(briefing) if "breached" in t]
    assert any("Waiting on the customer" in t and "asked for a HAR file" in t for t in sla.thread_texts(briefing))
    import time
    time.sleep(0.5)
    sla.runtime.desk.resume(ticket_id, AGENT, "customer answered")
    with sla.runtime.sessions() as session:
        after = session.scalars(select(SlaClock).where(SlaClock.kind == "response")).one().due_at
    assert after - before >= timedelta(seconds=0.5)  # the paused time is added, not lost


def test_lowering_severity_recomputes_from_the_original_start(sla):
    sla.new_ticket(Severity="P2")
    ticket = ticket_row(sla)
    sla.runtime.facts.change_severity(ticket.id, "P3", AGENT)
    with sla.runtime.sessions() as session:
        clock = session.scalars(select(SlaClock).where(SlaClock.kind == "response")).one()
    assert clock.started_at == ticket.created_at
    assert clock.due_at == ticket.created_at + timedelta(hours=8)  # P3's 8h, 24x7, from the start


def test_why_explains_the_clocks_in_words(sla):
    key = sla.new_ticket(Severity="P2")
    sla.briefing(key)
    sla.driver.command(AGENT, SUPPORT, f"why {key}")
    why = sla.ephemeral_texts(AGENT, SUPPORT)[-1]
    assert f"*{key}* · P2 · Tier 1" in why
    assert "Response at Tier 1*: breaches" in why and "Berlin" in why
    assert "Time limit at Tier 1*: escalates to Tier 2" in why
    assert "• opened " in why and "Business hours: 24x7" in why


def test_the_scheduler_sweeps_on_its_own(database_url):
    with Harness(database_url, policy=short_policy(), scheduler=True) as running:
        key = running.new_ticket(Severity="P2")
        briefing = running.briefing(key)
        running.wait_thread(briefing, "breached its 4s response target", timeout=10)
        assert len([t for t in running.thread_texts(briefing) if "response SLA warning" in t]) == 1


def test_waiting_on_customer_and_resume_from_the_briefing_buttons(sla):
    key = sla.new_ticket(Severity="P2")
    briefing = sla.briefing(key)
    sla.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.WAIT)
    modal = sla.sim.wait_for(lambda: sla.sim.open_modal(AGENT), message="the wait modal")
    empty = sla.driver.submit_view(AGENT, modal.id, {"Reason": " "}, enforce_required=False)
    assert empty.json["response_action"] == "errors" and "reason" in empty.json["errors"]
    sla.driver.submit_view(AGENT, modal.id, {"Reason": "Asked for the order id"})
    sla.wait_thread(briefing, "SLA clocks are paused")
    sla.sim.wait_for(lambda: "Waiting on the customer" in briefing.rendered and "[Resume]" in briefing.rendered,
                     message="the briefing to offer Resume")
    sla.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.RESUME)
    modal = sla.sim.wait_for(lambda: sla.sim.open_modal(AGENT), message="the resume modal")
    sla.driver.submit_view(AGENT, modal.id, {"Reason": "Order id received"})
    sla.wait_thread(briefing, "SLA clocks are running again")
    assert ticket_row(sla).status == "open"
    sla.driver.command(AGENT, SUPPORT, f"why {key}")
    assert "waiting on customer (Asked for the order id)" in sla.ephemeral_texts(AGENT, SUPPORT)[-1]


def test_overflow_tells_management_once_per_crossing(database_url):
    policy = short_policy()
    data_levels = {k: v for k, v in policy.levels.items()}
    from dataclasses import replace

    data_levels["tier1"] = replace(policy.levels["tier1"], capacity=2)
    policy = replace(policy, levels=data_levels)
    with Harness(database_url, policy=policy) as running:
        keys = [running.new_ticket(Summary=f"Problem {n}") for n in range(3)]  # the third crosses
        running.new_ticket(Summary="Problem 4")  # still over: no second notice
        running.settle()
        notices = [m.rendered for m in running.sim.messages(CHANNELS["management"]) if "over capacity" in m.rendered]
        assert len(notices) == 1
        assert "*Tier 1* is over capacity: *3* open tickets (capacity 2)" in notices[0]
        assert f"<@{MANAGER}>" in notices[0] and keys[0] in notices[0]
        for number in (1, 2, 3):  # back under capacity…
            running.runtime.desk.resolve(number, Resolution("fixed", "Bug", False, None, None, None), AGENT)
        running.new_ticket(Summary="Problem 5")
        running.new_ticket(Summary="Problem 6")  # …and over again: a second crossing, a second notice
        running.settle()
        notices = [m.rendered for m in running.sim.messages(CHANNELS["management"]) if "over capacity" in m.rendered]
        assert len(notices) == 2


def test_daily_digest_once_per_level_per_day_on_working_days(database_url):
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    from datetime import datetime

    weekdays = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
    policy = short_policy(digest_at="08:30")
    from dataclasses import replace
    from bot.policy import BusinessHours

    policy = replace(policy, business_hours=BusinessHours(days=tuple(weekdays["days"]), start="09:00", end="17:00"))
    with Harness(database_url, policy=policy) as running:
        key = running.new_ticket(Summary="Reports are empty", Severity="P2")
        running.new_ticket(Summary="Too early to tell", Severity="P3")
        running.runtime.desk.wait_on_customer(2, AGENT, "screenshots")
        running.settle()
        friday_early = datetime(2026, 11, 27, 8, 0, tzinfo=berlin)
        saturday = datetime(2026, 11, 28, 9, 0, tzinfo=berlin)
        friday = datetime(2026, 11, 27, 8, 45, tzinfo=berlin)
        assert running.runtime.digest.send_due(friday_early) == []  # before digest_at
        assert running.runtime.digest.send_due(saturday) == []  # the level doesn't work on Saturdays
        sent = running.runtime.digest.send_due(friday)
        assert set(sent) == set(policy.levels)
        assert running.runtime.digest.send_due(friday + timedelta(hours=3)) == []  # once a day
        running.settle()
        digest = next(m.rendered for m in running.sim.messages(CHANNELS["tier1"]) if "daily digest" in m.rendered)
        assert "*Open* (2)" in digest and key in digest
        assert "*Waiting on customer* (1)" in digest and "ESC-2" in digest
        assert "*Breached* (" in digest and "*Due soon* (" in digest
