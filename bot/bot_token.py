"""The bot token, checked before `serve` starts anything: a token Slack refuses is a
configuration error (one line naming SLACK_BOT_TOKEN, exit status 2); while Slack can't
be reached, `serve` waits for it rather than dying in Bolt's start-up auth.test."""
from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import ConfigError, Settings
from bot.socket_mode.backoff import keep_trying

log = logging.getLogger("escalator")

# Slack's answers to auth.test that no retry can fix: the operator has to change the token.
_REFUSALS = {
    "invalid_auth": "the bot token is wrong or was revoked",
    "not_authed": "no token reached Slack",
    "token_revoked": "the bot token was revoked",
    "token_expired": "the bot token has expired",
    "account_inactive": "the app or its workspace is no longer active",
    "not_allowed_token_type": "it must be the app's Bot User OAuth Token (xoxb-...)",
}


class BotTokenRefused(ConfigError):
    def __init__(self, error: str):
        super().__init__(f"SLACK_BOT_TOKEN was refused by Slack ({error}): {_REFUSALS[error]}")
        self.error = error


def check_bot_token(settings: Settings, *, max_backoff: float = 10.0) -> None:
    client = WebClient(token=settings.bot_token, base_url=settings.slack_api_url, timeout=5, retry_handlers=[])

    def auth_test() -> None:
        try:
            client.auth_test()
        except SlackApiError as error:
            code = str(error.response.get("error", "")) if error.response is not None else ""
            if code in _REFUSALS:
                raise BotTokenRefused(code) from None
            raise

    keep_trying(auth_test, "not connected to Slack: could not check SLACK_BOT_TOKEN", log, max_backoff)
