"""Socket Mode: the bot reaches Slack over WebSockets it opens itself (no public URL).

A small supervisor of our own around the `websockets` client, because none of
slack_sdk's Socket Mode clients waits for the new connection's `hello` before closing
the old one (README, "Socket Mode"). `check_app_token` runs before anything else starts.
"""
from __future__ import annotations

import contextlib
import signal

from slack_bolt import App

from bot.socket_mode.envelopes import EnvelopeHandler
from bot.socket_mode.supervisor import Supervisor
from bot.socket_mode.token import AppTokenRefused, app_client, check_app_token, open_connection_url

__all__ = ["AppTokenRefused", "EnvelopeHandler", "Supervisor", "check_app_token", "serve", "supervisor_for"]


def supervisor_for(runtime, app: App, **options) -> Supervisor:
    client = app_client(runtime.settings)
    return Supervisor(lambda: open_connection_url(client), EnvelopeHandler(app, runtime.events), **options)


def serve(runtime, app: App) -> None:
    """Until SIGTERM/SIGINT; raises AppTokenRefused if Slack refuses the token later on."""
    supervisor = supervisor_for(runtime, app)
    with _stop_on_signals(supervisor.stop):
        supervisor.run()


@contextlib.contextmanager
def _stop_on_signals(stop):
    previous = {sig: signal.signal(sig, lambda *_: stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
