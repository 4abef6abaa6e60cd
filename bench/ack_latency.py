"""Acknowledgement latency at the real HTTP endpoint, with concurrent senders.

    /tmp/venv/bin/python bench/ack_latency.py [--requests 2000] [--concurrency 8]
        [--warmup 200] [--database-url URL] [--max-seconds 120]

A benchmark that prints figures (not a test). Every server runs in its own process
(spawned), as in production; this process only sends requests, from --concurrency
threads with one persistent HTTP/1.1 connection each, and times each request from
send to the last byte of the response. Scenarios, one after another, same requests:

  bare / stock adapter   App() (process_before_response=False) behind Bolt's
                         slack_bolt.adapter.starlette.SlackRequestHandler, uvicorn
  bare / threadpool      App(process_before_response=True); Starlette calls
                         run_in_threadpool(app.dispatch, to_bolt_request(...)), uvicorn
  escalator help         `/escalate help` on our bot (ephemeral in the ack body)
  escalator Acknowledge  the Acknowledge button on a fresh tier1 briefing, clicked by
                         U0AGENT1: one real DB write per request (every click is a
                         different ticket, opened and delivered beforehand)
  bare / same clicks     those click requests on the bare threadpool app with a no-op
                         action listener (our bot stopped first): what Bolt and HTTP
                         cost for a 4 KB block_actions payload, with no database
  bare / one-row write   the same clicks on that app, whose action writes one row (an
                         UPDATE of the clicked id) in its own transaction through the
                         bot's engine and unit of work (bot.db), same database: the
                         least any click with a database write can cost in this stack

The bare apps have a no-op `/escalate` listener and get the same `/escalate help`
requests. The Slack Web API is the FakeSlack simulator (its own process). Our bot runs
with its outbox worker on the production DeliveryOptions() while it is measured (the
worker wakes after each click's commit and delivers at Slack's pace, as in production);
only while the click tickets are opened and briefed, between the measurements, does it
deliver unpaced. Servers are uvicorn bound like `escalator serve --http`.

The senders are a closed loop: each sends its next request when it has read the previous
answer, so mean latency ~= concurrency / throughput; a server that is CPU-bound at
R requests/s shows about 8/R seconds of latency with 8 senders. Each row also gives the
server process's CPU per measured request (all its threads: for our bot, the outbox
worker too), the steadier figure when comparing code on a machine whose speed drifts.
Only 127.0.0.1 is used; every wait is bounded (--max-seconds per scenario).
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import logging
import multiprocessing
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from scratch_db import ScratchDatabase

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECRET = "bench-signing-secret-0123456789"
TOKEN = "xoxb-bench-token"
SUPPORT = "C0SUPPORT"
AGENT = "U0AGENT1"  # a tier1 member in the default policy
ACKNOWLEDGE = "ticket.acknowledge"
EVENTS_PATH = "/slack/events"
GOALS = {"help": 25.0, "ack": 40.0}  # p99 ms
BARE_CLICK = "bare: same clicks, no-op action (threadpool)"
ONE_ROW = "bare: same clicks, one-row write (bot.db)"
ACK = "escalator: Acknowledge click (DB write)"
MAX_RATIO = 3.0
CONTROL_TIMEOUT = 60.0  # seconds for any one control message to a child process

# =====================================================================================
# child processes
# =====================================================================================


def _quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(processName)s %(name)s %(levelname)s %(message)s")
    for name in ("escalator", "slack_bolt", "slack_sdk", "uvicorn", "sqlalchemy", "alembic", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _serve_loop(conn, handlers: dict) -> None:
    """Answer control messages (name, *args) until "stop"; errors go back to the parent."""
    while True:
        name, *args = conn.recv()
        if name == "stop":
            conn.send(("ok", None))
            return
        if name == "cpu":  # this process's CPU seconds so far, every thread included
            conn.send(("ok", time.process_time()))
            continue
        try:
            conn.send(("ok", handlers[name](*args)))
        except Exception as exc:  # report to the parent rather than die silently
            import traceback

            conn.send(("error", f"{exc!r}\n{traceback.format_exc()}"))


def sim_process(conn) -> None:
    """FakeSlack in its own process; the parent asks it for briefings and ids."""
    _quiet_logging()
    from bot.policy import load_policy
    from bot.simulator import FakeSlack

    sim = FakeSlack(token=TOKEN).start()
    sim.add_channel(SUPPORT, "support")
    for key, level in load_policy().levels.items():
        sim.add_channel(level.channel, key)

    def command_ids(channel: str, user: str, count: int) -> list[tuple[str, str]]:
        return [(sim.new_response_url(channel=channel, user=user), sim.new_trigger_id(user))
                for _ in range(count)]

    def briefings(channel: str, user: str) -> list[dict]:
        """Each root message with an Acknowledge button, as a click needs it."""
        found = []
        for message in sim.messages(channel):
            try:
                block, element = message.button(ACKNOWLEDGE)
            except KeyError:
                continue
            found.append({"ts": message.ts, "message": message.to_api(), "block_id": block.get("block_id"),
                          "element": element, "trigger_id": sim.new_trigger_id(user),
                          "response_url": sim.new_response_url(channel, user, message.ts)})
        return found

    def stats() -> dict:
        return {"calls": len(sim.calls), "ephemerals": len(sim.ephemerals())}

    conn.send(("ok", {"url": sim.url}))
    try:
        _serve_loop(conn, {"command_ids": command_ids, "briefings": briefings, "stats": stats})
    finally:
        sim.stop()


def _one_row_writer(database_url: str, rows: int):
    """write(row, user): one UPDATE of one row in its own transaction, through the bot's
    own engine and unit of work (on SQLite, its group commit); written(): rows written;
    drop(): the table goes (a --database-url may name a database that outlives the run)."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, func, insert, select, update

    from bot.db import make_engine, make_session_factory, transaction

    engine = make_engine(database_url)
    table = Table("bench_one_row", MetaData(), Column("id", Integer, primary_key=True),
                  Column("acknowledged_by", String(32)))
    table.drop(engine, checkfirst=True)  # left by a run that was killed
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(insert(table), [{"id": row} for row in range(1, rows + 1)])
    sessions = make_session_factory(engine)
    claim = (update(table).where(table.c.id == bindparam("row"), table.c.acknowledged_by.is_(None))
             .values(acknowledged_by=bindparam("user")))

    def write(row: int, user: str) -> None:
        with transaction(sessions) as session:
            session.connection().execute(claim, {"row": row, "user": user})

    def written() -> int:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).where(table.c.acknowledged_by.is_not(None)))

    def drop() -> None:
        table.drop(engine, checkfirst=True)
        engine.dispose()

    return write, written, drop


def _bare_asgi(kind: str, sim_url: str, database_url: str | None = None, rows: int = 0):
    """The bare app, its control handlers (the one-row writer's `written`) and what to
    run when it stops."""
    from slack_bolt import App
    from slack_sdk import WebClient
    from starlette.applications import Starlette
    from starlette.routing import Route

    # The client points at the simulator: Bolt's single-team authorization calls
    # auth.test once (at start-up here), exactly as it does for our bot.
    client = WebClient(token=TOKEN, base_url=sim_url)
    if kind == "stock":
        from slack_bolt.adapter.starlette import SlackRequestHandler

        app = App(client=client, signing_secret=SECRET)
        handler = SlackRequestHandler(app)

        async def endpoint(request):
            return await handler.handle(request)
    else:
        from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
        from starlette.concurrency import run_in_threadpool

        app = App(client=client, signing_secret=SECRET, process_before_response=True)

        async def endpoint(request):
            body = await request.body()
            response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
            return to_starlette_response(response)

    @app.command("/escalate")
    def noop(ack):
        ack()

    handlers, cleanup = {}, None
    if kind == "one-row":
        write, handlers["written"], cleanup = _one_row_writer(database_url, rows)

        @app.action(ACKNOWLEDGE)
        def one_row_click(ack, body):
            write(json.loads(body["actions"][0]["value"])["t"], body["user"]["id"])
            ack()
    else:
        @app.action(ACKNOWLEDGE)
        def noop_click(ack):
            ack()

    return Starlette(routes=[Route(EVENTS_PATH, endpoint, methods=["POST"])]), handlers, cleanup


class UvicornThread:
    """uvicorn on 127.0.0.1, an ephemeral port, in a thread of this (child) process.

    Binds the way `escalator serve --http` does (bot.server.serve_http: uvicorn's
    create_server from host/port), so accepted sockets get TCP_NODELAY like in
    production. bot.server.BackgroundServer binds its own socket with proto=0, and
    asyncio then skips TCP_NODELAY: a response written in two segments (headers,
    then a body) waits for the client's delayed ACK, ~40 ms. `--server background`
    measures through BackgroundServer instead, to show that.
    """

    def __init__(self, asgi_app, kind: str = "uvicorn"):
        import uvicorn

        self.kind = kind
        if kind == "background":
            from bot.server import BackgroundServer

            self._background = BackgroundServer(asgi_app)
            return
        from bot.http import uvicorn_options

        config = uvicorn.Config(asgi_app, host="127.0.0.1", port=0, lifespan="off", **uvicorn_options())
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    def start(self) -> UvicornThread:
        if self.kind == "background":
            self._background.start()
            self.url = self._background.url
            return self
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self.kind == "background":
            self._background.stop()
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)


def bare_process(conn, kind: str, sim_url: str, server_kind: str, database_url: str | None = None,
                 rows: int = 0) -> None:
    _quiet_logging()
    asgi_app, handlers, cleanup = _bare_asgi(kind, sim_url, database_url, rows)
    server = UvicornThread(asgi_app, server_kind).start()
    conn.send(("ok", {"url": server.url}))
    try:
        _serve_loop(conn, handlers)
    finally:
        server.stop()
        if cleanup:
            cleanup()


def bot_process(conn, sim_url: str, database_url: str, server_kind: str) -> None:
    """Our bot wired like tests/harness.py: HTTP endpoint, outbox worker, simulator API."""
    _quiet_logging()
    from sqlalchemy import func, select

    from bot.config import Settings
    from bot.delivery import DeliveryOptions
    from bot.forms import parse_new_ticket
    from bot.ids import BlockId
    from bot.models import Base, Ticket, TicketStatus
    from bot.policy import load_policy
    from bot.runtime import build_app, build_runtime, freeze_startup_objects
    from bot.server import create_asgi_app

    policy = load_policy()
    # The worker runs with the production options while we measure. Only to set up the
    # clicks it paces nothing: thousands of briefings in one channel can't take a second each.
    setup_delivery = DeliveryOptions(poll_interval=0.05, channel_interval=timedelta(0), max_backoff=1.0,
                                     lease=timedelta(seconds=10))
    settings = Settings(bot_token=TOKEN, signing_secret=SECRET, slack_api_url=sim_url, database_url=database_url)
    runtime = build_runtime(settings, policy=policy, delivery=DeliveryOptions())
    app = build_app(runtime)
    freeze_startup_objects()  # as `escalator serve` does
    server = UvicornThread(create_asgi_app(runtime, app), server_kind).start()
    runtime.worker.start()

    def open_and_brief(count: int, requester: str, chunk: int, timeout: float) -> list[int]:
        """Open `count` tier1 tickets, `chunk` at a time, each chunk's briefings delivered
        before the next is opened. (One big batch is much slower: every claim costs about
        pending x already-sent rows of the channel on SQLite; see the report.)"""
        form = parse_new_ticket({BlockId.SUMMARY: "Checkout fails with a 500", BlockId.CUSTOMER: "ACME GmbH",
                                 BlockId.SEVERITY: "P2", BlockId.STEPS: "Cleared cache, reproduced in staging"})
        deadline = time.monotonic() + timeout
        ids: list[int] = []
        while len(ids) < count:
            for _ in range(min(chunk, count - len(ids))):
                ticket = runtime.desk.open_ticket(form, requester_id=requester, source_channel=SUPPORT)
                assert ticket.level == "tier1", ticket.level
                ids.append(ticket.id)
            while runtime.worker.pending():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"briefings not delivered within {timeout:.0f}s "
                                       f"({len(ids)} of {count} tickets opened, {runtime.worker.pending()} pending)")
                time.sleep(0.01)
        if runtime.engine.dialect.name == "postgresql":
            # A production database has planner statistics (autovacuum keeps them); this
            # schema grew from empty within seconds, and on an empty table's statistics
            # the planner scans slack_messages instead of using its ticket_id index.
            with runtime.engine.begin() as connection:
                for table in Base.metadata.sorted_tables:
                    connection.exec_driver_sql(f'ANALYZE "{table.name}"')
        return ids

    def delivery(kind: str) -> None:
        # the worker's records (pacing, back-off) hold the options too (bot.delivery_records)
        options = setup_delivery if kind == "setup" else DeliveryOptions()
        runtime.worker.options = runtime.worker.records.options = options

    def acknowledged(ticket_ids: list[int], user: str) -> int:
        with runtime.sessions() as session:
            return session.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.id.in_(ticket_ids), Ticket.status == TicketStatus.ACKNOWLEDGED,
                Ticket.acknowledged_by == user))

    conn.send(("ok", {"url": server.url}))
    try:
        _serve_loop(conn, {"open_and_brief": open_and_brief,
                           "delivery": delivery, "acknowledged": acknowledged})
    finally:
        server.stop()
        runtime.worker.stop()
        runtime.stop()


class Child:
    """A spawned process answering control messages over a pipe."""

    def __init__(self, name: str, target, *args):
        context = multiprocessing.get_context("spawn")
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=target, args=(child_conn, *args), name=name, daemon=True)
        self.process.start()
        child_conn.close()
        self.name = name
        self.info = self._reply(CONTROL_TIMEOUT)

    def _reply(self, timeout: float):
        if not self.conn.poll(timeout):
            raise RuntimeError(f"{self.name}: no answer within {timeout:.0f}s")
        try:
            status, value = self.conn.recv()
        except EOFError:
            raise RuntimeError(f"{self.name} exited (code {self.process.exitcode})") from None
        if status != "ok":
            raise RuntimeError(f"{self.name} failed: {value}")
        return value

    def call(self, name: str, *args, timeout: float = CONTROL_TIMEOUT):
        self.conn.send((name, *args))
        return self._reply(timeout)

    def stop(self) -> None:
        try:
            if self.process.is_alive():
                self.call("stop", timeout=15)
        except (RuntimeError, OSError, BrokenPipeError):
            pass
        self.process.join(timeout=15)
        if self.process.is_alive():
            self.process.terminate()  # only this child, by its handle
            self.process.join(timeout=5)


# =====================================================================================
# load generation (this process)
# =====================================================================================


@dataclass
class Prepared:
    body: bytes
    content_type: str = "application/x-www-form-urlencoded"


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    planned: int = 0
    note: str = ""
    server_cpu: float = float("nan")  # seconds of the server process's CPU over the measured requests

    def pct(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")


def percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def send_all(url: str, requests: list[Prepared], concurrency: int, deadline_s: float,
             check=None) -> tuple[list[float], list[str], float]:
    """POST every prepared request, `concurrency` at a time (closed loop, one persistent
    connection per sender). Each is signed just before its clock starts."""
    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier(SECRET)
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    assert host == "127.0.0.1", host
    counter = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[str] = []
    start_barrier = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def sender(slot: int) -> None:
        mine = latencies[slot]
        conn = http.client.HTTPConnection(host, port, timeout=15)
        conn.connect()
        start_barrier.wait()
        try:
            while True:
                index = next(counter)
                if index >= len(requests) or time.monotonic() > deadline[0]:
                    return
                request = requests[index]
                timestamp = str(int(time.time()))
                headers = {"Content-Type": request.content_type, "X-Slack-Request-Timestamp": timestamp,
                           "X-Slack-Signature": verifier.generate_signature(timestamp=timestamp, body=request.body)}
                began = time.perf_counter()
                try:
                    conn.request("POST", EVENTS_PATH, body=request.body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    errors.append(f"#{index}: {exc!r}")
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=15)
                    continue
                elapsed = time.perf_counter() - began
                problem = None if response.status == 200 else f"HTTP {response.status}: {data[:200]!r}"
                if problem is None and check is not None:
                    problem = check(data)
                if problem:
                    errors.append(f"#{index}: {problem}")
                else:
                    mine.append(elapsed)
        finally:
            conn.close()

    threads = [threading.Thread(target=sender, args=(slot,), name=f"sender-{slot}", daemon=True)
               for slot in range(concurrency)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + deadline_s
    start_barrier.wait(timeout=30)
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=deadline_s + 30)
    wall = time.perf_counter() - began
    return [x for slot in latencies for x in slot], errors, wall


def command_request(response_url: str, trigger_id: str, team_id: str = "T0TEST") -> Prepared:
    """`/escalate help` as Slack posts it (fields as in SlackDriver.command)."""
    return Prepared(urlencode({
        "token": "fake-verification-token", "team_id": team_id, "team_domain": "fake",
        "channel_id": SUPPORT, "channel_name": "support", "user_id": AGENT, "user_name": AGENT.lower(),
        "command": "/escalate", "text": "help", "api_app_id": "A0FAKEAPP", "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": trigger_id}).encode("utf-8"))


def click_request(channel: str, briefing: dict, team_id: str = "T0TEST") -> Prepared:
    """A block_actions click on the briefing's Acknowledge button (as SlackDriver.click)."""
    element = briefing["element"]
    action = {"action_id": ACKNOWLEDGE, "block_id": briefing["block_id"], "type": element.get("type", "button"),
              "action_ts": f"{time.time():.6f}", "value": element.get("value"), "text": element.get("text")}
    user = {"id": AGENT, "username": AGENT.lower(), "name": AGENT.lower(), "team_id": team_id}
    payload = {"type": "block_actions", "token": "fake-verification-token", "api_app_id": "A0FAKEAPP",
               "team": {"id": team_id, "domain": "fake"}, "user": user, "enterprise": None,
               "is_enterprise_install": False,
               "container": {"type": "message", "message_ts": briefing["ts"], "channel_id": channel,
                             "is_ephemeral": False},
               "channel": {"id": channel, "name": "tier1"}, "message": briefing["message"],
               "trigger_id": briefing["trigger_id"], "state": {"values": {}},
               "response_url": briefing["response_url"], "actions": [action]}
    return Prepared(urlencode({"payload": json.dumps(payload)}).encode("utf-8"))


def check_help(data: bytes) -> str | None:
    try:
        body = json.loads(data)
    except ValueError:
        return f"not JSON: {data[:120]!r}"
    if "How to use /escalate" not in json.dumps(body):
        return f"not the help answer: {data[:160]!r}"
    return None


def check_empty(data: bytes) -> str | None:
    return None if not data.strip() else f"unexpected ack body: {data[:160]!r}"


def run_scenario(name: str, server: Child, warmup: list[Prepared], measured: list[Prepared], args,
                 check=None) -> Result:
    print(f"  {name}: {len(warmup)} warm-up + {len(measured)} requests …", flush=True)
    url = server.info["url"]
    result = Result(name, planned=len(measured))
    if warmup:
        _, errors, _ = send_all(url, warmup, args.concurrency, args.max_seconds, check)
        result.errors += [f"warm-up {e}" for e in errors]
    cpu_before = server.call("cpu")
    latencies, errors, wall = send_all(url, measured, args.concurrency, args.max_seconds, check)
    result.server_cpu = server.call("cpu") - cpu_before
    result.latencies, result.wall = latencies, wall
    result.errors += errors
    if len(latencies) + len(errors) < len(measured):
        result.note = f"stopped at --max-seconds {args.max_seconds:g}"
    return result


# =====================================================================================
# databases
# =====================================================================================


# =====================================================================================
# main
# =====================================================================================


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per scenario (2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent senders (8)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per scenario first (200)")
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL for the bot (default: a temp SQLite file). For PostgreSQL "
                             "the run works in a fresh schema it drops afterwards.")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="time limit for each scenario's send loop (120)")
    parser.add_argument("--server", choices=("uvicorn", "background"), default="uvicorn",
                        help="uvicorn bound as in `escalator serve --http` (default), or "
                             "bot.server.BackgroundServer (no TCP_NODELAY: see UvicornThread)")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0 or args.max_seconds <= 0:
        parser.error("--requests and --concurrency must be positive, --warmup not negative")
    if args.requests > 100_000 or args.warmup > 100_000 or args.concurrency > 256:
        parser.error("bounded: at most 100000 requests/warm-up and 256 senders")
    return args


def print_report(results: list[Result], args, database: ScratchDatabase, setup_note: str) -> bool:
    print()
    print(f"Acknowledgement latency, {args.concurrency} concurrent senders, keep-alive, 127.0.0.1; "
          f"database: {database.label}")
    print(f"({os.cpu_count()} CPUs; servers each in their own process, {args.server} server; {setup_note})")
    print()
    header = f"{'scenario':<44} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} " \
             f"{'max ms':>8} {'req/s':>7} {'cpu ms/req':>10}"
    print(header)
    print("-" * len(header))
    for r in results:
        rate = len(r.latencies) / r.wall if r.wall else float("nan")
        cpu_per_request = 1000 * r.server_cpu / len(r.latencies) if r.latencies else float("nan")
        print(f"{r.name:<44} {len(r.latencies):>8} {len(r.errors):>6} {r.pct(50):>8.2f} {r.pct(99):>8.2f} "
              f"{r.mean:>8.2f} {r.pct(100):>8.2f} {rate:>7.0f} {cpu_per_request:>10.2f}"
              + (f"  ({r.note})" if r.note else ""))
    print(f"(closed loop: each sender waits for its answer, so mean ~= {args.concurrency} / req/s; "
          "p99 over the measured requests only;\n cpu ms/req: the server process's CPU over the measured "
          "requests, every thread included, per request: steadier than latency on a noisy machine)")
    print()
    by_key = {r.name: r for r in results}
    bare = [r for r in results if r.name.startswith("bare") and r.name not in (BARE_CLICK, ONE_ROW)]
    fastest = min(bare, key=lambda r: r.pct(99))
    base = fastest.pct(99)
    print(f"fastest bare Bolt set-up (by p99): {fastest.name} — p99 {base:.2f} ms")
    ok = True
    for key, label in (("help", "escalator: /escalate help"), ("ack", ACK)):
        r = by_key[label]
        p99 = r.pct(99)
        ratio = p99 / base if base else float("nan")
        goal_abs, goal_rel = p99 < GOALS[key], ratio <= MAX_RATIO
        ok = ok and goal_abs and goal_rel and not r.errors
        print(f"  {label:<40} p99 {p99:7.2f} ms  goal < {GOALS[key]:.0f} ms: {'PASS' if goal_abs else 'FAIL'};"
              f"  ratio to fastest bare {ratio:5.2f}x  goal <= {MAX_RATIO:.0f}x: {'PASS' if goal_rel else 'FAIL'}")
    ack = by_key[ACK]
    for name, what in ((BARE_CLICK, "the same clicks on the bare app (no-op action)"),
                       (ONE_ROW, "the same clicks writing one row each (the least a write costs)")):
        reference = by_key.get(name)
        if reference and reference.latencies and ack.latencies:
            print(f"  {what}: p99 {reference.pct(99):.2f} ms ({base and reference.pct(99) / base:.2f}x the fastest "
                  f"bare); Acknowledge is {ack.pct(99) / reference.pct(99):.2f}x that "
                  f"(p50 {ack.pct(50) / reference.pct(50):.2f}x)")
    print(f"goals {'hold' if ok else 'do NOT all hold'}")
    for r in results:
        for error in r.errors[:5]:
            print(f"  error in {r.name}: {error}")
        if len(r.errors) > 5:
            print(f"  … {len(r.errors) - 5} more errors in {r.name}")
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    _quiet_logging()
    started = time.monotonic()
    database = ScratchDatabase(args.database_url)
    children: list[Child] = []
    results: list[Result] = []
    setup_note = ""
    n_warm, n_meas = args.warmup, args.requests
    try:
        print("starting the Slack simulator …", flush=True)
        sim = Child("fake-slack", sim_process)
        children.append(sim)
        sim_url = sim.info["url"]

        ids = sim.call("command_ids", SUPPORT, AGENT, n_warm + n_meas)
        commands = [command_request(r, t) for r, t in ids]
        warm_cmds, meas_cmds = commands[:n_warm], commands[n_warm:]

        for kind, label in (("stock", "bare: stock Starlette adapter, default App"),
                            ("threadpool", "bare: App(pbr=True) in run_in_threadpool")):
            server = Child(f"bare-{kind}", bare_process, kind, sim_url, args.server)
            children.append(server)
            try:
                results.append(run_scenario(label, server, warm_cmds, meas_cmds, args))
            finally:
                server.stop()
                children.remove(server)

        print("starting the bot …", flush=True)
        bot = Child("escalator", bot_process, sim_url, database.url, args.server)
        children.append(bot)
        results.append(run_scenario("escalator: /escalate help", bot, warm_cmds, meas_cmds, args,
                                    check=check_help))

        total = n_warm + n_meas
        print(f"  opening {total} tier1 tickets and delivering their briefings …", flush=True)
        setup_began = time.monotonic()
        bot.call("delivery", "setup")
        limit = max(120.0, total * 0.1)
        ticket_ids = bot.call("open_and_brief", total, "U0AGENT2", 25, limit, timeout=limit + 30)
        bot.call("delivery", "production")
        tier1 = "C0TIER1"
        briefings = sim.call("briefings", tier1, AGENT)
        wanted = set(ticket_ids)
        by_ticket = {}
        for briefing in briefings:
            ticket_id = json.loads(briefing["element"].get("value") or "{}").get("t")
            if ticket_id in wanted:
                by_ticket[ticket_id] = briefing
        if len(by_ticket) != total:
            raise RuntimeError(f"found {len(by_ticket)} briefings for {total} tickets")
        clicks = [click_request(tier1, by_ticket[t]) for t in ticket_ids]
        setup_note = f"{total} tickets opened and briefed in {time.monotonic() - setup_began:.1f}s before the clicks"
        results.append(run_scenario(ACK, bot,
                                    clicks[:n_warm], clicks[n_warm:], args, check=check_empty))
        clicked = ticket_ids[: n_warm + len(results[-1].latencies) + len(results[-1].errors)]
        done = bot.call("acknowledged", clicked, AGENT)
        if done != len(clicked):
            results[-1].errors.append(f"only {done} of {len(clicked)} clicked tickets are acknowledged by {AGENT}")
        eph = sim.call("stats")["ephemerals"]
        if eph:
            results[-1].errors.append(f"{eph} ephemeral answers (error notices) were sent to users")
        # the same clicks on a bare app: what Bolt and HTTP cost for this payload, with no DB
        # write, then with the least write there is
        bot.stop()
        children.remove(bot)
        server = Child("bare-click", bare_process, "threadpool", sim_url, args.server)
        children.append(server)
        results.append(run_scenario(BARE_CLICK, server, clicks[:n_warm], clicks[n_warm:], args,
                                    check=check_empty))
        server.stop()
        children.remove(server)
        server = Child("one-row", bare_process, "one-row", sim_url, args.server, database.url, max(ticket_ids))
        children.append(server)
        results.append(run_scenario(ONE_ROW, server, clicks[:n_warm], clicks[n_warm:], args, check=check_empty))
        expected = n_warm + len(results[-1].latencies) + len(results[-1].errors)
        if (written := server.call("written")) != expected:
            results[-1].errors.append(f"{written} rows written for {expected} clicks")
    finally:
        for child in reversed(children):
            child.stop()
        database.close()
    print_report(results, args, database, setup_note)
    print(f"\n(total run {time.monotonic() - started:.0f}s)")
    return 0 if all(not r.errors for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
