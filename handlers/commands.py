"""`/escalate` and its sub-commands; answers are ephemeral in the channel it was typed in."""
from __future__ import annotations

from bot import messages
from bot.context import ActionContext
from bot.grammar import parse_command
from bot.runtime import Runtime
from handlers.errors import friendly


def register(app, runtime: Runtime) -> None:
    desk, policy = runtime.desk, runtime.policy

    @app.command("/escalate")
    @friendly
    def escalate_command(ack, body, client, respond, context):
        command = parse_command(body.get("text", ""), policy)
        user, channel = body["user_id"], body.get("channel_id")
        if command.kind == "new":
            ack()
            client.views_open(trigger_id=body["trigger_id"],
                              view=messages.new_escalation_modal(policy, ActionContext(channel=channel)))
        elif command.kind == "escalate":
            ticket = desk.find(command.key)
            desk.authorize(ticket, user, "escalate", requester_may=True)
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=messages.escalate_modal(
                ticket, policy, ActionContext(ticket_id=ticket.id, level=ticket.level, cycle=ticket.cycle,
                                              channel=channel),
                desk.suggestion(ticket)))
        elif command.kind == "status":
            ticket = desk.find(command.key)
            ack(**messages.status_reply(ticket, policy, desk.briefing_permalink(ticket)))
        elif command.kind == "why":
            ack(**runtime.why.reply(command.key))
        elif command.kind == "list":
            title, tickets, more = desk.list_open(command.scope, user)
            ack(**messages.list_reply(title, tickets, policy, more))
        else:
            ack(**messages.help_reply(policy, command.problem))
