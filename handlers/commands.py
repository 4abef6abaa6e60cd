"""`/escalate` and its sub-commands; answers are ephemeral in the channel it was typed in.
A list's Previous / Next buttons turn its page in place."""
from __future__ import annotations

from bot import messages
from bot.context import ActionContext
from bot.grammar import parse_command
from bot.ids import ActionId
from bot.runtime import Runtime
from bot.quality.report_stats import QualityStats
from handlers.errors import friendly


def register(app, runtime: Runtime) -> None:
    desk, policy = runtime.desk, runtime.policy
    stats = QualityStats(policy, runtime.sessions)

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
            choices = desk.escalation_choices(ticket)  # a resolved ticket is refused as such, whoever asks
            desk.authorize(ticket, user, "escalate", requester_may=True)
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=messages.escalate_modal(
                ticket, policy, ActionContext.modal_on(ticket, channel), choices))
        elif command.kind == "status":
            ticket = desk.find(command.key)
            ack(**messages.status_reply(ticket, policy, desk.briefing_permalink(ticket)))
        elif command.kind == "why":
            ack(**runtime.why.reply(command.key))
        elif command.kind == "stats":
            stats.authorize(user)
            ack()  # the figures take a few SQL statements: answered after the ack, by response_url
            respond(response_type="ephemeral", **stats.reply(command.scope))
        elif command.kind == "list":
            ack(**messages.list_reply(runtime.listing.page(command.scope, user), policy))
        elif command.kind == "oncall":
            ack(**runtime.coverage.answer_oncall(command.oncall, user))
        else:
            ack(**messages.help_reply(policy, command.problem))

    @friendly
    def turn_list_page(ack, body, client, respond, context):
        """Previous / Next under a list: the same ephemeral shows the other page."""
        ack()
        wanted = context["ticket_context"]
        listing = runtime.listing.page(wanted.scope or "", body["user"]["id"], wanted.page or 0)
        respond(replace_original=True, **messages.list_reply(listing, policy))

    for action in (ActionId.LIST_NEXT, ActionId.LIST_PREVIOUS):
        app.action(action.value)(turn_list_page)
