"""The "Escalate message" message shortcut and the "New escalation" global shortcut."""
from __future__ import annotations

from bot import messages
from bot.context import ActionContext
from bot.ids import CallbackId
from bot.runtime import Runtime
from handlers.errors import friendly


def register(app, runtime: Runtime) -> None:
    policy = runtime.policy

    @app.shortcut(CallbackId.MESSAGE_SHORTCUT.value)
    @friendly
    def escalate_message(ack, body, client, respond, context):
        ack()
        channel = body["channel"]["id"]
        message = body.get("message") or {}
        permalink = client.chat_getPermalink(channel=channel, message_ts=message["ts"])["permalink"]
        view = messages.new_escalation_modal(
            policy, ActionContext(channel=channel, permalink=permalink), prefill_summary=message.get("text", ""))
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.shortcut(CallbackId.GLOBAL_SHORTCUT.value)
    @friendly
    def new_escalation(ack, body, client, respond, context):
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=messages.new_escalation_modal(policy, ActionContext()))
