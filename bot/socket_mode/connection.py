"""One Socket Mode WebSocket (the `websockets` library's threading client).

A thread reads the connection: `hello` and `disconnect` are noted for the supervisor,
envelopes go to the worker pool, whose answer is acked on this same connection.
websockets' keepalive pings every `ping_interval` and closes the connection when no
pong comes within `ping_timeout`, so a silent (half-open) connection is noticed in
seconds, like one the server closed.
"""
from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from concurrent.futures import Executor
from typing import Callable

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

log = logging.getLogger("escalator.socket_mode")

_numbers = itertools.count(1)
# websockets reports a keepalive timeout (a routine half-open connection) as an ERROR with a
# traceback; the supervisor logs every close with its reason instead.
_library_log = logging.getLogger("escalator.socket_mode.websockets")
_library_log.setLevel(logging.CRITICAL)


class Connection:
    def __init__(self, url: str, handle: Callable[[dict], dict | None], pool: Executor,
                 on_change: Callable[[], None], *, ping_interval: float, ping_timeout: float):
        self.number = next(_numbers)  # for the log: the URL carries a one-use ticket
        self.hello = threading.Event()
        self.closed = threading.Event()
        self.disconnect_reason: str | None = None
        self.close_reason = ""
        self._handle, self._pool, self._on_change = handle, pool, on_change
        self._in_flight = 0
        self._closing = False
        self._idle = threading.Condition()
        self._ws: ClientConnection | None = None
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        options = dict(open_timeout=5, ping_interval=ping_interval, ping_timeout=ping_timeout,
                       close_timeout=0.5, compression=None, max_size=None, logger=_library_log)
        threading.Thread(target=self._read, args=(url, options), name=f"socket-mode-{self.number}",
                         daemon=True).start()
        self._opened.wait()
        if self._open_error is not None:
            raise self._open_error

    def wait_hello(self, timeout: float) -> bool:
        """True once Slack said hello; False if it didn't in time or the socket closed."""
        deadline = time.monotonic() + timeout
        while not self.hello.wait(0.05):
            if self.closed.is_set() or time.monotonic() > deadline:
                return False
        return True

    def close(self, wait_acks: float = 3.0) -> None:
        """Close once the envelopes it delivered are acked (Slack wants each ack on
        the connection the envelope came on; after 3 s it has given up anyway). One that
        arrives after that is not run: its ack could not be sent, and Slack delivers an
        un-acked envelope again, on another connection."""
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=wait_acks)
            self._closing = True
        self._ws.close()

    # -- the reading thread ------------------------------------------------------
    def _read(self, url: str, options: dict) -> None:
        try:
            with connect(url, **options) as self._ws:
                self._opened.set()
                for raw in self._ws:
                    self._receive(raw)
        except ConnectionClosed:
            pass
        except BaseException as error:
            if not self._opened.is_set():
                self._open_error = error  # raised by the constructor
            else:
                log.exception("Socket Mode connection %s: reading failed", self.number)
        finally:
            self._opened.set()
            if self._ws is not None:
                code = self._ws.close_code
                self.close_reason = f"code {code}" if code is not None else "dropped without a close frame"
                if self._ws.close_reason:
                    self.close_reason += f", {self._ws.close_reason}"
            self.closed.set()
            self._on_change()

    def _receive(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
            kind = message.get("type")
        except (ValueError, AttributeError):
            log.warning("Socket Mode connection %s: ignored a message that is not a JSON object", self.number)
            return
        if message.get("envelope_id"):
            with self._idle:
                if self._closing:
                    log.info("Socket Mode connection %s: envelope %s came as it closed; Slack will deliver it "
                             "again", self.number, message["envelope_id"])
                    return
                self._in_flight += 1
            self._pool.submit(self._answer, message)
        elif kind == "hello":
            self.hello.set()
            self._on_change()
        elif kind == "disconnect":
            self.disconnect_reason = str(message.get("reason") or "unspecified")
            log.info("Socket Mode connection %s: Slack will close it (%s); opening the next one first",
                     self.number, self.disconnect_reason)
            self._on_change()

    def _answer(self, envelope: dict) -> None:
        try:
            ack = self._handle(envelope)
            if ack is not None:
                self._ws.send(json.dumps(ack))
        except ConnectionClosed:
            log.warning("Socket Mode connection %s closed before envelope %s was acked; Slack will retry it",
                        self.number, envelope.get("envelope_id"))
        except Exception:
            log.exception("Socket Mode connection %s: envelope %s failed", self.number, envelope.get("envelope_id"))
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
