"""A WebClient that counts its failed calls: every Web API call of the bot (the outbox's
and the answers to the person acting now, Bolt's included) goes through api_call."""
from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.web.slack_response import SlackResponse

from bot.logging_setup import log_context
from bot.metrics import Metrics
from bot.slack_errors import classify


class MeasuredWebClient(WebClient):
    def __init__(self, *args, metrics: Metrics, **kwargs):
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    def api_call(self, api_method: str, **kwargs) -> SlackResponse:  # type: ignore[override]
        try:
            with log_context(slack_method=api_method):
                return super().api_call(api_method, **kwargs)
        except Exception as exc:
            self.metrics.slack_error(api_method, classify(exc))
            raise
