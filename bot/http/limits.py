"""Bounds on what one request may cost: body size and the time its body may take.

`RequestLimits` is ASGI middleware around every route of the app (bot.http.hardened):
- a Content-Length above the cap is answered 413 before a byte of the body is read;
- a body without one (chunked) is counted as it streams and cut with 413 at the cap,
  so at most `max_body` bytes of a request are ever held;
- a body that hasn't fully arrived `body_timeout` seconds after its headers gets 408
  (a slow client can't hold a worker for ever; Slack sends its few KB at once).
The parts of a request uvicorn handles before any route sees it (headers) are bounded
in bot.http.protocol.
"""
from __future__ import annotations

import asyncio
import logging
import time

from bot.config import DEFAULT_MAX_BODY

log = logging.getLogger("escalator.http")

BODY_TIMEOUT = 10.0  # seconds from the headers to the body's last byte


class _Refused(Exception):
    """Raised out of `receive` to abandon a request; answered with its status."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class RequestLimits:
    body_timeout = BODY_TIMEOUT

    def __init__(self, app, max_body: int = DEFAULT_MAX_BODY, body_timeout: float | None = None):
        self.app = app
        self.max_body = max_body
        if body_timeout is not None:
            self.body_timeout = body_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == "invalid":
            await _answer(send, 400, "Bad Content-Length")
            return
        if declared is not None and declared > self.max_body:
            _refused(scope, 413, f"declared {declared} bytes")
            await _answer(send, 413, "Request body too large")
            return

        received = 0
        deadline = time.monotonic() + self.body_timeout
        body_done = False
        started = False

        async def limited_receive():
            nonlocal received, body_done
            if body_done:  # after the body, receive only reports a disconnect: no deadline then
                return await receive()
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                    message = await receive()
            except TimeoutError:
                raise _Refused(408, f"body not complete after {self.body_timeout:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _Refused(413, f"body passed {self.max_body} bytes")
                body_done = not message.get("more_body", False)
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _Refused as refused:
            _refused(scope, refused.status, refused.reason)
            if not started:
                await _answer(send, refused.status, _PHRASES[refused.status])


_PHRASES = {408: "Request body took too long", 413: "Request body too large"}


def _content_length(scope) -> int | str | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) < 20 else "invalid"
    return None


def _refused(scope, status: int, reason: str) -> None:
    log.warning("refused %s %r with %d: %s", scope.get("method"), scope.get("path", "")[:100], status, reason)


async def _answer(send, status: int, text: str) -> None:
    body = text.encode()
    # Connection: close: the rest of an unread body must not be taken for the next request
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
