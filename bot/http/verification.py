"""Slack's request signature (v0 HMAC of the raw body, 5-minute timestamp window),
checked on the bytes as they arrived, before anything parses them.

The check itself is slack_sdk's SignatureVerifier, the one Bolt's own
RequestVerification middleware uses too: one implementation, applied earlier.
"""
from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.signature import SignatureVerifier

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"


class SlackSignature:
    def __init__(self, signing_secret: str):
        self._verifier = SignatureVerifier(signing_secret)

    def is_valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """True only for a body signed with our secret at most 5 minutes ago (or ahead)."""
        timestamp, signature = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
        if not timestamp or not signature or not timestamp.isascii() or not timestamp.isdigit():
            return False  # SignatureVerifier would raise on a timestamp that isn't a number
        try:
            text = body.decode("utf-8")  # Slack's bodies are UTF-8; SignatureVerifier signs the text
        except UnicodeDecodeError:
            return False
        return self._verifier.is_valid(body=text, timestamp=timestamp, signature=signature)
