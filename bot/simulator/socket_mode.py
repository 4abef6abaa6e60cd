"""FakeSocketMode: Slack's Socket Mode server on 127.0.0.1, over real WebSocket frames.

Behaves like Slack's: ``apps.connections.open`` (on the FakeSlack Web API, with the
app-level token) hands out a one-use ``ws://`` URL; a connection to it gets ``hello``;
envelopes are spread over the connections that said hello and must be acked with
``{"envelope_id": ...}`` on the connection they came on; ``disconnect`` announces that
the server will close a connection (``refresh_requested``, ``warning``), and closes it
itself ``close_after`` seconds later if the app has not. Tests can also drop a
connection without a close frame (``drop``) or make it go silent (``silence``: pings
are no longer answered, like a half-open TCP connection).

Every connection and delivery is recorded with monotonic times, so tests can check
that an old connection was closed only after its successor said hello, and how long
each ack took.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


@dataclass
class SocketConnection:
    """One WebSocket connection as the server sees it."""

    id: int
    opened_at: float
    hello_at: Optional[float] = None
    disconnect_sent_at: Optional[float] = None
    closed_at: Optional[float] = None
    closed_by: Optional[str] = None  # "client" (close frame from the app) or "server"
    silenced: bool = False
    ws: Any = field(default=None, repr=False)

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass
class Delivery:
    """One envelope sent to the app; ``acks`` lists (connection id, seconds, payload);
    ``sent_on`` the connections it went to (more than one when it was delivered again)."""

    envelope_id: str
    type: str
    payload: dict
    sent_at: float
    sent_on: list = field(default_factory=list)
    acks: list = field(default_factory=list)
    acked: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def connection_id(self) -> Optional[int]:
        """The connection it was first sent on."""
        return self.sent_on[0] if self.sent_on else None

    @property
    def ack_seconds(self) -> Optional[float]:
        return self.acks[0][1] if self.acks else None

    @property
    def ack_payload(self) -> Optional[dict]:
        return self.acks[0][2] if self.acks else None

    def wait_ack(self, timeout: float = 5.0) -> "Delivery":
        return self.wait_acks(1, timeout)

    def wait_acks(self, count: int, timeout: float = 5.0) -> "Delivery":
        """Wait for `count` acks (an envelope delivered to several connections)."""
        deadline = time.monotonic() + timeout
        while len(self.acks) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"envelope {self.envelope_id} ({self.type}): {len(self.acks)} of "
                                     f"{count} acks in {timeout}s")
            self.acked.wait(0.01)
        return self


class FakeSocketMode:
    def __init__(self, app_id: str = "A0FAKEAPP"):
        self.app_id = app_id
        self.lock = threading.RLock()
        self.connections: list[SocketConnection] = []
        self.deliveries: dict[str, Delivery] = {}
        self.urls_issued = 0
        self.redelivered = 0  # envelopes sent again because their connection closed un-acked
        self.hello_delay = 0.0  # seconds between the WebSocket handshake and `hello`
        self._tickets: set[str] = set()
        self._ids = itertools.count(1)
        self._next_pick = itertools.count()
        self._changed = threading.Condition(self.lock)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._server = None
        self._timers: list = []  # the closes announced by disconnect()
        self.port = 0

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "FakeSocketMode":
        started = threading.Event()

        async def main() -> None:
            self._server = await serve(self._serve, "127.0.0.1", 0, ping_interval=None, compression=None)
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            await self._server.serve_forever()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(main())
            except asyncio.CancelledError:
                pass

        self._thread = threading.Thread(target=run, name="fake-socket-mode", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake Socket Mode server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._server is None:
            return
        server, self._server = self._server, None

        async def shutdown() -> None:
            for timer in self._timers:
                timer.cancel()
            for conn in self.connections:  # a silenced one would never finish a close handshake
                if conn.open:
                    conn.ws.transport.abort()
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._thread.join(10)

    def __enter__(self) -> "FakeSocketMode":
        return self.start() if self._server is None else self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def new_url(self) -> str:
        """What apps.connections.open answers: a URL good for one connection."""
        with self.lock:
            ticket = uuid.uuid4().hex
            self._tickets.add(ticket)
            self.urls_issued += 1
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}"

    # -- the server side of a connection -----------------------------------------
    async def _serve(self, ws: ServerConnection) -> None:
        ticket = (ws.request.path.split("ticket=", 1) + [""])[1]
        with self.lock:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            await ws.close(1008, "invalid ticket")
            return
        with self.lock:
            conn = SocketConnection(next(self._ids), time.monotonic(), ws=ws)
            self.connections.append(conn)
        if self.hello_delay:
            await asyncio.sleep(self.hello_delay)
        hello = json.dumps({
            "type": "hello", "num_connections": len(self.open_connections()) + 1,
            "debug_info": {"host": f"applink-fake-{conn.id}", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id}})
        with self._changed:  # recorded first: the app may answer before this coroutine resumes
            conn.hello_at = time.monotonic()
            self._changed.notify_all()
        await ws.send(hello)
        try:
            async for raw in ws:
                self._on_ack(conn, raw)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                if conn.closed_at is None:
                    conn.closed_at = time.monotonic()
                    conn.closed_by = conn.closed_by or "client"
                self._changed.notify_all()
                orphans = [d for d in self.deliveries.values() if not d.acks and d.sent_on[-1:] == [conn.id]]
                self.redelivered += len(orphans)
            for delivery in orphans:
                threading.Thread(target=self._deliver_again, args=(delivery,), daemon=True).start()

    def _deliver_again(self, delivery: Delivery) -> None:
        try:
            self.deliver(delivery.type, delivery.payload, envelope_id=delivery.envelope_id,
                         retry_attempt=len(delivery.sent_on), retry_reason="timeout")
        except Exception:
            pass  # no connection came back: Slack gives up on it too

    def _on_ack(self, conn: SocketConnection, raw: Any) -> None:
        now = time.monotonic()
        try:
            message = json.loads(raw)
        except ValueError:
            return
        with self.lock:
            delivery = self.deliveries.get(str(message.get("envelope_id")))
            if delivery is None:
                return
            delivery.acks.append((conn.id, now - delivery.sent_at, message.get("payload")))
        delivery.acked.set()

    # -- what tests do -------------------------------------------------------------
    def open_connections(self) -> list[SocketConnection]:
        """Connections that said hello and are still open (and not silenced), oldest first."""
        with self.lock:
            return [c for c in self.connections if c.open and c.hello_at is not None and not c.silenced]

    def wait_for_connections(self, count: int = 1, timeout: float = 10.0, *,
                             after: Optional[float] = None) -> list[SocketConnection]:
        """Wait until `count` connections are open (opened after `after`, when given)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                ready = [c for c in self.open_connections() if after is None or c.opened_at > after]
                if len(ready) >= count:
                    return ready
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{count} Socket Mode connection(s) expected, {len(ready)} open")
                self._changed.wait(left)

    def wait_closed(self, conn: SocketConnection, timeout: float = 10.0) -> SocketConnection:
        deadline = time.monotonic() + timeout
        with self._changed:
            while conn.open:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"connection {conn.id} is still open after {timeout}s")
                self._changed.wait(left)
        return conn

    def deliver(self, envelope_type: str, payload: dict, *, connection: Optional[SocketConnection] = None,
                envelope_id: Optional[str] = None, retry_attempt: int = 0, retry_reason: str = "",
                wait_connected: float = 10.0) -> Delivery:
        """Send an envelope, on `connection` or the next connected one (round robin, as
        Slack spreads envelopes over an app's connections). Waits up to `wait_connected`
        for a connection; the ack time counts from the first delivery of this envelope_id.

        Like Slack, the server delivers an envelope again (retry_attempt + 1) when it is
        not acked: here as soon as the connection it went to closes without its ack (an
        envelope that crossed the app's close frame), sooner than Slack's timeout."""
        sent_at = time.monotonic()
        envelope_id = envelope_id or str(uuid.uuid4())
        with self.lock:
            delivery = self.deliveries.get(envelope_id)
            if delivery is None:
                delivery = Delivery(envelope_id, envelope_type, payload, sent_at)
                self.deliveries[envelope_id] = delivery
        envelope = json.dumps({"envelope_id": envelope_id, "type": envelope_type, "payload": payload,
                               "accepts_response_payload": envelope_type != "events_api",
                               "retry_attempt": retry_attempt, "retry_reason": retry_reason})
        closing: set[int] = set()
        while True:
            target = connection
            if target is None:
                connected = [c for c in self.wait_for_connections(1, wait_connected) if c.id not in closing]
                if not connected:
                    time.sleep(0.005)
                    continue
                target = connected[next(self._next_pick) % len(connected)]
            with self.lock:
                delivery.sent_on.append(target.id)
            try:
                self._run(target.ws.send(envelope))
                return delivery
            except ConnectionClosed:
                with self.lock:
                    delivery.sent_on.pop()
                if connection is not None:
                    raise
                closing.add(target.id)  # the app is closing it: Slack won't send there

    def disconnect(self, connection: SocketConnection, reason: str = "refresh_requested",
                   close_after: float = 10.0) -> None:
        """Announce that the server will close this connection, and close it `close_after`
        seconds later unless the app closes it first."""
        with self.lock:
            connection.disconnect_sent_at = time.monotonic()
        message = json.dumps({"type": "disconnect", "reason": reason,
                              "debug_info": {"host": f"applink-fake-{connection.id}"}})
        self._run(connection.ws.send(message))

        async def close_later() -> None:
            await asyncio.sleep(close_after)
            if connection.open:
                connection.closed_by = "server"
                await connection.ws.close(1001, "going away")

        async def schedule() -> None:
            self._timers.append(asyncio.ensure_future(close_later()))

        self._run(schedule())

    def drop(self, connection: SocketConnection) -> float:
        """Close the TCP connection without a close frame (a node restart, a proxy
        timeout); returns the monotonic time of the drop."""
        with self.lock:
            connection.closed_by = "server"
        dropped_at = time.monotonic()
        self._loop.call_soon_threadsafe(connection.ws.transport.abort)
        return dropped_at

    def silence(self, connection: SocketConnection) -> float:
        """Stop reading from the connection: the app's pings go unanswered, as on a
        half-open TCP connection. Returns the monotonic time it went silent."""
        with self.lock:
            connection.silenced = True
            connection.closed_by = "server"
        silenced_at = time.monotonic()
        self._loop.call_soon_threadsafe(connection.ws.transport.pause_reading)
        return silenced_at

    def _run(self, coroutine: Any, timeout: float = 5.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

