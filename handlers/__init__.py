"""Slack listeners: thin — parse, authorize, call a bot/ service, ack."""
from __future__ import annotations

from bot.runtime import Runtime
from handlers import actions, commands, errors, events, middleware, shortcuts, views


def register(app, runtime: Runtime) -> None:
    app.error(errors.bolt_error)
    app.middleware(middleware.ticket_context)
    actions.register_acknowledge(app, runtime)  # Bolt tries listeners in turn: the busiest first
    for module in (commands, shortcuts, actions, views, events):
        module.register(app, runtime)
