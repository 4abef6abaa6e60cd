"""SLA rules people would notice if they broke: a specialist's reply resets the progress
reminder, the reminder names the assignee, management hears of breaches of P1/P2/VIP
tickets only, and a P4 never escalates by itself."""
import time
from datetime import timedelta

import pytest

from bot.db import transaction
from bot.ids import ActionId
from bot.models import Ticket
from tests.harness import AGENT, AGENT2, CHANNELS, MANAGER, Harness, with_level_setting
from tests.test_sla import short_policy


def sla_policy(time_limits=None, **levels_assignment):
    policy = short_policy(time_limits=time_limits or {"tier1": "8s", "tier2": "1h"}, severities={
        "P1": {"response": "4s", "update_every": "3s", "entry": "tier3"},
        "P2": {"response": "4s", "update_every": "3s", "entry": "tier1"},
        "P3": {"response": "4s", "update_every": "3s", "entry": "tier1"},
        "P4": {"response": "4s", "entry": "tier1"},  # at Tier 1, where a time limit applies
    })
    return with_level_setting("assignment", levels_assignment, policy)


@pytest.fixture
def sla(database_url):
    with Harness(database_url, policy=sla_policy()) as running:
        yield running


def ticket_of(harness, key) -> Ticket:
    with harness.runtime.sessions() as session:
        return session.get(Ticket, int(key.split("-")[1]))


def reminders(harness, briefing) -> list[str]:
    return [t for t in harness.thread_texts(briefing) if "No progress update" in t]


# For the reminder tests Tier 1's time limit is out of the way: a ticket whose time limit
# passes leaves the level, and its reminder is dropped as moot.
LONG_LIMITS = {"tier1": "1h", "tier2": "1h"}


def test_a_specialists_reply_in_the_thread_resets_the_progress_reminder(database_url):
    with Harness(database_url, policy=sla_policy(LONG_LIMITS)) as sla:
        a_reply_resets_the_reminder(sla)


def a_reply_resets_the_reminder(sla):
    key = sla.new_ticket(Severity="P2")
    briefing = sla.briefing(key)
    sla.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
    sla.sim.wait_for(lambda: ticket_of(sla, key).acknowledged_at, message="the acknowledgment")
    acknowledged = ticket_of(sla, key).acknowledged_at
    time.sleep(1.5)  # update_every is 3s: the reply comes half-way through it
    sla.driver.thread_reply(AGENT2, CHANNELS["tier1"], briefing.ts, "Found the failing job, restarting it")
    sla.wait_thread(briefing, "Acknowledged by")
    sla.settle()

    sla.runtime.sla.run(now=acknowledged + timedelta(seconds=3.5))  # 3s after the acknowledgment, 2s after the reply
    sla.settle()
    assert reminders(sla, briefing) == [], "the reminder fired at someone who had just answered"

    sla.runtime.sla.run(now=acknowledged + timedelta(seconds=5))  # 3s after the reply
    sla.settle()
    assert len(reminders(sla, briefing)) == 1


def test_the_progress_reminder_names_the_assignee(database_url):
    with Harness(database_url, policy=sla_policy(LONG_LIMITS, tier1="round_robin")) as sla:
        key = sla.new_ticket(Severity="P2")
        assert ticket_of(sla, key).assignee_id == AGENT  # round robin starts with the first member
        briefing = sla.briefing(key)
        sla.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)  # someone else acknowledges
        sla.sim.wait_for(lambda: ticket_of(sla, key).acknowledged_at, message="the acknowledgment")
        sla.runtime.sla.run(now=ticket_of(sla, key).acknowledged_at + timedelta(seconds=3.5))
        sla.settle()
        [reminder] = reminders(sla, briefing)
        assert f"<@{AGENT}>" in reminder and f"<@{AGENT2}>" not in reminder


def management_breaches(harness, key) -> list[str]:
    return [m.rendered for m in harness.sim.messages(CHANNELS["management"]) if key in m.rendered
            and "breached" in m.rendered]


def test_management_hears_of_breaches_of_p1_p2_and_vip_tickets_only(sla):
    ordinary = sla.new_ticket(Severity="P3", Summary="Export slow")
    vip = sla.new_ticket(Severity="P3", Summary="Export slow for a VIP", **{"Business risk": ["VIP customer"]})
    urgent = sla.new_ticket(Severity="P2", Summary="Export failing")
    for key in (ordinary, vip, urgent):
        sla.briefing(key)
    sla.runtime.sla.run(now=ticket_of(sla, urgent).created_at + timedelta(seconds=5))  # every response target passed
    sla.settle()
    for key in (ordinary, vip, urgent):  # each thread hears of its own breach
        assert any("breached its 4s response target" in t for t in sla.thread_texts(sla.briefing(key)))
    assert management_breaches(sla, ordinary) == []  # a P3 without a VIP pages nobody
    for key in (vip, urgent):
        [alert] = management_breaches(sla, key)
        assert f"<@{MANAGER}>" in alert


def test_a_p4_never_escalates_by_itself(sla):
    p4 = sla.new_ticket(Severity="P4", Summary="Dark mode please")
    p3 = sla.new_ticket(Severity="P3", Summary="Export slow")
    briefing = sla.briefing(p4)
    sla.briefing(p3)
    sla.runtime.sla.run(now=ticket_of(sla, p3).created_at + timedelta(seconds=9))  # Tier 1's 8s time limit passed
    sla.settle()
    assert ticket_of(sla, p3).level == "tier2"  # the rule is on: the P3 went up
    assert ticket_of(sla, p4).level == "tier1"
    assert not [t for t in sla.thread_texts(briefing) if "time limit" in t or "Escalated" in t]
    assert not [m for m in sla.sim.messages(CHANNELS["tier2"]) if f"{p4} ·" in m.rendered]


def test_the_sweep_does_not_escalate_a_p4_even_with_a_time_limit_running(sla):
    """A time-limit clock that runs for a P4 (one started before its severity was recorded
    as P4, say) breaches, but the sweep still doesn't move the ticket."""
    key = sla.new_ticket(Severity="P3", Summary="Export slow")
    briefing = sla.briefing(key)
    with transaction(sla.runtime.sessions) as session:
        session.get(Ticket, int(key.split("-")[1])).severity = "P4"
    sla.runtime.sla.run(now=ticket_of(sla, key).created_at + timedelta(seconds=9))
    sla.settle()
    assert ticket_of(sla, key).level == "tier1"
    [breach] = [t for t in sla.thread_texts(briefing) if "breached its 8s time limit" in t]
    assert "escalating" not in breach
