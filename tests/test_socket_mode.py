"""Socket Mode against a local Socket Mode server (real WebSocket frames): the core flow
over envelopes, a refresh with no gap, a dropped or silent socket replaced within
seconds, several processes on one database, and a refused app token."""
from __future__ import annotations

import pytest

from bot.ids import ActionId
from tests.harness import AGENT, AGENT2, CHANNELS
from tests.socket_harness import SocketModeHarness


@pytest.fixture
def socket_harness(database_url):
    with SocketModeHarness(database_url) as running:
        yield running


def test_core_flow_over_envelopes_every_envelope_acked_in_time(socket_harness):
    h = socket_harness
    key = h.new_ticket(Summary="Checkout fails for all EU users")  # /escalate → modal → submit
    briefing = h.briefing(key, "tier1")
    assert "Checkout fails for all EU users" in briefing.rendered
    h.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
    h.wait_thread(briefing, f"Acknowledged by <@{AGENT2}>")
    kinds = [d.type for d in h.driver.deliveries]
    assert kinds == ["slash_commands", "interactive", "interactive"]
    assert all(d.ack_seconds < 3 for d in h.driver.deliveries), [d.ack_seconds for d in h.driver.deliveries]
    assert [len(d.acks) for d in h.driver.deliveries] == [1, 1, 1]
