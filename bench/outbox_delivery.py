"""Outbox delivery against Slack's per-channel rate limit: how close to the pacing floor?

    /tmp/venv/bin/python bench/outbox_delivery.py [--messages 1000] [--channels 50]
        [--concurrency 8] [--database-url URL] [--sim process|in-process] [--timeout 120]

A benchmark that prints figures (not a test). The fake Slack (bot.simulator.FakeSlack,
on 127.0.0.1, in its own process unless --sim in-process) enforces 1 chat.postMessage per second per channel with a token
bucket (burst 1) and answers 429 + Retry-After above it. The bot is wired as in
production (bot.runtime.build_runtime: migrated database, outbox client without
retry handlers) with DeliveryOptions() defaults except `concurrency`.

All --messages rows are recorded first with bot.outbox.post (round-robin over the
channels, in 10 transactions), then the real worker is started with .start() (its
production _loop) and the clock runs until every row is `sent` (the database is
polled every 50 ms). Then: each channel must hold exactly its messages, in
recording order, none lost, none twice; the 429s the fake answered are counted.

The floor: a channel's first post can go at once, then one per second, so with n
messages in the busiest channel the floor is (n - 1) s (19 s for 1000 over 50).
Goal: elapsed <= 1.2 x floor, none lost, none duplicated. If the default
concurrency (8) misses it, a run with concurrency = --channels (50) follows.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot import outbox
from bot.config import Settings
from bot.db import transaction
from bot.delivery import DeliveryOptions
from bot.models import OutboxMessage, OutboxStatus
from bot.runtime import build_runtime
from bot.simulator import FakeSlack
from scratch_db import ScratchDatabase

TOKEN = "xoxb-bench-token"
GOAL_RATIO = 1.2
RATE = 1.0  # posts per second per channel, as Slack
_TEXT = re.compile(r"^bench (C\w+) #(\d+)$")


@dataclass
class Outcome:
    sim: str
    concurrency: int
    messages: int
    channels: int
    elapsed: float
    floor: float
    posts_ok: int = 0
    throttled: int = 0  # 429s answered by the fake
    other_calls: int = 0
    lost: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    failed_rows: int = 0
    timed_out: bool = False
    gaps: list[float] = field(default_factory=list)  # seconds between consecutive posts in a channel
    first_posts: float = 0.0  # seconds from start until every channel had its first post
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.elapsed / self.floor if self.floor else float("nan")

    @property
    def ok(self) -> bool:
        return (not self.timed_out and self.ratio <= GOAL_RATIO and not self.lost and not self.duplicates
                and not self.out_of_order and not self.failed_rows)


class SimInProcess:
    """The fake Slack in this process (shares the GIL with the worker)."""

    def __init__(self, channels: list[str]):
        self.sim = FakeSlack(token=TOKEN).start()
        for channel in channels:
            self.sim.add_channel(channel, channel.lower())
        self.sim.rate_limit_channel(per_second=RATE, burst=1)
        self.url = self.sim.url

    def snapshot(self) -> tuple[dict[str, list[str]], list[tuple[str, int, str, float]]]:
        return _snapshot(self.sim)

    def stop(self) -> None:
        self.sim.stop()


def _snapshot(sim: FakeSlack):
    texts = {channel: [m.text or "" for m in sim.messages(channel)] for channel in list(sim.channels)}
    calls = [(c.method, c.status, str(c.params.get("channel")), c.at) for c in list(sim.calls)]
    return texts, calls


def _sim_child(conn, channels: list[str]) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    sim = SimInProcess(channels)
    conn.send(sim.url)
    try:
        while True:
            command = conn.recv()
            if command == "snapshot":
                conn.send(sim.snapshot())
            else:
                break
    finally:
        sim.stop()


class SimProcess:
    """The fake Slack in its own (spawned) process, as Slack is not in the bot's process;
    time.monotonic() is system-wide, so its call times compare with ours."""

    def __init__(self, channels: list[str]):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_sim_child, args=(child, channels), name="fake-slack", daemon=True)
        self.process.start()
        child.close()
        if not self.conn.poll(60):
            raise RuntimeError("the fake Slack process did not start")
        self.url = self.conn.recv()

    def snapshot(self):
        self.conn.send("snapshot")
        if not self.conn.poll(60):
            raise RuntimeError("the fake Slack process did not answer")
        return self.conn.recv()

    def stop(self) -> None:
        try:
            self.conn.send("stop")
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout=15)
        if self.process.is_alive():
            self.process.terminate()  # only this child, by its handle
            self.process.join(timeout=5)


def channel_ids(count: int) -> list[str]:
    return [f"C0BENCH{i:03d}" for i in range(count)]


def record(sessions, channels: list[str], messages: int, transactions: int = 10) -> dict[str, list[int]]:
    """Record the rows round-robin over the channels; returns each channel's expected sequence."""
    expected: dict[str, list[int]] = defaultdict(list)
    per_tx = -(-messages // transactions)
    for start in range(0, messages, per_tx):
        with transaction(sessions) as session:
            for i in range(start, min(messages, start + per_tx)):
                channel, seq = channels[i % len(channels)], i // len(channels)
                outbox.post(session, channel=channel, payload={"text": f"bench {channel} #{seq}"}, role="bench")
                expected[channel].append(seq)
    return expected


def run(args, concurrency: int) -> Outcome:
    database = ScratchDatabase(args.database_url, "escalator-outbox-bench-")
    channels = channel_ids(args.channels)
    sim = (SimInProcess if args.sim == "in-process" else SimProcess)(channels)
    runtime = None
    try:
        settings = Settings(bot_token=TOKEN, signing_secret="bench-secret", slack_api_url=sim.url,
                            database_url=database.url)
        runtime = build_runtime(settings, delivery=DeliveryOptions(concurrency=concurrency))
        expected = record(runtime.sessions, channels, args.messages)
        busiest = max(len(seqs) for seqs in expected.values())
        floor = (busiest - 1) / RATE
        print(f"  concurrency {concurrency}: {args.messages} rows recorded over {args.channels} channels "
              f"({database.label}; fake Slack {args.sim}); delivering …", flush=True)

        began_mono = time.monotonic()
        began = time.perf_counter()
        runtime.worker.start()
        timed_out = False
        deadline = began + args.timeout
        while True:
            with runtime.sessions() as session:
                counts = dict(session.execute(select(OutboxMessage.status, func.count())
                                              .group_by(OutboxMessage.status)).all())
            if counts.get(OutboxStatus.PENDING, 0) == 0:
                break
            if time.perf_counter() > deadline:
                timed_out = True
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
        runtime.worker.stop()

        outcome = Outcome(args.sim, concurrency, args.messages, args.channels, elapsed, floor, timed_out=timed_out,
                          failed_rows=counts.get(OutboxStatus.FAILED, 0))
        if timed_out:
            outcome.problems.append(f"timed out after {args.timeout:.0f}s with {counts} rows by status")
        check(*sim.snapshot(), expected, outcome, began_mono)
        return outcome
    finally:
        if runtime is not None:
            runtime.worker.stop()
            runtime.stop()
        sim.stop()
        database.close()


def check(texts: dict[str, list[str]], calls: list, expected: dict[str, list[int]], outcome: Outcome,
          began: float) -> None:
    for channel, seqs in expected.items():
        got = []
        for message in texts.get(channel, []):
            match = _TEXT.match(message)
            if match is None or match.group(1) != channel:
                outcome.problems.append(f"unexpected message in {channel}: {message!r}")
                continue
            got.append(int(match.group(2)))
        outcome.duplicates += len(got) - len(set(got))
        outcome.lost += len(set(seqs) - set(got))
        unique = list(dict.fromkeys(got))
        if unique != [s for s in seqs if s in set(got)]:
            outcome.out_of_order += 1
            outcome.problems.append(f"{channel}: out of order: {got}")
    posts: dict[str, list[float]] = defaultdict(list)
    for method, status, channel, at in calls:
        if method != "chat.postMessage":
            outcome.other_calls += 1
            continue
        if status == 429:
            outcome.throttled += 1
        elif status == 200:
            outcome.posts_ok += 1
            posts[channel].append(at)
    for times in posts.values():
        times.sort()
        outcome.gaps += [b - a for a, b in zip(times, times[1:])]
    if posts:
        outcome.first_posts = max(times[0] for times in posts.values()) - began


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000, help="rows to deliver (1000)")
    parser.add_argument("--channels", type=int, default=50, help="channels they go to, round-robin (50)")
    parser.add_argument("--concurrency", default="8",
                        help="worker concurrency, or a comma list to run each (8; 50 follows if 8 misses)")
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL (default: a temp SQLite file). For PostgreSQL the run works "
                             "in a fresh schema it drops afterwards.")
    parser.add_argument("--sim", choices=("process", "in-process"), default="process",
                        help="run the fake Slack in its own process (default: Slack is not in the bot's "
                             "process) or in this one (sharing the GIL with the worker)")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up on a run after this many s (120)")
    args = parser.parse_args(argv)
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        parser.error("--concurrency: integers")
    if not (1 <= args.messages <= 20_000 and 1 <= args.channels <= 500 and args.channels <= args.messages):
        parser.error("bounded: 1..20000 messages over 1..500 channels (no more channels than messages)")
    if not args.concurrency or any(not 1 <= c <= 500 for c in args.concurrency):
        parser.error("--concurrency: 1..500")
    if not 1 <= args.timeout <= 600:
        parser.error("--timeout: 1..600 s")
    if args.database_url and "://" in args.database_url and not args.database_url.startswith("sqlite"):
        host = make_url(args.database_url.replace("postgres://", "postgresql://", 1)).host
        if host not in ("127.0.0.1", "localhost", "::1"):
            parser.error("only a database on 127.0.0.1")
    return args


def report(outcomes: list[Outcome]) -> None:
    print()
    print(f"Outbox delivery, fake Slack at {RATE:g} post/s/channel (burst 1, 429 + Retry-After), "
          f"DeliveryOptions() defaults but concurrency; {os.cpu_count()} CPUs, load average now "
          f"{os.getloadavg()[0]:.2f} (latency-bound: other work on the machine shows in the ratio)")
    header = (f"{'fake Slack':<10} {'concurrency':>11} {'messages':>8} {'channels':>8} {'elapsed s':>9} {'floor s':>7} {'ratio':>6} "
              f"{'429s':>5} {'lost':>5} {'dupes':>5} {'failed':>6} {'gap p50':>7} {'gap p90':>7} {'gap max':>7} "
              f"{'goal':>5}")
    print(header)
    print("-" * len(header))
    for o in outcomes:
        gaps = sorted(o.gaps) or [float("nan")]
        p = lambda q: gaps[min(len(gaps) - 1, int(q * len(gaps)))]  # noqa: E731
        print(f"{o.sim:<10} {o.concurrency:>11} {o.messages:>8} {o.channels:>8} {o.elapsed:>9.2f} {o.floor:>7.1f} "
              f"{o.ratio:>6.3f} {o.throttled:>5} {o.lost:>5} {o.duplicates:>5} {o.failed_rows:>6} "
              f"{p(0.5):>7.3f} {p(0.9):>7.3f} {gaps[-1]:>7.3f} {'PASS' if o.ok else 'FAIL':>5}")
    print("(gap: seconds between consecutive accepted posts in one channel; ideal 1.000)")
    for o in outcomes:
        print(f"concurrency {o.concurrency}: every channel had its first post {o.first_posts:.2f}s after start; "
              f"{o.posts_ok} posts accepted, {o.throttled} answered 429, {o.other_calls} other API calls; "
              f"{o.out_of_order} channels out of order")
        for problem in o.problems[:5]:
            print(f"  problem: {problem}")
        if len(o.problems) > 5:
            print(f"  … {len(o.problems) - 5} more problems")
    met = [o.concurrency for o in outcomes if o.ok]
    print(f"goal (elapsed <= {GOAL_RATIO} x floor, none lost, none twice): "
          + (f"met with concurrency {', '.join(map(str, met))}" if met else "NOT met"))


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.getLogger("escalator").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    started = time.monotonic()
    outcomes = [run(args, c) for c in args.concurrency]
    if args.concurrency == [8] and not outcomes[0].ok and args.channels != 8:
        print(f"  concurrency 8 missed the goal; running with concurrency {args.channels} …", flush=True)
        outcomes.append(run(args, args.channels))
    report(outcomes)
    print(f"(total run {time.monotonic() - started:.0f}s)")
    return 0 if any(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
