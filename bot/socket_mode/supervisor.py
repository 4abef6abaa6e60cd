"""Keeps one Socket Mode connection up: refresh before close, reconnect on a drop.

- `disconnect` (refresh_requested, warning, any reason): the next connection is opened
  first; the old one is closed only once the new one said `hello` and the old one's
  envelopes are acked. Meanwhile both deliver envelopes and both are answered.
- A connection closed by the server or the network (or silent: no pong) is replaced
  at once with a fresh URL from apps.connections.open. Failed attempts are retried
  with a capped, jittered backoff, for as long as it takes, and each one is logged,
  so the log says when the bot is not connected. Only a refused token stops it.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from bot.socket_mode.backoff import retry_delay
from bot.socket_mode.connection import Connection
from bot.socket_mode.token import AppTokenRefused

log = logging.getLogger("escalator.socket_mode")

# A connection that ends sooner than this after its hello counts as a failed attempt, so a
# server that closes every connection at once is retried with backoff, not in a hot loop.
SHORT_LIVED = 2.0


class Supervisor:
    def __init__(self, open_url: Callable[[], str], handle: Callable[[dict], dict | None], *,
                 ping_interval: float = 1.0, ping_timeout: float = 1.5, hello_timeout: float = 5.0,
                 max_backoff: float = 10.0, workers: int = 8):
        self.open_url, self.handle = open_url, handle
        self.ping_interval, self.ping_timeout, self.hello_timeout = ping_interval, ping_timeout, hello_timeout
        self.max_backoff = max_backoff
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="envelope")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.current: Connection | None = None
        self._up_since = 0.0
        self._judged: Connection | None = None  # the last ended connection whose lifetime was weighed

    def run(self) -> None:
        """Until stop(); raises AppTokenRefused if Slack refuses the token."""
        failures = 0
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                current = self.current
                if current is None or current.closed.is_set() or current.disconnect_reason:
                    if current is not None and current.closed.is_set() and current.disconnect_reason is None:
                        log.warning("Socket Mode: not connected to Slack: connection %s closed (%s); reconnecting",
                                    current.number, current.close_reason)
                        self.current = None
                    if current is not None and current.disconnect_reason == "link_disabled":
                        log.error("Socket Mode: Slack says Socket Mode is turned off for this app (disconnect: "
                                  "link_disabled); turn it on in the app's settings; retrying meanwhile")
                    if current is not None and current is not self._judged:  # once per ended connection
                        self._judged = current
                        if self._ended_early(current):  # the first one goes again at once; a second backs off
                            delay = retry_delay(failures - 1, self.max_backoff) if failures else 0.0
                            failures += 1
                            log.warning("Socket Mode: connection %s ended %.1f s after its hello; next attempt "
                                        "in %.1f s", current.number, time.monotonic() - self._up_since, delay)
                            if self._stopping.wait(delay):
                                continue
                        else:
                            failures = 0
                    if self._replace(current):
                        self._up_since = time.monotonic()
                    else:
                        delay = retry_delay(failures, self.max_backoff)
                        failures += 1
                        log.warning("Socket Mode: %s; next attempt in %.1f s",
                                    "not connected to Slack" if self._connected() is None else
                                    "the next connection is not up yet", delay)
                        self._stopping.wait(delay)
                    continue
                self._wake.wait(1.0)
        finally:
            self._close_all()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def _ended_early(self, connection: Connection) -> bool:
        return (connection.disconnect_reason == "link_disabled"
                or time.monotonic() - self._up_since < SHORT_LIVED)

    def _connected(self) -> Connection | None:
        current = self.current
        return current if current is not None and not current.closed.is_set() else None

    def _replace(self, old: Connection | None) -> bool:
        """Open a connection and make it current once it said hello; then close `old`."""
        try:
            new = Connection(self.open_url(), self.handle, self._pool, self._wake.set,
                             ping_interval=self.ping_interval, ping_timeout=self.ping_timeout)
        except AppTokenRefused:
            raise
        except Exception as error:
            log.warning("Socket Mode: could not open a connection (%s: %s)", type(error).__name__, error)
            return False
        if not new.wait_hello(self.hello_timeout):
            log.warning("Socket Mode: connection %s got no hello within %.0f s", new.number, self.hello_timeout)
            threading.Thread(target=new.close, kwargs={"wait_acks": 0}, daemon=True).start()
            return False
        self.current = new
        log.info("Socket Mode: connected to Slack (connection %s)", new.number)
        if old is not None and not old.closed.is_set():
            threading.Thread(target=old.close, name=f"close-{old.number}", daemon=True).start()
        return True

    def _close_all(self) -> None:
        if self.current is not None and not self.current.closed.is_set():
            self.current.close()
        self._pool.shutdown(wait=True)
