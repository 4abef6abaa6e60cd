"""What bot.outbox records decides what people see in Slack: a commit that owes messages
wakes the worker at once, rows owed together keep their identities, and edits, Home
refreshes and files owed are each delivered as owed.

The worker's poll (poll_interval) is the fallback for a missed wake-up; these tests set it
far beyond their waits, so a message that only goes out at the next poll counts as late.
"""
from __future__ import annotations

import dataclasses

from bot import outbox
from bot.db import transaction
from tests.harness import AGENT, CHANNELS, FAST_DELIVERY, Harness

SLOW_POLL = dataclasses.replace(FAST_DELIVERY, poll_interval=60.0)
PROMPT = 5.0  # seconds (times ESCALATOR_TEST_WAIT_SCALE): far less than a poll


def test_a_new_escalation_reaches_slack_at_once_not_at_the_next_poll(database_url):
    with Harness(database_url, delivery=SLOW_POLL) as h:
        key = h.new_ticket(AGENT, Summary="Checkout fails with a 500")
        briefing = h.briefing(key, timeout=PROMPT)
        assert briefing.channel == CHANNELS["tier1"]
