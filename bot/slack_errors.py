"""Slack Web API failures, classified in one place so callers can act on the kind."""
from __future__ import annotations

import socket
import urllib.error
from dataclasses import dataclass
from enum import Enum

from slack_sdk.errors import SlackApiError


class FailureKind(Enum):
    RATE_LIMITED = "rate limited"
    NOT_IN_CHANNEL = "bot not in channel"
    CHANNEL_NOT_FOUND = "channel not found"
    CHANNEL_ARCHIVED = "channel archived"
    MESSAGE_NOT_FOUND = "message not found"
    SERVER_ERROR = "Slack server error"
    NETWORK = "network error"
    REJECTED = "rejected by Slack"

    @property
    def retryable(self) -> bool:
        return self in (FailureKind.RATE_LIMITED, FailureKind.SERVER_ERROR, FailureKind.NETWORK)


@dataclass(frozen=True)
class SlackFailure:
    kind: FailureKind
    error: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.kind.value} ({self.error})"


_BY_ERROR_CODE = {
    "ratelimited": FailureKind.RATE_LIMITED,
    "not_in_channel": FailureKind.NOT_IN_CHANNEL,
    "channel_not_found": FailureKind.CHANNEL_NOT_FOUND,
    "is_archived": FailureKind.CHANNEL_ARCHIVED,
    "message_not_found": FailureKind.MESSAGE_NOT_FOUND,
    "internal_error": FailureKind.SERVER_ERROR,
    "fatal_error": FailureKind.SERVER_ERROR,
    "service_unavailable": FailureKind.SERVER_ERROR,
    "request_timeout": FailureKind.SERVER_ERROR,
}


def classify(exc: Exception) -> SlackFailure:
    """Turn whatever the slack_sdk client raised into a SlackFailure."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", 200)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        code = str(data.get("error") or f"http_{status}")
        if status == 429 or code == "ratelimited":
            headers = {k.lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
            value = headers.get("retry-after")
            if isinstance(value, list):
                value = value[0] if value else None
            try:
                retry_after = max(1.0, float(value)) if value is not None else 1.0
            except ValueError:
                retry_after = 1.0
            return SlackFailure(FailureKind.RATE_LIMITED, code, retry_after)
        if status >= 500:
            return SlackFailure(FailureKind.SERVER_ERROR, code)
        return SlackFailure(_BY_ERROR_CODE.get(code, FailureKind.REJECTED), code)
    if isinstance(exc, (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError)):
        return SlackFailure(FailureKind.NETWORK, type(exc).__name__)
    return SlackFailure(FailureKind.REJECTED, type(exc).__name__)
