"""Socket Mode: reconnect after a drop, and acks while connections are refreshed.

    python bench/socket_mode.py [--drops 10] [--refreshes 20] [--compare]

A benchmark that prints figures (not a test). The Slack side is the simulator in this
process: FakeSlack's Web API and its Socket Mode server (real WebSocket frames), whose
`hello` comes 0.2 s after the handshake. The bot is `escalator serve` in Socket Mode,
its own process (SQLite in a temporary directory), as operators run it:

  drop      the server closes the bot's socket without a close frame; seconds from
            then to the next connection's hello (median and max of --drops)
  refresh   a steady stream of `/escalate help` (one every 50 ms, each a slash command
            envelope the bot answers in its ack) while the server sends
            `disconnect: refresh_requested` to the bot's connection --refreshes times;
            the worst ack during the refreshes (from an envelope's first delivery),
            envelopes never acked, delivered again by the server (sent on the old
            connection as the app's close frame crossed it: Slack redelivers an
            un-acked envelope), answered twice, and how often the old connection was
            closed before the new one said hello

--compare also runs the three cases on the Socket Mode clients themselves, each with a
listener that acks at once (what the client adds, without Bolt or a database):
slack_sdk's built-in, websocket-client, websockets and aiohttp clients with their
default settings, and our supervisor (bot/socket_mode). The silent case stops the
server from reading the socket, so pings go unanswered (a half-open connection).
Clients whose library isn't installed are skipped.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.policy import load_policy  # noqa: E402
from bot.simulator import FakeSlack, SocketModeDriver  # noqa: E402

TOKEN = "xoxb-bench-token"
SUPPORT = "C0SUPPORT"
HELLO_DELAY = 0.2


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def new_sim() -> FakeSlack:
    sim = FakeSlack(token=TOKEN).start()
    sim.add_channel(SUPPORT, "support")
    for key, level in load_policy().levels.items():
        sim.add_channel(level.channel, key)
    sim.enable_socket_mode().hello_delay = HELLO_DELAY
    return sim


# -- the three cases, on whatever is connected to the server --------------------------------
def time_drops(server, count: int, timeout: float = 30.0) -> list[float]:
    seconds = []
    for _ in range(count):
        old = server.wait_for_connections(1, timeout)[-1]
        dropped_at = server.drop(old)
        new = server.wait_for_connections(1, timeout, after=old.opened_at)[-1]
        seconds.append(new.hello_at - dropped_at)
        time.sleep(0.3)
    return seconds


def time_silence(server, timeout: float = 60.0) -> float | None:
    old = server.wait_for_connections(1, timeout)[-1]
    silenced_at = server.silence(old)
    try:
        new = server.wait_for_connections(1, timeout, after=old.opened_at)[-1]
    except AssertionError:
        return None
    return new.hello_at - silenced_at


def time_refreshes(server, send, count: int, timeout: float = 30.0) -> dict:
    """`send()` delivers one envelope and returns its Delivery; runs every 50 ms meanwhile."""
    stop, deliveries, unacked = threading.Event(), [], [0]

    def stream() -> None:
        while not stop.is_set():
            try:
                deliveries.append(send())
            except AssertionError:
                unacked[0] += 1  # sent, never acked
            time.sleep(0.05)

    redelivered_before = server.redelivered
    people = threading.Thread(target=stream, daemon=True)
    people.start()
    closed_before_hello, reconnects = 0, []
    for _ in range(count):
        old = server.wait_for_connections(1, timeout)[-1]
        time.sleep(0.3)
        server.disconnect(old, "refresh_requested", close_after=10)
        new = server.wait_for_connections(1, timeout, after=old.opened_at)[-1]
        server.wait_closed(old, timeout)
        closed_before_hello += old.closed_at < new.hello_at
        reconnects.append(new.hello_at - old.disconnect_sent_at)
    time.sleep(0.5)
    stop.set()
    people.join(10)
    for delivery in deliveries:
        delivery.acked.wait(5)
    acks = sorted(d.ack_seconds for d in deliveries if d.acks)
    return {"envelopes": len(deliveries), "lost": sum(1 for d in deliveries if not d.acks) + unacked[0],
            "redelivered": server.redelivered - redelivered_before,
            "twice": sum(1 for d in deliveries if len(d.acks) > 1), "p50": statistics.median(acks),
            "worst": acks[-1], "closed_before_hello": closed_before_hello, "count": count,
            "new_hello": max(reconnects)}


# -- the bot, as `escalator serve` --------------------------------------------------------------
def bench_bot(drops: int, refreshes: int) -> None:
    sim = new_sim()
    directory = tempfile.mkdtemp(prefix="escalator-bench-")
    env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": "bench-signing-secret",
           "SLACK_APP_TOKEN": sim.app_token, "SLACK_API_URL": sim.url,
           "DATABASE_URL": f"sqlite:///{directory}/bench.db"}
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=Path(__file__).parent.parent,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        server = sim.socket_mode
        server.wait_for_connections(1, 60)
        driver = SocketModeDriver(sim)
        driver.command("U0AGENT1", SUPPORT, "help")  # warm-up
        seconds = time_drops(server, drops)
        print(f"escalator serve, abrupt close -> next hello ({drops}): median {statistics.median(seconds):.3f} s, "
              f"max {max(seconds):.3f} s")

        def send():
            driver.command("U0AGENT1", SUPPORT, "help")
            return driver.deliveries[-1]

        result = time_refreshes(server, send, refreshes)
        print(f"escalator serve, {refreshes} refreshes under {result['envelopes']} `/escalate help`: worst ack "
              f"{result['worst'] * 1000:.0f} ms (median {result['p50'] * 1000:.1f} ms), never acked {result['lost']}, "
              f"delivered again after crossing the old connection's close {result['redelivered']}, "
              f"answered twice {result['twice']}, old closed before the new hello "
              f"{result['closed_before_hello']} of {refreshes}")
    finally:
        bot.terminate()
        bot.wait(15)
        sim.stop()


# -- the clients on their own -----------------------------------------------------------------------
def run_sdk_client(kind: str, sim: FakeSlack) -> callable:
    """Start slack_sdk's `kind` client with an ack-at-once listener; returns its stop()."""
    from slack_sdk.socket_mode.response import SocketModeResponse

    if kind in ("built-in", "websocket-client"):
        from slack_sdk import WebClient

        if kind == "built-in":
            from slack_sdk.socket_mode.builtin import SocketModeClient
        else:
            from slack_sdk.socket_mode.websocket_client import SocketModeClient
        client = SocketModeClient(app_token=sim.app_token, web_client=WebClient(base_url=sim.url))
        client.socket_mode_request_listeners.append(
            lambda c, req: c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id)))
        client.connect()
        return client.close

    from slack_sdk.web.async_client import AsyncWebClient

    if kind == "websockets":
        from slack_sdk.socket_mode.websockets import SocketModeClient
    else:
        from slack_sdk.socket_mode.aiohttp import SocketModeClient
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def start():
        client = SocketModeClient(app_token=sim.app_token, web_client=AsyncWebClient(base_url=sim.url))

        async def ack(c, req):
            await c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

        client.socket_mode_request_listeners.append(ack)
        await client.connect()
        return client

    client = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    return lambda: asyncio.run_coroutine_threadsafe(client.close(), loop).result(30)


def run_ours(sim: FakeSlack) -> callable:
    from slack_sdk import WebClient

    from bot.socket_mode import Supervisor
    from bot.socket_mode.token import open_connection_url

    client = WebClient(token=sim.app_token, base_url=sim.url, retry_handlers=[])
    supervisor = Supervisor(lambda: open_connection_url(client), lambda e: {"envelope_id": e["envelope_id"]})
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    return lambda: (supervisor.stop(), thread.join(10))


def compare(refreshes: int, drops: int) -> None:
    print(f"\nclients on their own, ack-at-once listener ({refreshes} refreshes, {drops} drops):")
    print(f"{'client':<18} {'worst ack in refresh':>21} {'unacked':>7} {'again':>6} {'closed before hello':>20} "
          f"{'drop -> hello':>20} {'silent -> hello':>16}")
    for kind in ("built-in", "websocket-client", "websockets", "aiohttp", "ours"):
        try:
            sim = new_sim()
            stop = run_ours(sim) if kind == "ours" else run_sdk_client(kind, sim)
        except ImportError as error:
            print(f"{kind:<18} skipped: {error.name} is not installed")
            continue
        try:
            server = sim.socket_mode
            server.wait_for_connections(1, 30)
            result = time_refreshes(server, lambda: server.deliver("interactive", {"type": "block_actions"}),
                                    refreshes)
            seconds = time_drops(server, drops)
            silent = time_silence(server)
            print(f"{kind:<18} {result['worst'] * 1000:>18.0f} ms {result['lost']:>7} {result['redelivered']:>6} "
                  f"{result['closed_before_hello']:>14} of {refreshes:<3} "
                  f"{statistics.median(seconds):>7.2f} s (max {max(seconds):.2f}) "
                  f"{'never' if silent is None else f'{silent:.2f} s':>14}")
        finally:
            try:
                stop()
            except Exception:
                pass
            sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drops", type=int, default=10)
    parser.add_argument("--refreshes", type=int, default=20)
    parser.add_argument("--compare", action="store_true", help="also compare the Socket Mode clients")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    print(machine())
    bench_bot(args.drops, args.refreshes)
    if args.compare:
        compare(min(args.refreshes, 5), min(args.drops, 3))


if __name__ == "__main__":
    main()
