"""The first slice end to end, as people use it: /escalate → modal → briefing →
management ping → acknowledge → escalate, on SQLite and PostgreSQL."""
import re

from sqlalchemy import select

from bot.ids import ActionId
from bot.models import Ticket, TicketEvent
from tests.harness import (AGENT, AGENT2, CHANNELS, ENGINEER, MANAGER, OUTSIDER, SPECIALIST, SUPPORT)


def test_new_escalation_modal_has_the_contract_labels(harness):
    view = harness.open_modal()
    assert view.title == "New escalation"
    labels = [b["label"]["text"] for b in view.blocks if b["type"] == "input"]
    assert labels == ["Summary", "Customer", "Severity", "Impact", "Complexity", "Steps taken",
                      "Revenue at risk", "Business risk"]
    by_label = {b["label"]["text"]: b for b in view.blocks if b["type"] == "input"}
    options = lambda label: [o["text"]["text"] for o in by_label[label]["element"]["options"]]  # noqa: E731
    assert [o[:2] for o in options("Severity")] == ["P1", "P2", "P3", "P4"]
    assert options("Impact") == ["One user", "Multiple users", "System-wide"]
    assert options("Complexity") == ["Known issue", "Can't diagnose", "Needs development"]
    assert options("Business risk") == ["VIP customer", "Executive contact", "Customer asked for a manager",
                                        "Brand reputation risk"]
    assert not by_label["Summary"].get("optional") and by_label["Revenue at risk"].get("optional")


def test_briefing_then_acknowledge_by_button(harness):
    key = harness.new_ticket(Summary="Checkout fails for all EU users", Customer="ACME GmbH",
                             **{"Steps taken": "Cleared cache, reproduced in staging"})
    briefing = harness.briefing(key, "tier1")
    assert key == "ESC-1"
    assert "Checkout fails for all EU users" in briefing.rendered
    assert "Cleared cache, reproduced in staging" in briefing.rendered
    assert "ACME GmbH" in briefing.rendered
    assert briefing.button(ActionId.ACKNOWLEDGE)[1]["text"]["text"] == "Acknowledge"

    answer = harness.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
    assert answer.status == 200
    harness.wait_thread(briefing, f"Acknowledged by <@{AGENT2}>")
    harness.sim.wait_for(lambda: f"Acknowledged by <@{AGENT2}>" in briefing.rendered and briefing.edited,
                         message="the briefing to show the acknowledgment")
    assert ActionId.ACKNOWLEDGE not in str(briefing.blocks)  # nobody can acknowledge twice


def test_p1_goes_straight_to_tier3_and_p4_to_planning(harness):
    p1 = harness.new_ticket(Summary="Everything is down", Severity="P1")
    p4 = harness.new_ticket(Summary="Please add dark mode", Severity="P4")
    assert "Everything is down" in harness.briefing(p1, "tier3").rendered
    assert "dark mode" in harness.briefing(p4, "planning").rendered
    assert not harness.sim.messages(CHANNELS["tier1"])


def test_management_is_pinged_with_reasons_and_a_link_to_the_briefing(harness):
    key = harness.new_ticket(Summary="Invoices wrong", Customer="Globex", **{
        "Revenue at risk": "25000", "Business risk": ["VIP customer", "Customer asked for a manager"]})
    briefing = harness.briefing(key, "tier2")  # the matrix: a customer asking for a manager goes to Tier 2
    ping = harness.sim.wait_for(lambda: harness.sim.find_message(key, channel=CHANNELS["management"]),
                                message="the management ping")
    assert f"<@{MANAGER}>" in ping.rendered
    for reason in ("VIP customer", "revenue at risk 25,000", "customer asked for a manager"):
        assert reason in ping.rendered
    permalink = harness.sim.wait_for(lambda: "https://" in ping.rendered and ping.rendered, message="the link")
    assert briefing.ts.replace(".", "") in permalink


def test_no_ping_for_an_ordinary_ticket_below_the_threshold(harness):
    key = harness.new_ticket(Summary="Typo on invoice", **{"Revenue at risk": "9999.99"})
    harness.briefing(key, "tier1")
    harness.settle()
    assert harness.sim.messages(CHANNELS["management"]) == []


def test_a_reply_in_the_thread_by_a_level_member_acknowledges(harness):
    key = harness.new_ticket()
    briefing = harness.briefing(key)
    harness.driver.thread_reply(OUTSIDER, CHANNELS["tier1"], briefing.ts, "any news?")
    harness.driver.thread_reply(AGENT2, CHANNELS["tier1"], briefing.ts, "On it, checking logs")
    harness.wait_thread(briefing, f"Acknowledged by <@{AGENT2}>")
    with harness.runtime.sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.status, ticket.acknowledged_by) == ("acknowledged", AGENT2)


def test_a_non_member_is_refused_and_told_who_can_act(harness):
    key = harness.new_ticket()
    briefing = harness.briefing(key)
    harness.driver.click(SPECIALIST, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
    refusal = harness.sim.wait_for(lambda: harness.ephemeral_texts(SPECIALIST), message="the refusal")
    assert f"Only Tier 1 (<@{AGENT}>, <@{AGENT2}>) or management can acknowledge {key}" in refusal[0]
    harness.settle()
    assert harness.thread_texts(briefing) == []
    with harness.runtime.sessions() as session:
        assert session.scalars(select(Ticket)).one().status == "open"


def test_escalation_to_tier2_links_both_threads(harness):
    key = harness.new_ticket(Summary="Sync drops records", **{"Steps taken": "Re-ran the sync"})
    tier1 = harness.briefing(key, "tier1")
    harness.driver.command(AGENT, SUPPORT, key)
    modal = harness.sim.wait_for(lambda: harness.sim.open_modal(AGENT), message="the escalate modal")
    assert modal.title == f"Escalate {key}"
    level = next(b for b in modal.blocks if b.get("label", {}).get("text") == "Level")
    assert level["element"]["initial_option"]["text"]["text"] == "Tier 2"
    answer = harness.driver.submit_view(AGENT, modal.id, {"Trigger": "Complexity",
                                                          "Reason": "Needs a specialist: data model"})
    assert answer.status == 200 and not answer.json

    tier2 = harness.briefing(key, "tier2")
    assert "Escalated from Tier 1" in tier2.rendered and "Needs a specialist: data model" in tier2.rendered
    assert re.search(r"response due \w{3} \d\d \w{3} \d\d:\d\d \w+ \((4h|3h 59m) left\)", tier2.rendered)
    assert "1 handoff so far" in tier2.rendered
    assert "Re-ran the sync" in tier2.rendered
    note = harness.wait_thread(tier1, "Escalated to Tier 2")
    assert tier2.ts.replace(".", "") in note  # the permalink to the new briefing
    harness.sim.wait_for(lambda: "Moved to Tier 2" in tier1.rendered, message="the old briefing updated")
    assert tier1.ts.replace(".", "") in tier2.rendered  # link back to the earlier thread
    harness.driver.click(SPECIALIST, CHANNELS["tier2"], tier2.ts, ActionId.ACKNOWLEDGE)
    harness.sim.wait_for(lambda: "Acknowledged by" in tier2.rendered, message="the tier2 briefing updated")
    assert tier1.ts.replace(".", "") in tier2.rendered  # the update keeps the link
    harness.wait_thread(tier2, f"Acknowledged by <@{SPECIALIST}>")
    with harness.runtime.sessions() as session:
        event = session.scalars(select(TicketEvent).where(TicketEvent.kind == "escalated")).one()
        assert (event.from_level, event.to_level, event.trigger, event.actor_id) == \
            ("tier1", "tier2", "complexity", AGENT)


def test_old_acknowledge_button_after_escalation_is_refused(harness):
    key = harness.new_ticket()
    tier1 = harness.briefing(key, "tier1")
    ticket_id = int(key.split("-")[1])
    from bot.forms import EscalationRequest

    harness.runtime.desk.escalate(ticket_id, EscalationRequest("tier2", "impact", "many users"), AGENT)
    harness.settle()  # the tier1 briefing no longer has the button: click the one a stale client still shows
    harness.driver.click(AGENT, CHANNELS["tier1"], tier1.ts, ActionId.ACKNOWLEDGE,
                         value=f'{{"t":{ticket_id},"l":"tier1"}}', block_id="ticket_actions")
    notice = harness.sim.wait_for(lambda: harness.ephemeral_texts(AGENT), message="the notice")
    assert "has moved on to Tier 2" in notice[0]


def test_escalating_to_management_tells_the_managers(harness):
    key = harness.new_ticket()
    ticket_id = int(key.split("-")[1])
    from bot.forms import EscalationRequest

    harness.runtime.desk.escalate(ticket_id, EscalationRequest("management", "business_risk", "Churn risk"), AGENT)
    briefing = harness.briefing(key, "management")
    note = harness.wait_thread(briefing, f"<@{MANAGER}>")
    assert "Churn risk" in note


def test_message_shortcut_prefills_and_keeps_the_permalink(harness):
    ts = harness.sim.post_as_user("U0CUSTSUCCESS", SUPPORT, "Customer says exports time out since 9:00")
    answer = harness.driver.message_shortcut(AGENT, SUPPORT, ts)
    assert answer.status == 200
    modal = harness.sim.wait_for(lambda: harness.sim.open_modal(AGENT), message="the prefilled modal")
    summary = next(b for b in modal.blocks if b.get("block_id") == "summary")
    assert summary["element"]["initial_value"] == "Customer says exports time out since 9:00"
    harness.driver.submit_view(AGENT, modal.id, {"Severity": "P3"})
    briefing = harness.briefing("ESC-1")
    assert "exports time out" in briefing.rendered
    assert ts.replace(".", "") in briefing.rendered  # "from this message" link
    with harness.runtime.sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.source_permalink and ts.replace(".", "") in ticket.source_permalink


def test_global_shortcut_opens_the_modal(harness):
    harness.driver.global_shortcut(ENGINEER)
    modal = harness.sim.wait_for(lambda: harness.sim.open_modal(ENGINEER), message="the modal")
    assert modal.title == "New escalation"


def test_resolve_with_its_review_fields_then_reopen(harness):
    key = harness.new_ticket()
    briefing = harness.briefing(key)
    harness.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.RESOLVE)
    modal = harness.sim.wait_for(lambda: harness.sim.open_modal(AGENT), message="the resolve modal")
    assert modal.title == f"Resolve {key}"
    bad = harness.driver.submit_view(AGENT, modal.id, {"Resolution": "Rolled back", "Root cause": "Bug",
                                                       "Article link": "kb/123"})
    assert bad.json["response_action"] == "errors" and "kb_article" in bad.json["errors"]
    harness.driver.submit_view(AGENT, modal.id, {
        "Resolution": "Rolled back the deploy", "Root cause": "Configuration", "Knowledge-base gap": "Yes",
        "Article link": "https://kb.example.com/a/42", "Training need": "Reading deploy logs"})
    harness.wait_thread(briefing, "Resolved by")
    harness.sim.wait_for(lambda: "Resolved" in briefing.rendered and "[Reopen]" in briefing.rendered
                         and "[Escalate]" not in briefing.rendered, message="the resolved briefing")
    with harness.runtime.sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.status, ticket.root_cause, ticket.kb_gap, ticket.kb_article, ticket.training_need) == \
            ("resolved", "Configuration", True, "https://kb.example.com/a/42", "Reading deploy logs")
    harness.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.REOPEN)
    harness.wait_thread(briefing, f"Reopened by <@{AGENT2}>")
    harness.sim.wait_for(lambda: "[Acknowledge]" in briefing.rendered, message="the reopened briefing")
    with harness.runtime.sessions() as session:
        assert session.scalars(select(Ticket)).one().status == "open"


def test_status_list_and_help_answer_ephemerally_in_the_channel(harness):
    key = harness.new_ticket(Summary="Login loop on SSO")
    harness.briefing(key)
    harness.driver.command(AGENT, SUPPORT, f"status {key}")
    harness.driver.command(AGENT, SUPPORT, "list tier1")
    harness.driver.command(AGENT, SUPPORT, "list mine")
    harness.driver.command(AGENT, SUPPORT, "help")
    status, listing, mine, help_text = harness.ephemeral_texts(AGENT, SUPPORT)
    assert f"{key}" in status and "Login loop on SSO" in status and f"opened by <@{AGENT}>" in status
    assert "Open escalations at Tier 1 (1)" in listing and key in listing
    assert key in mine
    assert "/escalate status ESC-12" in help_text


def test_thread_notes_are_kept_edited_and_carried_into_the_next_briefing(harness):
    key = harness.new_ticket(Summary="Webhooks arrive twice")
    tier1 = harness.briefing(key)
    harness.driver.thread_reply(AGENT2, CHANNELS["tier1"], tier1.ts, "Customer uses <!channel> retries & v2 API")
    reply = harness.driver.thread_reply(AGENT, CHANNELS["tier1"], tier1.ts, "Seen on EU cluster only")
    harness.driver.event({"type": "message", "subtype": "message_changed", "channel": CHANNELS["tier1"],
                          "message": {"type": "message", "user": AGENT, "text": "Seen on EU and US clusters",
                                      "ts": reply.ts, "thread_ts": tier1.ts}})
    harness.driver.command(AGENT, SUPPORT, key)
    modal = harness.sim.wait_for(lambda: harness.sim.open_modal(AGENT), message="the escalate modal")
    harness.driver.submit_view(AGENT, modal.id, {"Trigger": "Complexity", "Reason": "Needs a specialist"})
    tier2 = harness.briefing(key, "tier2")
    assert "Notes from earlier levels" in tier2.rendered
    assert f"Tier 1 · <@{AGENT2}>: Customer uses &lt;!channel&gt; retries &amp; v2 API" in tier2.rendered
    assert "Seen on EU and US clusters" in tier2.rendered and "EU cluster only" not in tier2.rendered


def test_the_criteria_matrix_routes_on_open_and_suggests_when_escalating(harness):
    straight = harness.new_ticket(Summary="Export needs a schema change", Complexity="Needs development")
    briefing = harness.briefing(straight, "tier3")  # tier1 → tier2 → tier3 by the matrix, recorded
    assert "Needs development" in briefing.rendered
    harness.driver.command(AGENT, SUPPORT, f"status {straight}")
    status = harness.ephemeral_texts(AGENT, SUPPORT)[-1]
    assert "criteria matrix: Complexity: Needs development (Tier 1 → Tier 2)" in status
    assert "Complexity: Needs development (Tier 2 → Tier 3)" in status

    plain = harness.new_ticket(Summary="One invoice looks odd")
    harness.briefing(plain, "tier1")
    harness.driver.command(AGENT, SUPPORT, plain)
    modal = harness.sim.wait_for(lambda: harness.sim.open_modal(AGENT), message="the escalate modal")
    levels = next(b for b in modal.blocks if b.get("block_id") == "level")["element"]["options"]
    assert [o["text"]["text"] for o in levels] == ["Tier 2", "Management"]  # no skipping to Tier 3
    assert "criteria matrix suggests" not in modal.rendered
    refused = harness.driver.submit_view(AGENT, modal.id, {"Level": "Tier 2", "Trigger": "Impact",
                                                           "Reason": "x"})
    assert refused.status == 200


def test_the_customer_is_told_in_their_channel_or_the_agent_gets_a_draft(database_url):
    from dataclasses import replace

    from bot.policy import load_policy
    from tests.harness import Harness

    policy = replace(load_policy(), customer_channels=(("ACME GmbH", "C0ACMECONNECT"),))
    with Harness(database_url, policy=policy) as running:
        running.sim.add_channel("C0ACMECONNECT", "acme-support")
        running.new_ticket(Summary="Exports <b>time out</b>", Customer="acme gmbh", Severity="P2")
        told = running.sim.wait_for(lambda: running.sim.messages("C0ACMECONNECT"), message="the customer update")
        assert "We have escalated your request *ESC-1*" in told[0].rendered
        assert "&lt;b&gt;time out&lt;/b&gt;" in told[0].rendered and "every 2h" in told[0].rendered
        running.settle()
        assert len(running.sim.messages("C0ACMECONNECT")) == 1

        view = running.open_modal()
        answer = running.driver.submit_view(AGENT, view.id, {"Summary": "Search broken", "Customer": "Globex",
                                                             "Severity": "P3"})
        shown = " ".join(b["text"]["text"] for b in answer.json["view"]["blocks"] if b["type"] == "section")
        assert "*Tell the customer* (ready to copy)" in shown
        assert "Hello Globex" in shown and "first response by" in shown and "&amp;lt;" not in shown


def test_escalating_by_hand_gives_the_agent_the_customer_update(database_url):
    from dataclasses import replace

    from bot.policy import load_policy
    from tests.harness import Harness

    policy = replace(load_policy(), customer_channels=(("ACME GmbH", "C0ACMECONNECT"),))
    with Harness(database_url, policy=policy) as running:
        running.sim.add_channel("C0ACMECONNECT", "acme-support")
        for customer in ("Globex", "ACME GmbH"):
            key = running.new_ticket(Summary=f"Sync stalls for {customer}", Customer=customer)
            briefing = running.briefing(key)
            modal = running.modal_from(AGENT, briefing, ActionId.ESCALATE)
            running.driver.submit_view(AGENT, modal.id, {"Level": "Tier 2", "Trigger": "Complexity",
                                                         "Reason": "Needs log analysis"})
            told = running.sim.wait_for(lambda: [t for t in running.ephemeral_texts(AGENT, CHANNELS["tier1"])
                                                 if key in t], message="the handoff note")[0]
            assert f"{key}* is now with *Tier 2*" in told
            if customer == "Globex":
                assert "*Tell the customer* (ready to copy)" in told and "to our Tier 2 team" in told
                assert "first response by" in told
            else:
                assert "The customer is being told in <#C0ACMECONNECT>" in told
                updates = running.sim.wait_for(
                    lambda: [m for m in running.sim.messages("C0ACMECONNECT") if "Tier 2 team" in m.rendered],
                    message="the customer's escalation update")
                assert key in updates[0].rendered
        running.settle()
        assert len(running.sim.messages("C0ACMECONNECT")) == 2  # opened, escalated: once each


def test_a_slack_error_after_an_accepted_escalation_closes_the_modal_without_an_error(harness):
    key = harness.new_ticket(Summary="Uploads hang")
    briefing = harness.briefing(key)
    modal = harness.modal_from(AGENT, briefing, ActionId.ESCALATE)
    harness.sim.fail_next("chat.postEphemeral", "internal_error")  # the handoff note to the agent fails
    answer = harness.driver.submit_view(AGENT, modal.id, {"Level": "Tier 2", "Trigger": "Impact",
                                                          "Reason": "Many users now"})
    assert answer.status == 200 and not (answer.json or {}).get("errors")  # the escalation went through
    assert "Many users now" in harness.briefing(key, "tier2").rendered
    told = harness.sim.wait_for(lambda: harness.ephemeral_texts(AGENT, CHANNELS["tier1"]), message="the notice")
    assert "whether it went through" in told[0]
