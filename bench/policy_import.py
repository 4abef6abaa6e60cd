"""`escalator import` of a large helpdesk export: wall time and peak memory.

    /tmp/venv/bin/python bench/policy_import.py [--rows 100000] [--backends sqlite,postgresql]
        [--postgresql-url URL]

A benchmark that prints figures (not a test). It writes a Zendesk-style CSV of --rows
rows (the columns of examples/helpdesk_export.csv, every fact filled the way an export
has it: a third escalated, nine in ten solved, one in a hundred bad), then, per backend,
into a fresh migrated database (a temp SQLite file; a PostgreSQL schema, dropped
afterwards), times TicketImport.run on it, then the same file again (every row already
imported: the idempotent re-run). Each backend runs in its own child process, so its
peak resident memory (ru_maxrss: the interpreter, SQLAlchemy and the import together)
is its own.

Goals (issue 13): 100k rows under 60 s and under 500 MB peak.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_SECONDS, GOAL_MB = 60.0, 500.0
HEADER = ["Ticket ID", "Created at", "Subject", "Priority", "Group", "First reply at", "Escalated at", "Solved at",
          "Satisfaction", "Root cause", "Organization", "ARR at risk"]
PRIORITIES = ["Urgent", "High", "Normal", "Normal", "Low"]
GROUPS = {"Urgent": "Engineering", "High": "Support", "Normal": "Support", "Low": "Planning"}
CAUSES = ["bug", "config", "docs", "infra", "vendor", "user", "missing feature", "other"]


def write_export(path: Path, rows: int) -> None:
    rng = random.Random(13)
    start = datetime(2025, 1, 1, 8, 0)
    fmt = "%Y-%m-%d %H:%M:%S"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for n in range(rows):
            opened = start + timedelta(minutes=5 * n + rng.randint(0, 4))
            priority = rng.choice(PRIORITIES)
            group, escalated = GROUPS[priority], ""
            if priority in ("High", "Normal") and rng.random() < 0.33:
                group = rng.choice(["Specialists", "Specialists", "Engineering", "Escalations"])
                escalated = (opened + timedelta(hours=rng.uniform(1, 8))).strftime(fmt)
            replied = (opened + timedelta(minutes=rng.randint(5, 600))).strftime(fmt) if priority != "Low" else ""
            solved = rng.random() < 0.9
            resolved = (opened + timedelta(hours=rng.uniform(9, 72))).strftime(fmt) if solved else ""
            created = "not a date" if n % 100 == 99 else opened.strftime(fmt)
            out.writerow([100000 + n, created, f"Synthetic ticket {n}", priority, group, replied, escalated, resolved,
                          rng.choice(["Good", "Bad", "4", "5", ""]) if solved else "",
                          rng.choice(CAUSES) if solved else "", f"Customer {rng.randint(1, 2000)}",
                          rng.choice(["", "", "", "5,000", "12000", "250000"])])


def run_backend(backend: str, export: str, pg_url: str) -> None:
    """In a child process: migrate a scratch database, import twice, print one line."""
    from bot.db import make_engine, make_session_factory, upgrade
    from bot.importing import TicketImport, load_mapping
    from bot.policy import load_policy
    from scratch_db import ScratchDatabase

    scratch = ScratchDatabase(pg_url if backend == "postgresql" else "sqlite")
    engine = make_engine(scratch.url)
    try:
        upgrade(engine)
        policy = load_policy()
        mapping = load_mapping(ROOT / "examples" / "helpdesk_mapping.yaml", policy)
        importer = TicketImport(make_session_factory(engine), policy, mapping)
        began = time.perf_counter()
        first = importer.run(export)
        seconds = time.perf_counter() - began
        began = time.perf_counter()
        again = importer.run(export)
        again_seconds = time.perf_counter() - began
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        verdict = "OK" if seconds < GOAL_SECONDS and peak_mb < GOAL_MB else "MISSED"
        print(f"{scratch.label:<45} imported {first.imported:>6} ({len(first.bad)} bad rows) in {seconds:6.1f} s "
              f"({first.imported / seconds:,.0f} rows/s); again: {again.already} already, {again.imported} new, "
              f"in {again_seconds:5.1f} s; peak RSS {peak_mb:5.0f} MB  [{verdict}: < {GOAL_SECONDS:.0f} s, "
              f"< {GOAL_MB:.0f} MB]", flush=True)
    finally:
        engine.dispose()
        scratch.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgresql-url", default=os.environ.get("ESCALATOR_TEST_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--export", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_backend(args.child, args.export, args.postgresql_url)
        return 0
    with tempfile.TemporaryDirectory(prefix="escalator-import-bench-") as tmp:
        export = Path(tmp) / "export.csv"
        write_export(export, args.rows)
        print(f"import of {args.rows:,} rows ({export.stat().st_size / 1e6:.1f} MB CSV), on {os.cpu_count()} cores")
        for backend in args.backends.split(","):
            subprocess.run([sys.executable, __file__, "--child", backend, "--export", str(export),
                            "--postgresql-url", args.postgresql_url], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
