"""`escalator policy test` on 200 cases, and `escalator simulate` over recorded histories.

    /tmp/venv/bin/python bench/policy_tools.py [--cases 200] [--sizes 1000,10000,100000]

A benchmark that prints figures (not a test).

policy test: the cases of examples/policy_tests.yaml, repeated (renamed) up to --cases,
parsed and run as the command does (bot.policy.cases.load_cases, CaseRunner.run),
in this process: wall and CPU time, and per case. The interpreter's start and imports
(about 1.5 s here, paid once per command) are measured separately.

simulate: for each size, a recorded history of that many tickets in a scratch SQLite
database, written by `escalator import` from a generated Zendesk-style export
(bench/policy_import.py's generator: a ticket every 5 minutes, a third escalated by
hand, nine in ten solved, first replies within 10 h), then what the command does:
read the tickets (read-only), replay them under the built-in policy and under a
candidate with a 3 h Tier 1 time limit, compare. Wall and CPU time, per ticket, and the
cost ratio between sizes (the goal: 10k under 10 s, 100k/10k at most 12).

--floor TICKETS counts the SQL statements the desk runs per case and per replayed ticket
(a replay of TICKETS tickets) and prints the least time they can take: each at the cost of
the cheapest SQLAlchemy statement on this machine (bench/policy_floor.py).

--budget SECONDS skips a size whose estimate (from the largest size measured so far,
linear) is over the budget, and says so, rather than run for hours.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

GOAL_CASES_SECONDS = 3.0
GOAL_SIMULATE_10K = 10.0
GOAL_RATIO = 12.0


def _clocks() -> tuple[float, float]:
    """Wall time, and the CPU time of this process and of its finished children (policy
    test runs a long file's cases in worker processes, bot.policy.case_runner.run_all)."""
    times = os.times()
    return time.perf_counter(), times.user + times.system + times.children_user + times.children_system


def bench_policy_test(count: int) -> float:
    """Prints the figures; returns the CPU seconds."""
    began = _clocks()
    importlib.import_module("bot.policy.case_runner")  # the imports, timed apart
    imported = _clocks()
    start = _clocks()
    outcomes = run_cases(count)
    wall, cpu = (end - begin for end, begin in zip(_clocks(), start))
    failed = sum(not outcome.passed for outcome in outcomes)
    verdict = "OK" if wall < GOAL_CASES_SECONDS else "MISSED"
    print(f"policy test: {len(outcomes)} cases ({failed} failed) in {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"({wall / len(outcomes) * 1000:.1f} ms a case); imports {imported[0] - began[0]:.2f} s  "
          f"[{verdict}: < {GOAL_CASES_SECONDS:.0f} s]", flush=True)
    return cpu


def run_cases(count: int) -> list:
    """The example cases repeated (renamed) to `count`, loaded and run as the command does."""
    from bot.policy.case_runner import CaseRunner
    from bot.policy.cases import load_cases
    from bot.policy.parsing import load_policy_data

    examples = yaml.safe_load((ROOT / "examples" / "policy_tests.yaml").read_text())
    cases = [dict(case, name=f"{case['name']} #{n}") for n in range(count // len(examples) + 1) for case in examples]
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "cases.yaml"
        path.write_text(yaml.safe_dump(cases[:count], sort_keys=False))
        loaded = load_cases([str(path)])
        data, source = load_policy_data(None)
        with CaseRunner(data, source) as runner:
            runner.policies(loaded)
            return runner.run_all(loaded)


def recorded_history(size: int, workdir: Path) -> str:
    """A scratch SQLite database holding `size` imported tickets; its URL."""
    from bot.db import make_engine, make_session_factory, upgrade
    from bot.importing import TicketImport, load_mapping
    from bot.policy import load_policy
    from policy_import import write_export

    export = workdir / f"export-{size}.csv"
    write_export(export, size + size // 99 + 1)  # one row in a hundred is bad on purpose
    url = f"sqlite:///{workdir / f'history-{size}.db'}"
    engine = make_engine(url)
    upgrade(engine)
    policy = load_policy()
    TicketImport(make_session_factory(engine), policy, load_mapping(ROOT / "examples" / "helpdesk_mapping.yaml",
                                                                   policy)).run(str(export))
    engine.dispose()
    return url


def bench_simulate(size: int, workdir: Path) -> tuple[float, float, int]:
    from bot.db import make_engine
    from bot.policy import load_policy, parse_policy
    from bot.policy.parsing import load_policy_data
    from bot.policy.replay import read_recorded
    from bot.policy.simulate import differences, replay, window_end

    url = recorded_history(size, workdir)
    current = load_policy()
    data, _ = load_policy_data(None)
    candidate = parse_policy({**data, "time_limits": {**data["time_limits"], "tier1": "3h"}}, "candidate")
    start = _clocks()
    engine = make_engine(url)
    tickets = read_recorded(engine)[:size]
    engine.dispose()
    read = _clocks()
    until = window_end(tickets, datetime.now(timezone.utc))
    runs = replay(tickets, current, until), replay(tickets, candidate, until)
    differing = differences(*runs, current.timezone)
    wall, cpu = (end - begin for end, begin in zip(_clocks(), start))
    print(f"simulate: {len(tickets):>7,} tickets in {wall:8.1f} s wall, {cpu:8.1f} s CPU "
          f"({wall / len(tickets) * 1000:.1f} ms a ticket, both policies; reading {read[0] - start[0]:.1f} s); "
          f"breaches {sum(runs[0].breaches.values())} → {sum(runs[1].breaches.values())}, "
          f"{len(differing)} tickets differ", flush=True)
    return wall, cpu, len(tickets)


def bench_floor(cases: int, cases_cpu: float | None, size: int, workdir: Path) -> None:
    """bench/policy_floor.py: the statements counted × the cheapest statement's cost."""
    from bot.db import make_engine
    from bot.policy import load_policy
    from bot.policy.replay import read_recorded
    from bot.policy.simulate import replay, window_end
    from policy_floor import counting, print_costs, report, statement_costs

    costs = statement_costs()
    print_costs(costs)
    if cases:
        with counting() as counts:
            began = time.process_time()
            run_cases(cases)
            cpu = cases_cpu if cases_cpu is not None else time.process_time() - began
        report("policy test", cases, counts, cpu, costs, GOAL_CASES_SECONDS, 200)
    engine = make_engine(recorded_history(size, workdir))
    tickets = read_recorded(engine)[:size]
    engine.dispose()
    until = window_end(tickets, datetime.now(timezone.utc))
    with counting() as counts:
        began = time.process_time()
        replay(tickets, load_policy(), until)
        cpu = time.process_time() - began
    report(f"simulate ({len(tickets)} tickets, the built-in policy)", len(tickets), counts, cpu, costs,
           GOAL_SIMULATE_10K, 10_000, policies=2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds a size may be estimated to take")
    parser.add_argument("--floor", type=int, default=0, metavar="TICKETS",
                        help="also count the SQL statements of the cases and of a replay of TICKETS "
                             "tickets, and print the floor they set (bench/policy_floor.py)")
    args = parser.parse_args()
    cases_cpu = bench_policy_test(args.cases) if args.cases else None
    measured: dict[int, float] = {}
    measured_cpu: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="escalator-bench-") as workdir:
        for size in (int(s) for s in args.sizes.split(",") if s):
            if measured:
                largest = max(measured)
                estimate = measured[largest] * size / largest
                if estimate > args.budget:
                    print(f"simulate: {size:>7,} tickets skipped: about {estimate:,.0f} s at the measured "
                          f"{measured[largest] / largest * 1000:.1f} ms a ticket (--budget {args.budget:.0f} s)")
                    continue
            wall, cpu, count = bench_simulate(size, Path(workdir))
            measured[count], measured_cpu[count] = wall, cpu
        if args.floor:
            bench_floor(args.cases, cases_cpu, args.floor, Path(workdir))
    sizes = sorted(measured)
    for small, large in zip(sizes, sizes[1:]):
        print(f"simulate: {large:,}/{small:,} tickets cost ratio {measured[large] / measured[small]:.1f} wall, "
              f"{measured_cpu[large] / measured_cpu[small]:.1f} CPU (sizes ×{large / small:.1f})")
    if 10_000 in measured:
        verdict = "OK" if measured[10_000] < GOAL_SIMULATE_10K else "MISSED"
        print(f"simulate 10k: {measured[10_000]:.1f} s  [{verdict}: < {GOAL_SIMULATE_10K:.0f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
