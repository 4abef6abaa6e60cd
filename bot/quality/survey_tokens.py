"""Survey links: `ESCALATOR_PUBLIC_URL/csat/<token>`, where a token names one ticket and one
of its resolutions and is signed with `ESCALATOR_SECRET` (HMAC-SHA256).

A token is `<ticket id>-<resolution>-<issued, unix seconds, base 36>-<signature>`; anything
else, a signature that doesn't match (forged, or any part altered), or a token issued more
than 30 days ago (or in the future) reads as None, so the page answers 404. Whether the
ticket and resolution exist is the survey's question (bot.quality.csat), not the token's.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

LIFETIME = timedelta(days=30)
CLOCK_SKEW = timedelta(minutes=5)  # several servers' clocks may differ a little
_SIGNATURE_BYTES = 18  # 144 bits, 24 characters of base64url
_TOKEN = re.compile(r"^([1-9]\d{0,8})-([1-9]\d{0,3})-([0-9a-z]{1,8})-([A-Za-z0-9_-]{24})$")


@dataclass(frozen=True)
class SurveyToken:
    ticket_id: int
    resolution: int
    issued_at: datetime


class SurveyLinks:
    def __init__(self, public_url: str, secret: str):
        self.public_url = public_url.rstrip("/")
        self._key = secret.encode("utf-8")

    def url(self, ticket_id: int, resolution: int, now: datetime) -> str:
        return f"{self.public_url}/csat/{self.token(ticket_id, resolution, now)}"

    def token(self, ticket_id: int, resolution: int, now: datetime) -> str:
        issued = _base36(int(now.timestamp()))
        return f"{ticket_id}-{resolution}-{issued}-{self._sign(ticket_id, resolution, issued)}"

    def read(self, token: str, now: datetime) -> SurveyToken | None:
        match = _TOKEN.match(token)
        if match is None:
            return None
        ticket, resolution, issued, signature = match.groups()
        if not hmac.compare_digest(signature, self._sign(int(ticket), int(resolution), issued)):
            return None
        issued_at = datetime.fromtimestamp(int(issued, 36), timezone.utc)
        if not (now - LIFETIME <= issued_at <= now + CLOCK_SKEW):
            return None
        return SurveyToken(int(ticket), int(resolution), issued_at)

    def _sign(self, ticket_id: int, resolution: int, issued: str) -> str:
        message = f"escalator-csat-v1:{ticket_id}:{resolution}:{issued}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
        return base64.urlsafe_b64encode(digest).decode("ascii")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text
