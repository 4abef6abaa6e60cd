"""The app-level token: apps.connections.open, and what its refusals mean."""
from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import ConfigError, Settings
from bot.socket_mode.backoff import keep_trying

log = logging.getLogger("escalator.socket_mode")

# Slack's answers that no retry can fix: the operator has to change SLACK_APP_TOKEN.
_REFUSALS = {
    "invalid_auth": "the app-level token is wrong or was revoked",
    "not_authed": "no token reached Slack",
    "token_revoked": "the app-level token was revoked",
    "token_expired": "the app-level token has expired",
    "account_inactive": "the app or its workspace is no longer active",
    "not_allowed_token_type": "it must be an app-level token (xapp-...), not a bot or user token",
    "missing_scope": "the app-level token needs the connections:write scope",
}


class AppTokenRefused(ConfigError):
    """Slack refused SLACK_APP_TOKEN; the message names the setting and Slack's error code."""

    def __init__(self, error: str):
        super().__init__(f"SLACK_APP_TOKEN was refused by Slack ({error}): {_REFUSALS[error]}")
        self.error = error


def app_client(settings: Settings) -> WebClient:
    """No retry handlers: the supervisor paces its own attempts."""
    return WebClient(token=settings.app_token, base_url=settings.slack_api_url, timeout=5, retry_handlers=[])


def open_connection_url(client: WebClient) -> str:
    """A fresh WebSocket URL (one use). Raises AppTokenRefused for a token Slack won't
    take; any other failure (network, 5xx, rate limit) is raised as is, to be retried."""
    try:
        return client.apps_connections_open(app_token=client.token)["url"]
    except SlackApiError as error:
        code = str(error.response.get("error", "")) if error.response is not None else ""
        if code in _REFUSALS:
            raise AppTokenRefused(code) from None
        raise


def check_app_token(settings: Settings, *, max_backoff: float = 10.0) -> None:
    """Before anything else starts: a refused token stops `serve` (exit status 2). While
    Slack can't be reached this keeps trying: in Socket Mode the bot can do nothing
    without it, and the start-up (Bolt's auth.test) would fail."""
    client = app_client(settings)
    keep_trying(lambda: open_connection_url(client),
                "Socket Mode: not connected to Slack: could not reach it to check SLACK_APP_TOKEN", log, max_backoff)
