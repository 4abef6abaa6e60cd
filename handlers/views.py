"""Modal submissions: new escalation, escalate, wait, resume, resolve, de-escalate, reassign,
update facts, update customer. Bad input → inline errors; a ticket changed meanwhile → what happened, ephemeral."""
from __future__ import annotations

from bot import messages
from bot.forms import (parse_deescalation, parse_escalation, parse_facts, parse_new_ticket, parse_reason,
                       parse_resolution)
from bot.ids import BlockId, CallbackId
from bot.rendering import Mrkdwn
from bot.runtime import Runtime
from handlers.errors import friendly
from handlers.view_state import submitted_values


def register(app, runtime: Runtime) -> None:
    desk, policy = runtime.desk, runtime.policy

    @app.view(CallbackId.NEW_ESCALATION_MODAL.value)
    @friendly
    def submit_new_escalation(ack, body, client, respond, context):
        form = parse_new_ticket(submitted_values(body["view"]))
        origin = context["ticket_context"]
        ticket = desk.open_ticket(form, requester_id=body["user"]["id"], source_channel=origin.channel,
                                  source_permalink=origin.permalink)
        ack(response_action="update",
            view=messages.opened_confirmation(ticket, policy, desk.customer.for_agent(ticket)))

    @app.view(CallbackId.ESCALATE_MODAL.value)
    @friendly
    def submit_escalation(ack, body, client, respond, context):
        opened = context["ticket_context"]
        ticket = desk.find(f"ESC-{opened.ticket_id}")
        desk.require_current(ticket, opened.cycle, "escalated")  # before the form is judged against its level
        request = parse_escalation(submitted_values(body["view"]), policy, ticket.level, desk.suggestion(ticket)[0])
        ticket = desk.escalate(ticket.id, request, body["user"]["id"], seen_cycle=opened.cycle)
        ack()
        if opened.channel:  # step 5 of the handoff, for the person who escalated
            client.chat_postEphemeral(channel=opened.channel, user=body["user"]["id"],
                                      **messages.handoff_reply(ticket, policy, desk.customer.for_agent(ticket)))

    @app.view(CallbackId.RESOLVE_MODAL.value)
    @friendly
    def submit_resolution(ack, body, client, respond, context):
        resolution = parse_resolution(submitted_values(body["view"]), policy.root_causes)
        opened = context["ticket_context"]
        ticket = desk.resolve(opened.ticket_id, resolution, body["user"]["id"], seen_cycle=opened.cycle)
        ack()
        if opened.channel:  # the customer's resolution confirmation: sent, or the draft to send
            client.chat_postEphemeral(channel=opened.channel, user=body["user"]["id"],
                                      **runtime.resolutions.for_resolver(ticket))

    @app.view(CallbackId.WAIT_MODAL.value)
    @friendly
    def submit_wait(ack, body, client, respond, context):
        reason = parse_reason(submitted_values(body["view"]), required=True)
        opened = context["ticket_context"]
        desk.wait_on_customer(opened.ticket_id, body["user"]["id"], reason, seen_cycle=opened.cycle)
        ack()

    @app.view(CallbackId.RESUME_MODAL.value)
    @friendly
    def submit_resume(ack, body, client, respond, context):
        reason = parse_reason(submitted_values(body["view"]), required=False)
        opened = context["ticket_context"]
        desk.resume(opened.ticket_id, body["user"]["id"], reason, seen_cycle=opened.cycle)
        ack()

    @app.view(CallbackId.DEESCALATE_MODAL.value)
    @friendly
    def submit_deescalation(ack, body, client, respond, context):
        opened = context["ticket_context"]
        ticket = desk.find(f"ESC-{opened.ticket_id}")
        desk.require_current(ticket, opened.cycle, "de-escalated")
        to_level, reason = parse_deescalation(submitted_values(body["view"]), policy, ticket.level)
        runtime.deescalation.deescalate(ticket.id, to_level, reason, body["user"]["id"], seen_cycle=opened.cycle)
        ack()

    @app.view(CallbackId.REASSIGN_MODAL.value)
    @friendly
    def submit_reassignment(ack, body, client, respond, context):
        assignee = submitted_values(body["view"]).get(BlockId.ASSIGNEE)
        opened = context["ticket_context"]
        runtime.assignment.reassign(opened.ticket_id, assignee, body["user"]["id"], seen_cycle=opened.cycle)
        ack()

    @app.view(CallbackId.FACTS_MODAL.value)
    @friendly
    def submit_facts(ack, body, client, respond, context):
        facts = parse_facts(submitted_values(body["view"]))
        opened = context["ticket_context"]
        runtime.facts.update(opened.ticket_id, facts, body["user"]["id"], seen_cycle=opened.cycle)
        ack()

    @app.view(CallbackId.CUSTOMER_UPDATE_MODAL.value)
    @friendly
    def submit_customer_update(ack, body, client, respond, context):
        opened = context["ticket_context"]
        told = runtime.progress_updates.send(opened.ticket_id, submitted_values(body["view"]).get(BlockId.MESSAGE),
                                             body["user"]["id"], seen_cycle=opened.cycle)
        ack()
        if opened.channel:
            client.chat_postEphemeral(channel=opened.channel, user=body["user"]["id"], **messages.customer_note_reply(
                Mrkdwn(f"Progress update on *ESC-{opened.ticket_id}*."), told))
