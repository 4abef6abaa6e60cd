"""The report's figures and `/escalate stats 30d` against the size of the history.

    python bench/report.py [--sizes 1000,10000,100000] [--backends sqlite,postgresql]
        [--runs 5] [--postgresql-url URL]

A benchmark that prints figures (not a test). For each backend and size it builds a
fresh database (a temp SQLite file; a PostgreSQL schema, dropped afterwards), migrated
with bot.db.upgrade, and fills it with bot.quality.sample_data: N tickets opened over
the last 365 days (about 10 events each, their SLA clocks and CSAT answers), so a month
holds about N/12 tickets, as a desk with that history would.

Measured (perf_counter, median of --runs after one warm-up):
  * report: bot.quality.metrics.compute() for the last full month plus the JSON
    document (everything `escalator report` does but drawing charts);
  * stats: the reply to `/escalate stats 30d` (bot.quality.report_stats: its figures and message);
  * charts: bot.quality.charts.draw() once, for information (the goal leaves it out);
  * peak memory: `escalator report --format json` run as its own process
    (ru_maxrss of the child: interpreter, imports and all), and `--format html` too.

Goals (issue 12): at 100k tickets report < 2 s, stats < 300 ms, report process < 300 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bot.db import make_engine, make_session_factory, upgrade  # noqa: E402
from bot.policy import load_policy  # noqa: E402
from bot.quality import charts, sample_data  # noqa: E402
from bot.quality.metrics import compute  # noqa: E402
from bot.quality.report_stats import QualityStats  # noqa: E402
from bot.quality.report import report_range  # noqa: E402
from scratch_db import ScratchDatabase  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOALS = {"report": 2.0, "stats": 0.3, "memory_mb": 300}


def measure(fn, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (on SQLite the database works
    in this process, so CPU time is the cost without the machine's other load)."""
    fn()  # warm-up: caches, plans
    walls, cpus = [], []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


# The child reports its own VmHWM (peak resident set of its address space): ru_maxrss
# would carry the benchmark's own peak across fork+exec.
_CHILD = ("import sys; from bot.cli import main; code = main(sys.argv[1:]); "
          "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
          "sys.stderr.write(f'PEAK_KB {peak}\\n'); sys.exit(code)")


def child_peak_mb(url: str, fmt: str) -> float:
    """Peak memory of `escalator report --format fmt` run as its own process."""
    env = dict(os.environ, DATABASE_URL=url)
    env.pop("ESCALATOR_POLICY", None)
    result = subprocess.run([sys.executable, "-c", _CHILD, "report", "--format", fmt, "--out", os.devnull],
                            env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(result.stderr)
    return int(result.stderr.split("PEAK_KB ")[1].split()[0]) / 1024


def run_size(backend_url: str | None, size: int, runs: int) -> dict:
    db = ScratchDatabase(backend_url)
    try:
        engine = make_engine(db.url)
        upgrade(engine)
        policy = load_policy()
        now = datetime.now(timezone.utc)
        started = time.perf_counter()
        with engine.begin() as connection:
            sample_data.generate(connection, policy, tickets=size, start=now - timedelta(days=365), end=now, seed=12)
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        filled = time.perf_counter() - started
        sessions = make_session_factory(engine)
        month = report_range(policy)

        def report():
            with sessions() as session:
                json.dumps(compute(session, policy, *month).to_dict(), default=str)

        def stats():
            QualityStats(policy, sessions).reply("30d")

        figures = {"size": size, "fill_s": filled}
        figures["report_s"], figures["report_cpu_s"] = measure(report, runs)
        figures["stats_s"], figures["stats_cpu_s"] = measure(stats, runs)
        with sessions() as session:
            metrics = compute(session, policy, *month)
        started = time.perf_counter()
        charts.draw(metrics)
        figures["charts_s"] = time.perf_counter() - started
        figures["month_tickets"] = metrics.opened
        figures["json_mb"] = child_peak_mb(db.url, "json")
        figures["html_mb"] = child_peak_mb(db.url, "html")
        engine.dispose()
        return figures
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgresql-url", default=os.environ.get("ESCALATOR_TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for backend in args.backends.split(","):
        url = None if backend == "sqlite" else args.postgresql_url
        print(f"\n{backend}: report = last full month's figures (no charts); stats = /escalate stats 30d")
        print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores); "
              "cpu = this process's CPU time (SQLite: the whole cost; PostgreSQL: the client's share)")
        print(f"{'tickets':>8} {'in month':>9} {'fill':>7} {'report':>9} {'cpu':>8} {'stats':>9} {'cpu':>8} "
              f"{'charts':>8} {'peak json':>10} {'peak html':>10}")
        rows = []
        for size in sizes:
            row = run_size(url, size, args.runs)
            rows.append(row)
            print(f"{size:>8} {row['month_tickets']:>9} {row['fill_s']:>6.1f}s {row['report_s'] * 1000:>7.0f}ms "
                  f"{row['report_cpu_s'] * 1000:>6.0f}ms {row['stats_s'] * 1000:>7.0f}ms "
                  f"{row['stats_cpu_s'] * 1000:>6.0f}ms {row['charts_s'] * 1000:>6.0f}ms {row['json_mb']:>8.0f}MB "
                  f"{row['html_mb']:>8.0f}MB", flush=True)
        first, last = rows[0], rows[-1]
        growth = last["size"] / first["size"]
        print(f"cost growth {first['size']}→{last['size']} tickets (x{growth:.0f}): report "
              f"x{last['report_s'] / first['report_s']:.1f}, stats x{last['stats_s'] / first['stats_s']:.1f}")
        verdict = ("met" if last["report_s"] < GOALS["report"] and last["stats_s"] < GOALS["stats"]
                   and max(last["json_mb"], last["html_mb"]) < GOALS["memory_mb"] else "NOT met")
        print(f"goals at {last['size']} (report < 2 s, stats < 300 ms, peak < 300 MB): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
