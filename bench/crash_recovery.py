"""Crash recovery: from a restart to the delivery of an alert held up by a killed process.

    python bench/crash_recovery.py [--database-url URL] [--runs 5] [--sweep-interval 60s]

A benchmark that prints figures (not a test). Each run: `escalator serve --http` (a
real subprocess, production delivery defaults: 60 s lease) opens a P2 ticket whose
response target is 3 s; the fake Slack (in this process, so it outlives the bot)
takes the briefing and withholds its answer, and the bot is killed with SIGKILL in that
window, its claim on the briefing left in the outbox. While it is down the response
target passes. Then a new `serve` starts; the clock runs from its launch, and from the
moment /healthz answers 200, until the breach alert is in the briefing's thread (it
waits for the briefing's row, the one the killed process had claimed).

Before dead claims were taken over this took the rest of the lease (~52 s). Goal:
<= sweep interval + 1 s after the restart is healthy. The policy is the built-in one
with that P2 response target and --sweep-interval (the built-in 60 s by default): the
sweep a restart runs at once finds the breach due.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

import yaml
from sqlalchemy.orm import sessionmaker

from bot.db import make_engine, upgrade
from bot.desk import EscalationDesk
from bot.durations import parse_duration
from bot.forms import parse_new_ticket
from bot.policy import parse_policy
from bot.simulator import FakeSlack
from scratch_db import ScratchDatabase

TOKEN = "xoxb-bench-crash-token"
SECRET = "bench-crash-signing-secret"
ROOT = Path(__file__).resolve().parents[1]
RESPONSE_TARGET = 3.0


# Its own small copies of tests/processes.py's free_port/healthy/Served: a benchmark runs
# the production `serve` (tests' launcher changes delivery defaults) and needs neither
# pytest nor the test tree.
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return answer.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


class Serve:
    def __init__(self, env: dict, log: Path):
        self.port = free_port()
        with open(log, "a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while not healthy(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("serve did not become healthy")
            time.sleep(0.02)
        return time.monotonic()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def breach_in_thread(sim: FakeSlack, channel: str, key: str) -> bool:
    root = next((m for m in sim.messages(channel) if (m.text or "").startswith(f"{key} (")), None)
    return root is not None and any("response SLA breached" in (reply.text or "")
                                    for reply in sim.replies(channel, root.ts))


def one_backend(url: str | None, runs: int, sweep_interval: str, workdir: Path) -> list[tuple[float, float]]:
    scratch = ScratchDatabase(url, prefix="escalator-crash-")
    data = yaml.safe_load(resources.files("bot").joinpath("default_policy.yaml").read_text())
    data["sweep_interval"] = sweep_interval
    data["severities"]["P2"] = {"response": f"{RESPONSE_TARGET:g}s", "update_every": "2h", "entry": "tier1"}
    policy_path = workdir / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(data))
    policy = parse_policy(data)
    tier1 = policy.levels["tier1"].channel
    engine = make_engine(scratch.url)
    upgrade(engine)
    desk = EscalationDesk(sessionmaker(engine, expire_on_commit=False), policy)
    figures = []
    try:
        with FakeSlack(token=TOKEN) as sim:
            for level in policy.levels.values():
                sim.add_channel(level.channel, level.name)
            env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": sim.url,
                   "DATABASE_URL": scratch.url, "ESCALATOR_POLICY": str(policy_path), "PYTHONPATH": str(ROOT)}
            env.pop("SLACK_APP_TOKEN", None)
            for run in range(runs):
                first = Serve(env, workdir / "serve.log")
                first.wait_healthy()
                late = sim.answer_late("chat.postMessage", seconds=300, channel=tier1)
                key = desk.open_ticket(parse_new_ticket({"summary": f"Crash run {run}", "severity": "P2"}),
                                       requester_id="U0AGENT1").key
                opened = time.monotonic()
                if not late.took_effect.wait(30):
                    raise RuntimeError("the briefing never reached Slack")
                first.kill()
                time.sleep(max(0.0, opened + RESPONSE_TARGET + 0.5 - time.monotonic()))  # the breach comes due
                launched = time.monotonic()
                second = Serve(env, workdir / "serve.log")
                try:
                    ready = second.wait_healthy()
                    deadline = time.monotonic() + 120
                    while not breach_in_thread(sim, tier1, key):
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"no breach alert for {key} within 120 s")
                        time.sleep(0.01)
                    delivered = time.monotonic()
                finally:
                    second.stop()
                figures.append((delivered - launched, delivered - ready))
                print(f"  run {run + 1}: {delivered - launched:.2f} s from launch, "
                      f"{delivered - ready:.2f} s from healthy", flush=True)
    finally:
        engine.dispose()
        scratch.close()
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", action="append", default=None,
                        help="sqlite (default) or a PostgreSQL URL; repeat for several backends")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sweep-interval", default="60s", help="the policy's sweep_interval (built-in: 60s)")
    args = parser.parse_args(argv)
    goal = parse_duration(args.sweep_interval).total_seconds() + 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="escalator-crash-") as workdir:
        for url in args.database_url or ["sqlite"]:
            label = "PostgreSQL" if url.startswith("postgres") else "SQLite"
            print(f"{label}: {args.runs} runs", flush=True)
            figures = one_backend(url, args.runs, args.sweep_interval, Path(workdir))
            rows.append((label, figures))
    print(f"\nrestart -> breach alert delivered (its thread's briefing claimed by the killed process); "
          f"goal <= {goal:g} s after healthy")
    print("| backend | from launch, median (min-max) | from healthy, median (min-max) |")
    print("|---|---|---|")
    for label, figures in rows:
        launch, ready = [f[0] for f in figures], [f[1] for f in figures]
        print(f"| {label} | {statistics.median(launch):.2f} s ({min(launch):.2f}-{max(launch):.2f}) "
              f"| {statistics.median(ready):.2f} s ({min(ready):.2f}-{max(ready):.2f}) |")
    met = all(statistics.median(f[1] for f in figures) <= goal for _label, figures in rows)
    print("goal " + ("met" if met else "NOT met"))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
