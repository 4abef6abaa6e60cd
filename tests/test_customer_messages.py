"""Customer messages to the end (issue 12 §1): "Update customer" on the current briefing
opens "Update customer ESC-n" prefilled from the progress template; what the person sends
goes to the customer's Slack Connect channel through the outbox (escaped), or comes back as
a ready-to-copy draft; the progress reminder says when the customer's update is due."""
import time
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select, update

from bot.db import transaction
from bot.ids import ActionId
from bot.models import SlaClock, Ticket, TicketEvent
from bot.policy import load_policy
from tests.harness import AGENT, AGENT2, CHANNELS, MANAGER, OUTSIDER, SPECIALIST, Harness
from tests.test_sla import short_policy

ACME = "C0ACMECONNECT"


def acme_policy():
    return replace(load_policy(), customer_channels=(("ACME GmbH", ACME),))


def message_input(view) -> str:
    return next(b for b in view.blocks if b.get("block_id") == "message")["element"]["initial_value"]


def test_update_customer_is_prefilled_from_the_template_and_posted_escaped(database_url):
    with Harness(database_url, policy=acme_policy()) as running:
        running.sim.add_channel(ACME, "acme-support")
        key = running.new_ticket(Summary="Exports <b>time out</b>", Customer="ACME GmbH", Severity="P2")
        briefing = running.briefing(key)
        assert "[Update customer]" in briefing.rendered
        running.driver.thread_reply(SPECIALIST, CHANNELS["tier1"], briefing.ts, "not a member: still a note")
        running.driver.thread_reply(AGENT2, CHANNELS["tier1"], briefing.ts, "Found the slow query & a <fix>")
        running.wait_thread(briefing, "Acknowledged by")
        modal = running.modal_from(AGENT2, briefing, ActionId.UPDATE_CUSTOMER)
        assert modal.title == f"Update customer {key}"
        prefilled = message_input(modal)
        # the plain-text input shows the text as the customer will read it (escaped again when sent)
        assert f"an update on your request *{key}* (\"Exports <b>time out</b>\")" in prefilled
        assert "Latest: Found the slow query & a <fix>" in prefilled and "You will hear from us again by *" in prefilled

        answer = running.driver.submit_view(AGENT2, modal.id, {"Message": prefilled + "\nPing <!channel> <@U0CEO1>"})
        assert answer.status == 200 and not (answer.json or {}).get("errors")
        sent = running.sim.wait_for(lambda: [m for m in running.sim.messages(ACME) if "an update on" in m.rendered],
                                    message="the progress update in the customer's channel")[0]
        assert "Found the slow query &amp; a &lt;fix&gt;" in sent.rendered
        assert "&lt;!channel&gt; &lt;@U0CEO1&gt;" in sent.rendered and "<!channel>" not in sent.rendered
        running.wait_thread(briefing, f"<@{AGENT2}> sent the customer a progress update in <#{ACME}>")
        told = running.sim.wait_for(lambda: running.ephemeral_texts(AGENT2, CHANNELS["tier1"]), message="the note")
        assert f"The customer is being told in <#{ACME}>" in told[-1]
        with running.runtime.sessions() as session:
            assert session.scalars(select(TicketEvent.kind).where(TicketEvent.kind == "customer_updated")).all() \
                == ["customer_updated"]


def test_without_a_channel_the_person_gets_the_draft_and_the_opener_may_update(database_url):
    with Harness(database_url) as running:
        key = running.new_ticket(Summary="Search is slow", Customer="Globex", Severity="P3")
        briefing = running.briefing(key)
        modal = running.modal_from(AGENT, briefing, ActionId.ESCALATE)
        running.driver.submit_view(AGENT, modal.id, {"Level": "Tier 2", "Trigger": "Complexity", "Reason": "logs"})
        tier2 = running.briefing(key, "tier2")
        # AGENT opened it: not a Tier 2 member, but may update the customer
        modal = running.modal_from(AGENT, tier2, ActionId.UPDATE_CUSTOMER)
        assert "No Slack Connect channel" in modal.rendered
        running.driver.submit_view(AGENT, modal.id, {"Message": "We are on it <here>"})
        draft = running.sim.wait_for(lambda: [t for t in running.ephemeral_texts(AGENT, CHANNELS["tier2"])
                                              if "Progress update" in t], message="the draft")[0]
        assert "*Tell the customer* (ready to copy)" in draft and "We are on it &lt;here&gt;" in draft
        running.wait_thread(tier2, "took a progress update to send the customer")


def test_outsiders_are_refused_and_an_empty_message_is_an_inline_error(database_url):
    with Harness(database_url, policy=acme_policy()) as running:
        running.sim.add_channel(ACME, "acme-support")
        key = running.new_ticket(Customer="ACME GmbH")
        briefing = running.briefing(key)
        running.driver.click(OUTSIDER, CHANNELS["tier1"], briefing.ts, ActionId.UPDATE_CUSTOMER)
        refusal = running.sim.wait_for(lambda: running.ephemeral_texts(OUTSIDER, CHANNELS["tier1"]), message="refusal")
        assert f"can update the customer on {key}" in refusal[0]
        assert not running.sim.views_opened(OUTSIDER)
        assert running.modal_from(MANAGER, briefing, ActionId.UPDATE_CUSTOMER).title == f"Update customer {key}"
        modal = running.modal_from(AGENT2, briefing, ActionId.UPDATE_CUSTOMER)
        answer = running.driver.submit_view(AGENT2, modal.id, {"Message": "   "}, enforce_required=False)
        assert answer.json["response_action"] == "errors" and "Write the message" in answer.json["errors"]["message"]
        running.settle()
        assert len(running.sim.messages(ACME)) == 1  # only the acknowledgment at opening
        with running.runtime.sessions() as session:
            assert not session.scalars(select(TicketEvent).where(TicketEvent.kind == "customer_updated")).all()


def test_the_progress_reminder_says_when_the_customers_update_is_due(database_url):
    from tests.harness import AGENT2 as MEMBER

    with Harness(database_url, policy=short_policy(time_limits={"tier1": "1h", "tier2": "1h"})) as sla:
        key = sla.new_ticket(Severity="P2")  # update_every 3s in this policy
        briefing = sla.briefing(key)
        sla.driver.click(MEMBER, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
        sla.settle()
        with sla.runtime.sessions() as session:
            ticket = session.scalars(select(Ticket)).one()
        sla.runtime.sla.run(now=ticket.acknowledged_at + timedelta(seconds=3.5))
        sla.settle()
        reminder = [t for t in sla.thread_texts(briefing) if "No progress update" in t][0]
        assert "*Update customer* on the briefing" in reminder
        assert "The customer's next update is overdue (was due " in reminder  # opened > 3 s before the sweep's now
        modal = sla.modal_from(MEMBER, briefing, ActionId.UPDATE_CUSTOMER)
        sla.driver.submit_view(MEMBER, modal.id, {"Message": "Still on it"})
        sla.wait_thread(briefing, "took a progress update")
        with transaction(sla.runtime.sessions) as session:
            told = session.scalars(select(TicketEvent.at).where(TicketEvent.kind == "customer_updated")).one()
            # the team's own progress reminder comes due 1 s after the customer was updated
            session.execute(update(SlaClock).where(SlaClock.kind == "update").values(
                due_at=told + timedelta(seconds=1), next_check_at=told + timedelta(seconds=1)))
        # the customer's next update is due told + 3 s; the sweep runs until it has seen the ticket
        # (a sweep skips a ticket another transaction holds, as in production it comes again)
        deadline = time.monotonic() + 30  # generous: a loaded full run delivered the note late
        while len([t for t in sla.thread_texts(briefing) if "No progress update" in t]) < 2 \
                and time.monotonic() < deadline:
            sla.runtime.sla.run(now=told + timedelta(seconds=2))
            sla.settle()
        reminders = [t for t in sla.thread_texts(briefing) if "No progress update" in t]
        assert len(reminders) == 2 and "The customer's next update is due by" in reminders[-1]
        assert "overdue" not in reminders[-1]
