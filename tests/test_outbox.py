"""What bot.outbox records decides what people see in Slack: a commit that owes messages
wakes the worker at once, rows owed together keep their identities, and edits, Home
refreshes and files owed are each delivered as owed.

The worker's poll (poll_interval) is the fallback for a missed wake-up; these tests set it
far beyond their waits, so a message that only goes out at the next poll counts as late.
"""
from __future__ import annotations

import dataclasses
import threading

from bot import outbox
from bot.db import transaction
from bot.forms import Resolution, parse_new_ticket
from bot.simulator.queries import scaled
from tests.harness import AGENT, CHANNELS, FAST_DELIVERY, Harness

SLOW_POLL = dataclasses.replace(FAST_DELIVERY, poll_interval=60.0)
PROMPT = 5.0  # seconds (times ESCALATOR_TEST_WAIT_SCALE): far less than a poll


def test_a_new_escalation_reaches_slack_at_once_not_at_the_next_poll(database_url):
    with Harness(database_url, delivery=SLOW_POLL) as h:
        key = h.new_ticket(AGENT, Summary="Checkout fails with a 500")
        briefing = h.briefing(key, timeout=PROMPT)
        assert briefing.channel == CHANNELS["tier1"]


def resolution() -> Resolution:
    return Resolution("fixed", "Bug", False, None, None, None)


def briefing_updates(h: Harness) -> list:
    return [c for c in h.sim.calls_to("chat.update") if c.params.get("channel") == CHANNELS["tier1"]]


def test_a_burst_of_changes_costs_the_briefing_one_update_showing_the_last(database_url):
    """Each change owes an update rendered when sent; one waiting stands for the others."""
    with Harness(database_url, start_worker=False) as h:
        desk, worker = h.runtime.desk, h.runtime.worker
        ticket = desk.open_ticket(parse_new_ticket({"summary": "Checkout is down", "severity": "P2"}),
                                  requester_id=AGENT)
        assert worker.drain(timeout=scaled(10))
        homes = len(h.sim.calls_to("views.publish"))
        desk.acknowledge(ticket.id, AGENT)
        desk.resolve(ticket.id, resolution(), AGENT)
        assert worker.drain(timeout=scaled(10))

        assert len(briefing_updates(h)) == 1, [c.params.get("text") for c in briefing_updates(h)]
        [briefing] = h.sim.messages(CHANNELS["tier1"])
        assert "*Resolved " in briefing.rendered and "[Reopen]" in briefing.rendered, briefing.rendered
        assert len(h.sim.calls_to("views.publish")) - homes == 1  # the agent's Home, once


def test_a_change_made_while_its_briefing_update_is_being_sent_gets_its_own(database_url):
    """An update already claimed was rendered before the change: it can't stand for it."""
    with Harness(database_url, start_worker=False) as h:
        desk, worker = h.runtime.desk, h.runtime.worker
        ticket = desk.open_ticket(parse_new_ticket({"summary": "Checkout is down", "severity": "P2"}),
                                  requester_id=AGENT)
        assert worker.drain(timeout=scaled(10))
        desk.acknowledge(ticket.id, AGENT)
        slow = h.sim.answer_late("chat.update", seconds=1.5, channel=CHANNELS["tier1"])
        sending = threading.Thread(target=worker.drain, args=(scaled(10),))
        sending.start()
        try:
            assert slow.took_effect.wait(scaled(10))
            assert "Acknowledged by" in h.sim.messages(CHANNELS["tier1"])[0].rendered
            desk.resolve(ticket.id, resolution(), AGENT)
        finally:
            sending.join(scaled(15))
        assert worker.drain(timeout=scaled(10))

        assert len(briefing_updates(h)) == 2
        [briefing] = h.sim.messages(CHANNELS["tier1"])
        assert "*Resolved " in briefing.rendered and "[Reopen]" in briefing.rendered, briefing.rendered
