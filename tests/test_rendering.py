import json

from bot import messages
from bot.context import ActionContext
from bot.models import Ticket
from bot.policy import load_policy
from bot.rendering import cut_mrkdwn, escape_mrkdwn

HOSTILE = "Refund <!channel> & <@U123> <https://evil.example|click> \"quoted\" 'single'"


def make_ticket(**fields) -> Ticket:
    base = dict(id=12, summary=HOSTILE, customer="ACME <b>", severity="P2", impact="multiple_users",
                complexity="cant_diagnose", steps_taken="restarted & retried", level="tier1", status="open",
                requester_id="U0AGENT1", vip=True, executive_contact=False, asked_for_manager=False,
                brand_risk=False, revenue_at_risk=None)
    base.update(fields)
    return Ticket(**base)


def all_text(payload) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_escape_is_exactly_the_three_characters():
    assert escape_mrkdwn("a & b < c > d \"e\" 'f'") == "a &amp; b &lt; c &gt; d \"e\" 'f'"


def test_briefing_escapes_every_user_value_and_keeps_quotes():
    payload = messages.briefing(make_ticket(), "tier1", load_policy())
    text = all_text(payload)
    assert "<!channel>" not in text and "<@U123>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert "ACME &lt;b&gt;" in text
    assert '\\"quoted\\"' in text and "'single'" in text and "&#39;" not in text
    assert "<@U0AGENT1>" in text  # our own mention is a real mention


def test_briefing_shows_key_summary_steps_and_acknowledge_button():
    payload = messages.briefing(make_ticket(), "tier1", load_policy())
    text = all_text(payload)
    assert "ESC-12" in text and "restarted &amp; retried" in text
    buttons = [e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == [
        "Acknowledge", "Escalate", "Waiting on customer", "Resolve", "Update facts", "Update customer",
        "Reassign"]  # tier1: nothing below to de-escalate to
    assert ActionContext.decode(buttons[0]["value"]) == ActionContext(ticket_id=12, level="tier1")


def test_a_briefing_for_a_level_the_ticket_left_has_no_buttons():
    payload = messages.briefing(make_ticket(level="tier2"), "tier1", load_policy())
    assert not [b for b in payload["blocks"] if b["type"] == "actions"]
    assert "Moved to Tier 2" in all_text(payload)


def test_long_summary_is_cut_with_an_ellipsis_inside_limits():
    payload = messages.briefing(make_ticket(summary="x" * 5000), "tier1", load_policy())
    section = payload["blocks"][1]["text"]["text"]
    assert len(section) <= 3000 and section.endswith("…")
    assert len(payload["text"]) <= 3000


def test_cutting_never_splits_an_entity_or_a_link():
    text = "a" * 95 + "&amp;bbbb"
    assert cut_mrkdwn(text, 100) == "a" * 95 + "…"
    linked = "a" * 90 + "<https://example.com|x>"
    assert cut_mrkdwn(linked, 100) == "a" * 90 + "…"


def test_modal_prefill_is_plain_text_not_escaped():
    view = messages.new_escalation_modal(load_policy(), ActionContext(channel="C1"), prefill_summary="a < b & c")
    summary = next(b for b in view["blocks"] if b.get("block_id") == "summary")
    assert summary["element"]["initial_value"] == "a < b & c"
    assert view["title"]["text"] == "New escalation"
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == ["Summary", "Customer", "Severity", "Impact", "Complexity", "Steps taken",
                      "Revenue at risk", "Business risk"]


def test_status_history_escapes_reasons():
    from bot.models import TicketEvent
    from datetime import datetime, timezone

    ticket = make_ticket()
    ticket.events = [TicketEvent(kind="escalated", actor_id="U0AGENT1", from_level="tier1", to_level="tier2",
                                 trigger="complexity", reason="<!here> now", at=datetime.now(timezone.utc))]
    text = all_text(messages.status_reply(ticket, load_policy(), None))
    assert "&lt;!here&gt; now" in text and "<!here>" not in text
