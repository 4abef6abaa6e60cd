"""Buttons on a briefing (Acknowledge, Escalate, De-escalate, Mitigated, Waiting on customer /
Resume, Resolve, Reopen, Take it, Reassign, Update facts, Update customer), Undo on a
de-escalation's note, and the satisfaction scores on a resolution confirmation."""
from __future__ import annotations

from bot import messages
from bot.context import ActionContext
from bot.errors import TicketNotFound
from bot.ids import CSAT_ACTIONS, ActionId
from bot.runtime import Runtime
from handlers.errors import friendly


def register_acknowledge(app, runtime: Runtime) -> None:
    """Registered before every other listener: Bolt tries them in turn, and this is the
    busiest one."""
    desk = runtime.desk

    @app.action(ActionId.ACKNOWLEDGE.value)
    @friendly
    def acknowledge(ack, body, client, respond, context):
        ticket_context = context["ticket_context"]
        desk.acknowledge(ticket_context.ticket_id, body["user"]["id"], at_level=ticket_context.level)
        ack()


def register(app, runtime: Runtime) -> None:
    desk, policy = runtime.desk, runtime.policy

    def ticket_from(context):
        ticket_context: ActionContext = context["ticket_context"]
        if ticket_context.ticket_id is None:
            raise TicketNotFound("this message")
        return desk.find(f"ESC-{ticket_context.ticket_id}")

    def modal_button(action: ActionId, verb: str, build_view, *, requester_may: bool = False) -> None:
        """A button that opens a modal for people allowed to `verb` the ticket. The modal
        remembers the ticket's stay at its level, so a submission after a move is refused."""

        @app.action(action.value)
        @friendly
        def open_modal(ack, body, client, respond, context):
            ticket = ticket_from(context)
            desk.authorize(ticket, body["user"]["id"], verb, requester_may=requester_may)
            ack()
            opened = ActionContext.modal_on(ticket, (body.get("channel") or {}).get("id"))
            client.views_open(trigger_id=body["trigger_id"], view=build_view(ticket, opened))

        open_modal.__name__ = f"open_{action.name.lower()}_modal"

    modal_button(ActionId.ESCALATE, "escalate", requester_may=True, build_view=lambda ticket, opened: (
        messages.escalate_modal(ticket, policy, opened, desk.escalation_choices(ticket))))
    modal_button(ActionId.DEESCALATE, "de-escalate", lambda ticket, opened: messages.deescalate_modal(
        ticket, policy, opened))
    modal_button(ActionId.WAIT, "pause", messages.wait_modal)
    modal_button(ActionId.RESUME, "resume", messages.resume_modal)
    modal_button(ActionId.RESOLVE, "resolve", lambda ticket, opened: messages.resolve_modal(ticket, policy, opened))
    modal_button(ActionId.REASSIGN, "reassign", lambda ticket, opened: messages.reassign_modal(
        ticket, policy, opened))
    modal_button(ActionId.UPDATE_FACTS, "update the facts of", requester_may=True,
                 build_view=lambda ticket, opened: messages.facts_modal(ticket, policy, opened))
    modal_button(ActionId.UPDATE_CUSTOMER, "update the customer on", requester_may=True,
                 build_view=runtime.progress_updates.modal)

    @app.action(ActionId.REOPEN.value)
    @friendly
    def reopen(ack, body, client, respond, context):
        desk.reopen(context["ticket_context"].ticket_id, body["user"]["id"])
        ack()

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

    @friendly
    def rate(ack, body, client, respond, context):
        """A score button (1 … 5) under a resolution confirmation in the customer's channel."""
        ticket_context = context["ticket_context"]
        container = body.get("container") or {}
        runtime.csat.answer_in_slack(
            ticket_context.ticket_id, ticket_context.resolution, CSAT_ACTIONS[ActionId(body["actions"][0]["action_id"])],
            body["user"]["id"], (body.get("channel") or {}).get("id") or container.get("channel_id", ""),
            container.get("message_ts"))
        ack()

    for action in CSAT_ACTIONS:
        app.action(action.value)(rate)
