"""Buttons on a briefing (Acknowledge, Escalate, De-escalate, Mitigated, Waiting on customer /
Resume, Resolve, Reopen, Take it, Reassign) and Undo on a de-escalation's note."""
from __future__ import annotations

from bot import messages
from bot.context import ActionContext
from bot.errors import TicketNotFound
from bot.ids import ActionId
from bot.runtime import Runtime
from handlers.errors import friendly


def register(app, runtime: Runtime) -> None:
    desk, policy = runtime.desk, runtime.policy

    def ticket_from(context):
        ticket_context: ActionContext = context["ticket_context"]
        if ticket_context.ticket_id is None:
            raise TicketNotFound("this message")
        return ticket_context, desk.find(f"ESC-{ticket_context.ticket_id}")

    @app.action(ActionId.ACKNOWLEDGE.value)
    @friendly
    def acknowledge(ack, body, client, respond, context):
        ticket_context = context["ticket_context"]
        desk.acknowledge(ticket_context.ticket_id, body["user"]["id"], at_level=ticket_context.level)
        ack()

    @app.action(ActionId.ESCALATE.value)
    @friendly
    def open_escalate_modal(ack, body, client, respond, context):
        ticket_context, ticket = ticket_from(context)
        desk.authorize(ticket, body["user"]["id"], "escalate", requester_may=True)
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=messages.escalate_modal(
            ticket, policy, ActionContext(ticket_id=ticket.id, level=ticket_context.level), desk.suggestion(ticket)))

    @app.action(ActionId.RESOLVE.value)
    @friendly
    def open_resolve_modal(ack, body, client, respond, context):
        _, ticket = ticket_from(context)
        desk.authorize(ticket, body["user"]["id"], "resolve")
        ack()
        client.views_open(trigger_id=body["trigger_id"],
                          view=messages.resolve_modal(ticket, policy, ActionContext(ticket_id=ticket.id)))

    @app.action(ActionId.WAIT.value)
    @friendly
    def open_wait_modal(ack, body, client, respond, context):
        _, ticket = ticket_from(context)
        desk.authorize(ticket, body["user"]["id"], "pause")
        ack()
        client.views_open(trigger_id=body["trigger_id"],
                          view=messages.wait_modal(ticket, ActionContext(ticket_id=ticket.id)))

    @app.action(ActionId.RESUME.value)
    @friendly
    def open_resume_modal(ack, body, client, respond, context):
        _, ticket = ticket_from(context)
        desk.authorize(ticket, body["user"]["id"], "resume")
        ack()
        client.views_open(trigger_id=body["trigger_id"],
                          view=messages.resume_modal(ticket, ActionContext(ticket_id=ticket.id)))

    @app.action(ActionId.REOPEN.value)
    @friendly
    def reopen(ack, body, client, respond, context):
        desk.reopen(context["ticket_context"].ticket_id, body["user"]["id"])
        ack()

    @app.action(ActionId.DEESCALATE.value)
    @friendly
    def open_deescalate_modal(ack, body, client, respond, context):
        _, ticket = ticket_from(context)
        desk.authorize(ticket, body["user"]["id"], "de-escalate")
        ack()
        client.views_open(trigger_id=body["trigger_id"],
                          view=messages.deescalate_modal(ticket, policy, ActionContext(ticket_id=ticket.id)))

    @app.action(ActionId.MITIGATED.value)
    @friendly
    def mitigated(ack, body, client, respond, context):
        runtime.deescalation.mitigated(context["ticket_context"].ticket_id, body["user"]["id"])
        ack()

    @app.action(ActionId.UNDO.value)
    @friendly
    def undo(ack, body, client, respond, context):
        ticket_context = context["ticket_context"]
        runtime.deescalation.undo(ticket_context.ticket_id, ticket_context.event_id, body["user"]["id"])
        ack()

    @app.action(ActionId.TAKE.value)
    @friendly
    def take(ack, body, client, respond, context):
        runtime.assignment.take(context["ticket_context"].ticket_id, body["user"]["id"])
        ack()

    @app.action(ActionId.REASSIGN.value)
    @friendly
    def open_reassign_modal(ack, body, client, respond, context):
        _, ticket = ticket_from(context)
        desk.authorize(ticket, body["user"]["id"], "reassign")
        ack()
        client.views_open(trigger_id=body["trigger_id"],
                          view=messages.reassign_modal(ticket, policy, ActionContext(ticket_id=ticket.id)))
