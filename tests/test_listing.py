"""`/escalate list [mine|LEVEL]` pages through open tickets with Previous / Next,
most severe and oldest first, in the same ephemeral."""
from decimal import Decimal

from bot.forms import NewTicket
from bot.ids import ActionId
from tests.harness import AGENT, AGENT2, SUPPORT


def open_tickets(harness, count, *, severity="P3", requester=AGENT2, prefix="Case"):
    for n in range(count):
        harness.runtime.desk.open_ticket(NewTicket(f"{prefix} {n + 1}", "", severity, "one_user", "known_issue",
                                                   "", Decimal(0), frozenset()), requester_id=requester)


def keys_in(text):
    return [word.strip("*") for word in text.split() if word.startswith("*ESC-")]


def test_list_pages_forward_and_back_in_place(harness):
    open_tickets(harness, 22)  # ESC-1 … ESC-22, P3
    open_tickets(harness, 1, severity="P1", prefix="Outage")  # ESC-23 sorts first
    harness.driver.command(AGENT, SUPPORT, "list")
    first = harness.sim.ephemerals(channel=SUPPORT, user=AGENT)[-1]
    assert "Open escalations* (23) · page 1 of 3" in first.rendered
    assert keys_in(first.rendered) == ["ESC-23"] + [f"ESC-{n}" for n in range(1, 10)]
    assert "[Next ›]" in first.rendered and "Previous" not in first.rendered

    harness.driver.click(AGENT, SUPPORT, first.ts, ActionId.LIST_NEXT)
    second = harness.sim.wait_for(lambda: "page 2 of 3" in first.rendered and first, message="page 2")
    assert keys_in(second.rendered) == [f"ESC-{n}" for n in range(10, 20)]
    assert "[‹ Previous] [Next ›]" in second.rendered
    harness.driver.click(AGENT, SUPPORT, first.ts, ActionId.LIST_NEXT)
    third = harness.sim.wait_for(lambda: "page 3 of 3" in first.rendered and first, message="page 3")
    assert keys_in(third.rendered) == ["ESC-20", "ESC-21", "ESC-22"] and "Next" not in third.rendered
    harness.driver.click(AGENT, SUPPORT, first.ts, ActionId.LIST_PREVIOUS)
    harness.sim.wait_for(lambda: "page 2 of 3" in first.rendered, message="back to page 2")
    assert len(harness.sim.ephemerals(channel=SUPPORT, user=AGENT)) == 1  # one list, turned in place


def test_list_keeps_its_scope_across_pages(harness):
    open_tickets(harness, 12, requester=AGENT2, prefix="Theirs")  # tier1: AGENT is a member, so "mine"
    open_tickets(harness, 3, severity="P4", prefix="Idea")  # planning: not AGENT's level
    harness.driver.command(AGENT, SUPPORT, "list tier1")
    shown = harness.sim.ephemerals(channel=SUPPORT, user=AGENT)[-1]
    assert "Open escalations at Tier 1* (12) · page 1 of 2" in shown.rendered
    harness.driver.click(AGENT, SUPPORT, shown.ts, ActionId.LIST_NEXT)
    harness.sim.wait_for(lambda: "page 2 of 2" in shown.rendered, message="page 2")
    assert "at Tier 1" in shown.rendered and keys_in(shown.rendered) == ["ESC-11", "ESC-12"]
    assert "Idea" not in shown.rendered


def test_a_short_list_has_no_page_buttons(harness):
    open_tickets(harness, 2)
    harness.driver.command(AGENT, SUPPORT, "list mine")
    shown = harness.sim.ephemerals(channel=SUPPORT, user=AGENT)[-1]
    assert "Your open escalations* (2)" in shown.rendered and "page" not in shown.rendered
    assert "[Next" not in shown.rendered
