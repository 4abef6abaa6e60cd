"""What the SLA sweep sends and to whom, as people see it: the level a time limit hands a
ticket to (and none from the top), what warnings, breaches and progress reminders say, that a
ticket leaving at its time limit gets no reminder there, where management's breach alert goes
and what it links to, that one run handles every due ticket, what the digest and the
lateness metric are told, and what the sweep's log lines carry. Each test holds survivors of
a mutmut run over bot/sla/sweep.py (docs/mutation-testing.md)."""
import json
import logging
import threading
from datetime import timedelta

from sqlalchemy import select

from bot.ids import ActionId
from bot.logging_setup import ContextFields
from bot.metrics import ALERT_MARK
from bot.models import OutboxMessage, SlaClock
from bot.simulator.queries import WAIT, scaled
from bot.sla.sweep import SlaSweep
from tests.harness import AGENT, AGENT2, CHANNELS, MANAGER, Harness
from tests.test_sla import short_policy
from tests.test_sla_rules import management_breaches, ticket_of

SEVERITIES = {
    "P1": {"response": "4s", "update_every": "3s", "entry": "management"},
    "P2": {"response": "4s", "update_every": "3s", "entry": "tier1"},
    "P3": {"response": "4s", "update_every": "3s", "entry": "tier2"},
    "P4": {"response": "4s", "entry": "planning"},
}


def policy(time_limits, **entries):
    severities = {key: {**value, "entry": entries.get(key, value["entry"])} for key, value in SEVERITIES.items()}
    return short_policy(time_limits=time_limits, severities=severities)


def test_a_time_limit_at_tier2_hands_the_tickets_to_tier3_and_the_log_says_so(database_url, caplog):
    with Harness(database_url, policy=policy({"tier1": "1h", "tier2": "8s"})) as sla:
        keys = [sla.new_ticket(Severity="P3", Summary=f"Export {n} fails") for n in (1, 2)]  # enter at Tier 2
        tier2 = [sla.briefing(key, "tier2") for key in keys]
        caplog.handler.addFilter(ContextFields())  # as configure_logging does: JSON lines carry the fields
        with caplog.at_level(logging.INFO, logger="escalator.sla"):
            result = sla.runtime.sla.run(now=ticket_of(sla, keys[-1]).created_at + timedelta(seconds=9))
        assert [ticket_of(sla, key).level for key in keys] == ["tier3", "tier3"]  # the next rung, not Tier 2 again
        for key, briefing in zip(keys, tier2):
            assert "8s in Tier 2 without resolution" in sla.briefing(key, "tier3").rendered
            assert "; escalating to Tier 3." in sla.wait_thread(briefing, "breached its 8s time limit at Tier 2")
        assert result.escalations == 2  # the scheduler's log line counts them
        [logged] = [record for record in caplog.records if record.getMessage().startswith(f"{keys[0]} escalated")]
        assert logged.getMessage() == f"{keys[0]} escalated automatically to tier3: 8s in Tier 2 without resolution (time limit)"
        assert (logged.ticket, logged.ticket_level, logged.event) == (keys[0], "tier2", "sla.breach")


def test_a_time_limit_at_the_top_of_the_ladder_breaches_without_escalating(database_url):
    with Harness(database_url, policy=policy({"tier1": "1h", "executive": "8s"}, P2="executive")) as sla:
        key = sla.new_ticket(Severity="P2", Summary="Board demo broken")  # enters at Executive
        briefing = sla.briefing(key, "executive")
        result = sla.runtime.sla.run(now=ticket_of(sla, key).created_at + timedelta(seconds=9))
        assert ticket_of(sla, key).level == "executive" and result.escalations == 0
        breach = sla.wait_thread(briefing, "breached its 8s time limit")
        assert "breached its 8s time limit target at Executive" in breach and "escalating" not in breach


def test_progress_reminders_say_how_long_it_has_been_and_the_sweep_counts_them(database_url):
    with Harness(database_url, policy=policy({"tier1": "1h", "tier2": "1h"})) as sla:
        keys = [sla.new_ticket(Severity="P2", Summary=f"Checkout {n} fails") for n in (1, 2)]
        briefings = [sla.briefing(key) for key in keys]
        for person, briefing in zip((AGENT, AGENT2), briefings):
            sla.driver.click(person, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
        for key in keys:
            sla.sim.wait_for(lambda: ticket_of(sla, key).acknowledged_at, message="the acknowledgment")
        last = max(ticket_of(sla, key).acknowledged_at for key in keys)
        result = sla.runtime.sla.run(now=last + timedelta(seconds=3.5))
        assert result.reminders == 2
        sla.settle()
        for key, briefing in zip(keys, briefings):
            [reminder] = [t for t in sla.thread_texts(briefing) if "No progress update" in t]
            assert f"No progress update on *{key}* for 3s (P2 asks for one every 3s)" in reminder


def test_a_breach_at_management_is_told_once_in_its_own_thread(database_url):
    with Harness(database_url, policy=policy({"tier1": "1h", "tier2": "1h"})) as sla:
        key = sla.new_ticket(Severity="P1", Summary="API down")  # enters at Management
        briefing = sla.briefing(key, "management")
        sla.runtime.sla.run(now=ticket_of(sla, key).created_at + timedelta(seconds=5))
        sla.settle()
        assert [t for t in sla.thread_texts(briefing) if "breached its 4s response target" in t]
        assert management_breaches(sla, key) == []  # no second post beside the thread


def test_managements_breach_alert_for_a_p1_or_p2_links_to_the_tickets_briefing(database_url):
    with Harness(database_url, policy=policy({"tier1": "1h", "tier2": "1h"}, P1="tier3")) as sla:
        tickets = {sla.new_ticket(Severity="P1", Summary="API down"): "tier3",
                   sla.new_ticket(Severity="P2", Summary="Export failing"): "tier1"}
        briefings = {key: sla.briefing(key, level) for key, level in tickets.items()}
        sla.runtime.sla.run(now=max(ticket_of(sla, key).created_at for key in tickets) + timedelta(seconds=5))
        sla.settle()
        for key, level in tickets.items():
            [alert] = management_breaches(sla, key)
            permalink = f"https://fake.slack.test/archives/{CHANNELS[level]}/p{briefings[key].ts.replace('.', '')}"
            assert f"<{permalink}|briefing>" in alert and f"<@{MANAGER}>" in alert
            assert f"> {'API down' if level == 'tier3' else 'Export failing'}" in alert  # the ticket's summary


def test_a_sweep_goes_on_until_every_due_ticket_is_handled(database_url):
    with Harness(database_url, policy=policy({"tier1": "1h", "tier2": "1h"})) as sla:
        keys = [sla.new_ticket(Severity="P3", Summary=f"Report {n} empty") for n in range(3)]  # at Tier 2
        briefings = [sla.briefing(key, "tier2") for key in keys]
        small_batches = SlaSweep(sla.runtime.sessions, sla.runtime.policy, sla.runtime.desk, batch=2)
        results = []
        sweep = threading.Thread(target=lambda: results.append(small_batches.run(
            now=ticket_of(sla, keys[-1]).created_at + timedelta(seconds=5))), daemon=True)
        sweep.start()
        sweep.join(timeout=scaled(WAIT))
        assert results, "the sweep never finished: a batch that handles nothing new must end it"
        assert results[0].breaches == 3  # two in the first batch, the third in the next, not a sweep later
        for briefing in briefings:
            sla.wait_thread(briefing, "breached its 4s response target")


def response_clocks(harness) -> list[SlaClock]:
    with harness.runtime.sessions() as session:
        return session.scalars(select(SlaClock).where(SlaClock.kind == "response").order_by(SlaClock.id)).all()


def test_a_warned_clock_is_looked_at_next_at_its_breach_and_a_breached_one_is_listed_as_breached(database_url):
    hour_response = short_policy(time_limits={"tier1": "8h", "tier2": "8h"}, severities={
        **SEVERITIES, "P2": {"response": "1h", "update_every": "3h", "entry": "tier1"}})  # warns after 30 min
    with Harness(database_url, policy=hour_response) as sla:
        keys = [sla.new_ticket(Severity="P2", Summary=f"Export {n} fails") for n in (1, 2)]
        opened = ticket_of(sla, keys[-1]).created_at
        warned = sla.runtime.sla.run(now=opened + timedelta(minutes=31))
        assert warned.warnings == 2 and warned.clocks == 2  # the clocks due, not the time limits not due yet
        when = sla.runtime.sla.explainer.when
        first = response_clocks(sla)[0]
        warning = sla.wait_thread(sla.briefing(keys[0]), "response SLA warning")
        assert f"of 1h used; it breaches {when(first.due_at)}." in warning  # the deadline, not the sweep's time
        assert [clock.next_check_at for clock in response_clocks(sla)] == [
            clock.due_at for clock in response_clocks(sla)]  # not every sweep until it breaches
        breached = sla.runtime.sla.run(now=opened + timedelta(minutes=61))
        assert breached.breaches == 2 and breached.warnings == 0
        assert [clock.next_check_at for clock in response_clocks(sla)] == [None, None]
        breach = sla.wait_thread(sla.briefing(keys[0]), "breached its 1h response target")
        assert f"breached its 1h response target at Tier 1 ({when(first.due_at)})." in breach
        assert "briefing" not in breach  # the thread alert is under the briefing: no link to it
        with sla.runtime.sessions() as session:  # what the alert-lateness metric measures from (bot.metrics)
            marks = [row.payload[ALERT_MARK] for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
                     if ALERT_MARK in row.payload and row.channel == CHANNELS["tier1"]]
        assert {(mark["kind"], mark["due"]) for mark in marks} == {
            (kind, moment.isoformat()) for clock in response_clocks(sla)
            for kind, moment in (("warning", clock.warn_at), ("breach", clock.due_at))}
        with sla.runtime.sessions() as session:  # the next daily digest
            digest = json.dumps(sla.runtime.digest.render(session, "tier1", opened + timedelta(minutes=62)))
        assert "*Breached* (2)" in digest and "*Due soon* (0)" in digest  # the 8h time limits are not due soon


def test_a_breach_alert_tells_the_time_the_ticket_waited_on_the_customer(database_url):
    hour_response = short_policy(time_limits={"tier1": "8h", "tier2": "8h"}, severities={
        **SEVERITIES, "P2": {"response": "1h", "update_every": "3h", "entry": "tier1"}})
    with Harness(database_url, policy=hour_response) as sla:
        key = sla.new_ticket(Severity="P2", Summary="Invoices missing")
        briefing = sla.briefing(key)
        ticket_id = int(key.split("-")[1])
        sla.runtime.desk.wait_on_customer(ticket_id, AGENT, "asked for the invoice ids")
        sla.runtime.desk.resume(ticket_id, AGENT, "ids received")
        sla.runtime.sla.run(now=ticket_of(sla, key).created_at + timedelta(minutes=61))
        breach = sla.wait_thread(briefing, "breached its 1h response target")
        assert ", paused " in breach and "waiting on customer (asked for the invoice ids)" in breach
        assert "paused since" not in breach  # a pause that ended, told as the span it lasted


def test_a_ticket_leaving_at_its_time_limit_gets_no_progress_reminder_in_the_level_it_left(database_url):
    with Harness(database_url, policy=policy({"tier1": "8s", "tier2": "1h"})) as sla:
        key = sla.new_ticket(Severity="P2", Summary="Checkout fails")
        briefing = sla.briefing(key)
        sla.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
        sla.sim.wait_for(lambda: ticket_of(sla, key).acknowledged_at, message="the acknowledgment")
        opened, acknowledged = ticket_of(sla, key).created_at, ticket_of(sla, key).acknowledged_at
        # the time limit warns (4s) and the reminder is due (3s after the acknowledgment): both are sent
        first = max(opened + timedelta(seconds=4), acknowledged + timedelta(seconds=3)) + timedelta(seconds=0.1)
        assert sla.runtime.sla.run(now=first).reminders == 1
        # the time limit passes (8s) as the next reminder comes due: the ticket leaves, the reminder is moot
        second = max(opened + timedelta(seconds=8), first + timedelta(seconds=3)) + timedelta(seconds=0.1)
        result = sla.runtime.sla.run(now=second)
        assert (result.escalations, result.reminders) == (1, 0)
        assert ticket_of(sla, key).level == "tier2"
        sla.settle()
        assert len([t for t in sla.thread_texts(briefing) if "No progress update" in t]) == 1
