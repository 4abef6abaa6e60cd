"""CSAT after escalation, in Slack (issue 12 §2): the resolution confirmation in the
customer's Slack Connect channel asks for a score with five buttons; a customer's click
records it (a later one within 7 days replaces it) and the message thanks them; our own
people are refused; a low score tells the resolving level's thread and management once."""
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.db import transaction
from bot.forms import EscalationRequest
from bot.ids import ActionId
from bot.messages import local_time
from bot.models import Alert, CsatResponse, TicketEvent
from bot.policy import load_policy
from bot.simulator.methods import API_METHODS
from bot.simulator.models import SlackApiFault
from bot.simulator.queries import WAIT, scaled
from tests.harness import AGENT, AGENT2, CHANNELS, MANAGER, SUPPORT, Harness, with_level_setting

ACME = "C0ACMECONNECT"
BUYER, BUYER2 = "U0ACMEBUYER", "U0ACMEOPS"


def acme_policy(**changes):
    return replace(load_policy(), customer_channels=(("ACME GmbH", ACME),), **changes)


def resolve(running, briefing, user=AGENT, text="Rolled back the deploy"):
    modal = running.modal_from(user, briefing, ActionId.RESOLVE)
    answer = running.driver.submit_view(user, modal.id, {"Resolution": text, "Root cause": "Configuration"})
    assert answer.status == 200, answer.body


def confirmation(running, number=1):
    """The confirmation as the customer sees it (a click may come before the bot has
    recorded its ts: see test_a_click_before_the_bot_recorded_the_confirmation_…)."""
    return running.sim.wait_for(
        lambda: (found := [m for m in running.sim.messages(ACME) if "was resolved" in m.rendered])
        and len(found) >= number and found[number - 1], message=f"resolution confirmation {number}")


@pytest.fixture
def running(database_url):
    """The bot, with ACME GmbH's Slack Connect channel in the policy."""
    with Harness(database_url, policy=acme_policy()) as running:
        running.sim.add_channel(ACME, "acme-support")
        yield running


def open_and_resolve(running, summary="Checkout fails with a 500", text="Rolled back the deploy"):
    key = running.new_ticket(Summary=summary, Customer="ACME GmbH")
    briefing = running.briefing(key)
    resolve(running, briefing, text=text)
    return key, briefing


def first_answered(running):
    with running.runtime.sessions() as session:
        return session.scalars(select(CsatResponse.first_answered_at)).one()


def answered_events(running):
    """The csat_answered events of the ticket's history: the audit record of each answer
    (bot.importing writes an imported score's the same way)."""
    with running.runtime.sessions() as session:
        return [(e.actor_id, e.from_level, e.reason, e.detail) for e in session.scalars(
            select(TicketEvent).where(TicketEvent.kind == "csat_answered").order_by(TicketEvent.id))]


def responses(running):
    with running.runtime.sessions() as session:
        return [(r.ticket_id, r.resolution, r.level, r.score, r.responder_id, r.channel)
                for r in session.scalars(select(CsatResponse).order_by(CsatResponse.id))]


def test_the_confirmation_asks_and_a_customers_click_is_recorded_then_replaced(running):
    key, _ = open_and_resolve(running, "Exports <!channel> time out", text="Added an <index>")
    asked = confirmation(running)
    assert f"How satisfied are you with how we handled {key}?" in asked.rendered
    assert "&lt;!channel&gt;" in asked.rendered and "Added an &lt;index&gt;" in asked.rendered
    labels = [el["text"]["text"] for block in asked.blocks if block["type"] == "actions"
              for el in block["elements"]]
    assert [label[0] for label in labels] == ["1", "2", "3", "4", "5"]
    told = running.sim.wait_for(lambda: [t for t in running.ephemeral_texts(AGENT, CHANNELS["tier1"])
                                         if "is resolved" in t], message="the resolver's note")
    assert f"The customer is being told in <#{ACME}>" in told[0]

    notification = asked.text
    running.driver.click(BUYER, ACME, asked.ts, ActionId.CSAT_4)
    running.sim.wait_for(lambda: "We recorded *4* (Satisfied)" in asked.rendered, message="the thank-you")
    assert responses(running) == [(1, 1, "tier1", 4, BUYER, "slack")]
    until = local_time(first_answered(running) + timedelta(days=7), running.policy)
    assert f"We recorded *4* (Satisfied). You can change it until {until}." in asked.rendered

    with transaction(running.runtime.sessions) as session:  # the first answer was a day ago
        session.execute(update(CsatResponse).values(first_answered_at=first_answered(running) - timedelta(days=1)))
    running.driver.click(BUYER2, ACME, asked.ts, ActionId.CSAT_5)  # a later click replaces it
    running.sim.wait_for(lambda: "We recorded *5* (Very satisfied)" in asked.rendered, message="the new thanks")
    assert responses(running) == [(1, 1, "tier1", 5, BUYER2, "slack")]
    # the week runs from the first answer, however often it is changed
    until = local_time(first_answered(running) + timedelta(days=7), running.policy)
    assert f"We recorded *5* (Very satisfied). You can change it until {until}." in asked.rendered
    assert asked.text == notification  # the notification text stays the question's
    assert "How satisfied are you" in asked.rendered  # the question and buttons stay while it may change
    running.settle()
    assert len(running.sim.messages(ACME)) == 2  # the acknowledgment and one confirmation
    running.driver.command(AGENT, SUPPORT, f"status {key}")  # the ticket's history tells our people
    status = running.sim.wait_for(lambda: running.ephemeral_texts(AGENT, SUPPORT), message="the status")[0]
    assert "customer satisfaction: 4 of 5 (Satisfied)" in status
    assert "customer satisfaction: 5 of 5 (Very satisfied)" in status
    assert answered_events(running) == [
        (BUYER, "tier1", "4 of 5 (Satisfied)", {"score": 4, "resolution": 1, "channel": "slack", "replaced": False}),
        (BUYER2, "tier1", "5 of 5 (Very satisfied)", {"score": 5, "resolution": 1, "channel": "slack", "replaced": True})]


def resolved_while_slack_answers_late(running):
    """A resolved ticket whose confirmation is in ACME's channel at once, while Slack's answer
    to the post (its ts) reaches the bot only 5 s later: the confirmation and that answer."""
    key = running.new_ticket(Summary="Checkout fails with a 500", Customer="ACME GmbH")
    briefing = running.briefing(key)
    running.sim.wait_for(lambda: running.sim.messages(ACME), message="the acknowledgment in ACME's channel")
    running.settle()
    late = running.sim.answer_late("chat.postMessage", seconds=5, channel=ACME)
    resolve(running, briefing)
    assert late.took_effect.wait(scaled(WAIT)), "the confirmation was never posted"
    return next(m for m in running.sim.messages(ACME) if "was resolved" in m.rendered), late


def edits_in(running, channel):
    return [c.params.get("ts") for c in running.sim.calls_to("chat.update") if c.params.get("channel") == channel]


def test_a_click_before_the_bot_recorded_the_confirmation_still_thanks_the_customer_once(running):
    asked, late = resolved_while_slack_answers_late(running)
    answer = running.driver.click(BUYER, ACME, asked.ts, ActionId.CSAT_4)
    assert answer.status == 200 and late.answered == 0  # clicked before the bot heard the ts
    assert responses(running) == [(1, 1, "tier1", 4, BUYER, "slack")]
    # the click's ts is Slack's word for the message: the thank-you needn't wait for the answer
    running.wait_recorded(ACME, asked.ts, timeout=0.5)
    assert late.answered == 0
    running.sim.wait_for(lambda: "We recorded *4* (Satisfied)" in asked.rendered, message="the thank-you")
    running.settle()
    assert edits_in(running, ACME) == [asked.ts]  # that message, edited once
    assert "How satisfied are you" in asked.rendered and len(running.sim.messages(ACME)) == 2


def test_a_click_on_a_copy_outside_the_customers_channel_edits_nothing(running):
    asked, late = resolved_while_slack_answers_late(running)
    copy = running.sim.post_as_user(BUYER, SUPPORT, asked.text, blocks=asked.blocks)
    assert running.driver.click(BUYER, SUPPORT, copy, ActionId.CSAT_2).status == 200
    assert late.answered == 0  # while the bot doesn't know the confirmation's ts yet
    running.settle()  # Slack's answer arrives: the confirmation's own ts is recorded
    running.wait_recorded(ACME, asked.ts)
    assert edits_in(running, SUPPORT) == edits_in(running, ACME) == []
    assert "Thank you" not in asked.rendered
    # a copy in the customer's own channel, once the bot knows the confirmation's ts: not it either
    copy = running.sim.post_as_user(BUYER, ACME, asked.text, blocks=asked.blocks)
    assert running.driver.click(BUYER, ACME, copy, ActionId.CSAT_3).status == 200
    running.settle()
    assert edits_in(running, ACME) == [] and "Thank you" not in asked.rendered
    running.driver.click(BUYER, ACME, asked.ts, ActionId.CSAT_5)  # the confirmation itself is thanked
    running.sim.wait_for(lambda: "We recorded *5*" in asked.rendered, message="the thank-you")
    running.settle()
    assert edits_in(running, ACME) == [asked.ts] and edits_in(running, SUPPORT) == []


def refuse_the_first_confirmation(running) -> list:
    """Slack refuses the first resolution confirmation posted to the customer's channel for
    good (that row is given up and keeps no ts); returns the refused calls."""
    posted = getattr(running.sim, API_METHODS["chat.postMessage"])
    refused = []

    def refuse(params):
        if params.get("channel") == ACME and "was resolved" in str(params) and not refused:
            refused.append(params)
            raise SlackApiFault("invalid_blocks")
        return posted(params)

    running.sim.add_method("chat.postMessage", refuse)
    return refused


def test_a_later_confirmation_clicked_early_is_thanked_as_itself_when_an_earlier_one_never_went_out(running):
    refused = refuse_the_first_confirmation(running)
    _, briefing = open_and_resolve(running)
    running.sim.wait_for(lambda: "[Reopen]" in briefing.rendered and refused, message="the refused confirmation")
    running.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.REOPEN)
    running.sim.wait_for(lambda: "[Resolve]" in briefing.rendered, message="the reopened briefing")
    running.settle()
    late = running.sim.answer_late("chat.postMessage", seconds=5, channel=ACME)
    resolve(running, briefing, text="Really fixed now")
    assert late.took_effect.wait(scaled(WAIT)), "the second confirmation was never posted"
    second = next(m for m in running.sim.messages(ACME) if "was resolved" in m.rendered)  # the only one
    assert late.answered == 0
    running.driver.click(BUYER, ACME, second.ts, ActionId.CSAT_5)
    running.sim.wait_for(lambda: "We recorded *5*" in second.rendered, message="the thank-you")
    running.settle()
    assert "Really fixed now" in second.rendered and "Rolled back the deploy" not in second.rendered
    assert edits_in(running, ACME) == [second.ts]
    assert [(r[1], r[3]) for r in responses(running)] == [(2, 5)]


def test_a_click_is_thanked_on_its_own_tickets_confirmation_when_another_tickets_never_went_out(running):
    refused = refuse_the_first_confirmation(running)
    _, first = open_and_resolve(running, "Exports time out", text="Raised the export timeout")
    running.sim.wait_for(lambda: "[Reopen]" in first.rendered and refused, message="the refused confirmation")
    open_and_resolve(running, "Invoices vanish", text="Restored the invoices")
    asked = confirmation(running)  # the second ticket's, the only one the customer sees
    running.driver.click(BUYER, ACME, asked.ts, ActionId.CSAT_5)
    running.sim.wait_for(lambda: "We recorded *5*" in asked.rendered, message="the thank-you")
    running.settle()
    assert "Restored the invoices" in asked.rendered and "Raised the export timeout" not in asked.rendered
    assert [(r[0], r[1], r[3]) for r in responses(running)] == [(2, 1, 5)]


def test_our_own_people_are_refused_and_nothing_is_recorded(running):
    open_and_resolve(running)
    asked = confirmation(running)
    for person, levels in ((AGENT, "Tier 1"), (MANAGER, "Management")):
        answer = running.driver.click(person, ACME, asked.ts, ActionId.CSAT_1)
        assert answer.status == 200
        refusal = running.sim.wait_for(lambda: running.ephemeral_texts(person, ACME), message="the refusal")
        assert refusal[0] == (f"This question is for the customer: you are one of our people ({levels}), "
                              "so your click was not counted. Nothing was recorded.")
    running.settle()
    assert responses(running) == []
    assert "Thank you" not in asked.rendered
    with running.runtime.sessions() as session:
        assert not session.scalars(select(Alert).where(Alert.kind == "csat_low")).all()


def test_someone_in_two_levels_is_told_both_in_the_refusal(database_url):
    policy = with_level_setting("members", {"tier1": (AGENT, AGENT2, MANAGER)}, acme_policy())
    with Harness(database_url, policy=policy) as running:
        running.sim.add_channel(ACME, "acme-support")
        open_and_resolve(running)
        running.driver.click(MANAGER, ACME, confirmation(running).ts, ActionId.CSAT_5)
        refusal = running.sim.wait_for(lambda: running.ephemeral_texts(MANAGER, ACME), message="the refusal")
        assert "you are one of our people (Tier 1, Management), so your click" in refusal[0]
        running.settle()
        assert responses(running) == []


def test_a_low_score_tells_the_resolving_level_and_management_once(running):
    key, briefing = open_and_resolve(running, "Invoices <b>vanish</b>")
    asked = confirmation(running)
    running.driver.click(BUYER, ACME, asked.ts, ActionId.CSAT_2)
    running.wait_thread(briefing, "rated")
    alerted = running.sim.wait_for(lambda: [m for m in running.sim.messages(CHANNELS["management"])
                                            if "rated" in m.rendered], message="management's alert")
    assert f"<@{MANAGER}>" in alerted[0].rendered and "*2 of 5* (Dissatisfied)" in alerted[0].rendered
    assert "resolved by Tier 1" in alerted[0].rendered and "&lt;b&gt;vanish" in alerted[0].rendered
    permalink = f"https://fake.slack.test/archives/{CHANNELS['tier1']}/p{briefing.ts.replace('.', '')}"
    assert f"<{permalink}|{key} briefing>" in alerted[0].rendered  # management can open the thread
    running.driver.click(BUYER, ACME, asked.ts, ActionId.CSAT_1)  # lower still: told once already
    running.sim.wait_for(lambda: "We recorded *1*" in asked.rendered, message="the changed score")
    running.driver.click(BUYER, ACME, asked.ts, ActionId.CSAT_4)
    running.settle()
    assert len([t for t in running.thread_texts(briefing) if "rated" in t]) == 1
    assert len([m for m in running.sim.messages(CHANNELS["management"]) if "rated" in m.rendered]) == 1
    assert responses(running)[0][3] == 4


def test_a_high_score_tells_no_one(running):
    key, briefing = open_and_resolve(running)
    running.driver.click(BUYER, ACME, confirmation(running).ts, ActionId.CSAT_3)
    running.settle()
    assert responses(running)[0][3] == 3
    assert not [t for t in running.thread_texts(briefing) if "rated" in t]
    assert not [m for m in running.sim.messages(CHANNELS["management"]) if "rated" in m.rendered]


def test_after_seven_days_the_score_stands(running):
    key, _ = open_and_resolve(running)
    asked = confirmation(running)
    running.driver.click(BUYER, ACME, asked.ts, ActionId.CSAT_4)
    running.settle()
    with transaction(running.runtime.sessions) as session:
        first = session.scalars(select(CsatResponse)).one().first_answered_at
        session.execute(update(CsatResponse).values(first_answered_at=first - timedelta(days=7, minutes=1)))
    running.driver.click(BUYER, ACME, asked.ts, ActionId.CSAT_1)
    refusal = running.sim.wait_for(lambda: running.ephemeral_texts(BUYER, ACME), message="the answer")
    given = local_time(first - timedelta(days=7, minutes=1), running.policy)
    assert refusal[0] == f"The score for {key} (4 of 5) was given on {given} and can no longer be changed. Thank you!"
    assert responses(running)[0][3] == 4


def test_reopened_and_resolved_again_is_a_new_resolution_asked_again(running):
    _, briefing = open_and_resolve(running)
    first = confirmation(running, 1)
    running.driver.click(BUYER, ACME, first.ts, ActionId.CSAT_2)
    running.sim.wait_for(lambda: "[Reopen]" in briefing.rendered, message="the resolved briefing")
    running.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.REOPEN)
    running.wait_thread(briefing, "Reopened by")
    running.sim.wait_for(lambda: "[Resolve]" in briefing.rendered, message="the reopened briefing")
    resolve(running, briefing, user=AGENT, text="Really fixed now")
    second = confirmation(running, 2)
    assert "Really fixed now" in second.rendered
    running.driver.click(BUYER, ACME, second.ts, ActionId.CSAT_1)
    running.settle()
    assert [(r[1], r[3]) for r in responses(running)] == [(1, 2), (2, 1)]
    # a low score for each resolution: told for each, once
    assert len([t for t in running.thread_texts(briefing) if "rated" in t]) == 2
    with running.runtime.sessions() as session:
        kinds = session.scalars(select(TicketEvent.kind).where(TicketEvent.kind == "csat_answered")).all()
    assert len(kinds) == 2


def test_a_low_score_for_managements_own_resolution_is_told_once_in_its_thread(running):
    key = running.new_ticket(Summary="Refund dispute", Customer="ACME GmbH")
    running.briefing(key)
    running.runtime.desk.escalate(int(key.split("-")[1]), EscalationRequest("management", "business_risk", "Churn"),
                                  AGENT)
    briefing = running.briefing(key, "management")
    resolve(running, briefing, user=MANAGER)
    running.driver.click(BUYER, ACME, confirmation(running).ts, ActionId.CSAT_1)
    running.wait_thread(briefing, "rated")
    running.settle()
    assert len([t for t in running.thread_texts(briefing) if "resolved by Management" in t]) == 1
    # the thread is in management's channel already: no second post there
    assert not [m for m in running.sim.messages(CHANNELS["management"]) if "rated" in m.rendered]


def test_a_score_for_an_earlier_resolution_goes_to_the_level_that_resolved_it(running):
    key, tier1 = open_and_resolve(running)
    first = confirmation(running)
    running.sim.wait_for(lambda: "[Reopen]" in tier1.rendered, message="the resolved briefing")
    running.driver.click(AGENT, CHANNELS["tier1"], tier1.ts, ActionId.REOPEN)
    running.sim.wait_for(lambda: "[Resolve]" in tier1.rendered, message="the reopened briefing")
    running.runtime.desk.escalate(int(key.split("-")[1]), EscalationRequest("tier2", "complexity", "Needs logs"),
                                  AGENT)
    tier2 = running.briefing(key, "tier2")
    running.driver.click(BUYER, ACME, first.ts, ActionId.CSAT_2)  # the first resolution, now the ticket is at Tier 2
    running.wait_thread(tier1, "rated")
    alerted = running.sim.wait_for(lambda: [m for m in running.sim.messages(CHANNELS["management"])
                                            if "rated" in m.rendered], message="management's alert")
    assert "resolved by Tier 1" in alerted[0].rendered
    running.settle()
    assert not [t for t in running.thread_texts(tier2) if "rated" in t]
    assert [(r[1], r[2], r[3]) for r in responses(running)] == [(1, "tier1", 2)]


def test_each_ticket_s_low_score_is_told(running):
    """Told once per resolution of *each* ticket: another ticket's low score is no repeat."""
    first_key, first = open_and_resolve(running, "Exports time out")
    running.driver.click(BUYER, ACME, confirmation(running, 1).ts, ActionId.CSAT_2)
    running.wait_thread(first, "rated")
    second_key, second = open_and_resolve(running, "Invoices vanish")
    running.driver.click(BUYER, ACME, confirmation(running, 2).ts, ActionId.CSAT_1)
    running.wait_thread(second, "rated")
    running.settle()
    alerted = [m.rendered for m in running.sim.messages(CHANNELS["management"]) if "rated" in m.rendered]
    assert [first_key in a for a in alerted] == [True, False] and second_key in alerted[1]
    assert [(r[0], r[1], r[3]) for r in responses(running)] == [(1, 1, 2), (2, 1, 1)]  # each ticket its own score


def test_a_score_may_be_changed_until_exactly_a_week_after_the_first_answer():
    """The thank-you's "You can change it until <first answer + 7 days>": that moment is still in."""
    from datetime import datetime, timezone

    from bot.quality.csat import Csat
    first = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    answered = CsatResponse(first_answered_at=first)
    assert Csat.changeable(None, first)
    assert Csat.changeable(answered, first + timedelta(days=7))
    assert not Csat.changeable(answered, first + timedelta(days=7, microseconds=1))
