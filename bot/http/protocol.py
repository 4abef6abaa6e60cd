"""uvicorn's HTTP protocol with the two bounds it lacks on a request's head:
a time limit (uvicorn waits for ever for headers sent a byte at a time, and such a
connection counts against `limit_concurrency` all the while) and a size limit (its
httptools parser keeps every header line it is sent).

A head over the size limit is refused the way uvicorn refuses any malformed request:
400 "Invalid HTTP request received.", one warning line, connection closed.
"""
from __future__ import annotations

import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("escalator.http")

HEAD_TIMEOUT = 10.0  # seconds for the request line and headers, from their first byte
MAX_HEAD = 64 * 1024  # bytes of request line and headers; Slack's are under 2 KB


class HeadTooLarge(Exception):
    pass


class GuardedHttpProtocol(HttpToolsProtocol):
    head_timeout = HEAD_TIMEOUT
    max_head = MAX_HEAD

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_size = self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_size = self._head_bytes = 0
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def data_received(self, data: bytes) -> None:
        # httptools keeps a header's name and value to itself until its line ends, so
        # on_header counts too late for one endless header (memory, and a quadratic copy
        # that blocks the loop): bytes that leave the head still incomplete count here
        in_head = getattr(self, "_head_timer", None) is not None
        super().data_received(data)
        if in_head and self._head_timer is not None and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head:
                self._cancel_head_timer()
                log.warning("refused a request whose headers passed %d bytes", self.max_head)
                self.send_400_response("Invalid HTTP request received.")

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _count_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.max_head:
            raise HeadTooLarge  # the parser turns it into an HttpParserError: uvicorn answers 400

    def _cancel_head_timer(self) -> None:
        if getattr(self, "_head_timer", None) is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            log.warning("closed a connection whose request headers took over %g s", self.head_timeout)
            self.transport.close()
