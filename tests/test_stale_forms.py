"""A command or form that meets a ticket no longer as the person saw it — resolved, imported
history, moved on since the form opened — is refused where the person is, saying what
happened in full, and changes nothing (bot/desk_checks.py)."""
from pathlib import Path

from sqlalchemy import select

from bot.cli import main
from bot.ids import ActionId
from bot.messages import local_time
from bot.models import Ticket, TicketEvent
from tests.harness import AGENT, AGENT2, CHANNELS, SPECIALIST, SUPPORT

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def told(harness, user, channel, before: int) -> str:
    return harness.sim.wait_for(lambda: harness.ephemeral_texts(user, channel)[before:],
                                message=f"the answer to {user}")[0]


def events(harness, kind: str) -> list[TicketEvent]:
    with harness.runtime.sessions() as session:
        return session.scalars(select(TicketEvent).where(TicketEvent.kind == kind).order_by(TicketEvent.id)).all()


def resolve(harness, user, briefing) -> None:
    modal = harness.modal_from(user, briefing, ActionId.RESOLVE)
    harness.driver.submit_view(user, modal.id, {"Resolution": "Reindexed", "Root cause": "Bug"})


def escalate_form_then_resolved(harness):
    """AGENT opens the escalate form of a new ticket; AGENT2 resolves the ticket meanwhile."""
    key = harness.new_ticket(Summary="Search is empty")
    briefing = harness.briefing(key)
    form = harness.modal_from(AGENT, briefing, ActionId.ESCALATE)
    resolve(harness, AGENT2, briefing)
    harness.sim.wait_for(lambda: events(harness, "resolved"), message="the resolution")
    return key, briefing, form


def escalate(harness, user, briefing, level="Tier 2", reason="Needs a specialist") -> None:
    modal = harness.modal_from(user, briefing, ActionId.ESCALATE)
    harness.driver.submit_view(user, modal.id, {"Level": level, "Trigger": "Complexity", "Reason": reason})


def test_escalating_a_resolved_ticket_by_command_is_refused_before_any_form(harness):
    key = harness.new_ticket(Summary="Search is empty")
    resolve(harness, AGENT2, harness.briefing(key))
    resolved = harness.sim.wait_for(lambda: events(harness, "resolved"), message="the resolution")[0]
    opened = len(harness.sim.views_opened(AGENT))
    harness.driver.command(AGENT, SUPPORT, key)
    assert told(harness, AGENT, SUPPORT, 0) == (
        f"{key} was resolved by <@{AGENT2}> ({local_time(resolved.at, harness.policy)}), so it can't be "
        "escalated. Nothing changed; reopen it from its briefing if it needs more work.")
    assert len(harness.sim.views_opened(AGENT)) == opened  # no form to fill in for nothing


def test_a_form_sent_after_the_ticket_was_resolved_says_what_it_can_no_longer_do(harness):
    key, briefing, form = escalate_form_then_resolved(harness)
    harness.driver.submit_view(AGENT, form.id, {"Level": "Tier 2", "Trigger": "Complexity", "Reason": "Too late"})
    answer = told(harness, AGENT, CHANNELS["tier1"], 0)
    assert answer.startswith(f"{key} was resolved by <@{AGENT2}>") and "so it can't be escalated." in answer
    assert events(harness, "escalated") == []


def test_imported_history_can_not_be_escalated_and_says_where_it_came_from(harness, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", harness.database_url)
    main(["import", str(EXAMPLES / "helpdesk_export.csv"), "--mapping", str(EXAMPLES / "helpdesk_mapping.yaml")])
    with harness.runtime.sessions() as session:
        keys = {t.source_id: t.key for t in session.scalars(select(Ticket))}
    still_open, solved = keys["zendesk:1006"], keys["zendesk:1002"]
    for n, (key, state) in enumerate(((still_open, "still open"), (solved, "resolved"))):
        harness.driver.command(AGENT, SUPPORT, key)
        assert told(harness, AGENT, SUPPORT, n) == (
            f"{key} is history imported from zendesk ({state} there), so it can't be escalated here. "
            "Nothing changed; `/escalate` opens a new escalation if it needs work.")
    assert harness.sim.views_opened(AGENT) == []
    assert [e for e in events(harness, "escalated") if e.trigger != "imported"] == []


def test_a_stale_form_names_the_tickets_latest_move_not_an_earlier_one_nor_another_tickets(harness):
    key = harness.new_ticket(Summary="Exports time out")
    other = harness.new_ticket(Summary="Invoices doubled")
    briefing = harness.briefing(key)
    stale = harness.modal_from(AGENT, briefing, ActionId.ESCALATE)  # opened while the ticket is at Tier 1
    escalate(harness, AGENT2, briefing)
    tier2 = harness.briefing(key, "tier2")
    back = harness.modal_from(SPECIALIST, tier2, ActionId.DEESCALATE)
    harness.driver.submit_view(SPECIALIST, back.id, {"Level": "Tier 1", "Reason": "A known fix, see the KB"})
    harness.sim.wait_for(lambda: events(harness, "deescalated"), message="the de-escalation")
    escalate(harness, AGENT2, harness.briefing(other), reason="Another ticket, moved last")
    harness.sim.wait_for(lambda: len(events(harness, "escalated")) == 2, message="the other ticket's escalation")

    harness.driver.submit_view(AGENT, stale.id, {"Level": "Tier 2", "Trigger": "Complexity", "Reason": "Stale"})
    assert told(harness, AGENT, CHANNELS["tier1"], 0) == (
        f"{key} changed while you had this open: de-escalated Tier 2 → Tier 1 by <@{SPECIALIST}>: A known fix, "
        "see the KB. Nothing changed; it is now at Tier 1, so act on its briefing there.")
    assert len(events(harness, "escalated")) == 2


def test_a_form_opened_before_a_resolve_and_reopen_names_the_reopening(harness):
    key, briefing, stale = escalate_form_then_resolved(harness)
    harness.sim.wait_for(lambda: "[Reopen]" in harness.sim.message(CHANNELS["tier1"], briefing.ts).rendered,
                         message="the Reopen button")
    harness.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.REOPEN)
    harness.sim.wait_for(lambda: events(harness, "reopened"), message="the reopening")

    harness.driver.submit_view(AGENT, stale.id, {"Level": "Tier 2", "Trigger": "Complexity", "Reason": "Stale"})
    assert told(harness, AGENT, CHANNELS["tier1"], 0) == (
        f"{key} changed while you had this open: reopened at Tier 1 by <@{AGENT2}>. Nothing changed; "
        "it is now at Tier 1, so act on its briefing there.")
    assert events(harness, "escalated") == []
