"""The least time `policy test` and `simulate` can take while they run the live desk's own
code (issue 13's design rule), measured on this machine: bench/policy_tools.py --floor.

Both commands cost what the desk's SQL costs: every statement goes through SQLAlchemy on
an in-memory SQLite database. So the floor is

    SQL statements the desk runs per case (or per replayed ticket and policy)
    × the cost of the cheapest SQLAlchemy statement there is (a prebuilt SELECT by
      primary key on a Core connection; SQLite's own work is ~1 µs of it)

which leaves out everything else the desk does (ORM flushes, loading objects, rendering
the messages, the rules themselves): the real time can only be above it.
"""
from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import bindparam, event, select
from sqlalchemy.engine import Engine

CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")


@contextmanager
def counting() -> Iterator[Counter]:
    """Statements run by any engine while the block runs: "sql" and "control"
    (BEGIN, SAVEPOINT, RELEASE: the transactions around them), and "commit"."""
    counts: Counter = Counter()

    def on_execute(_conn, _cursor, statement, _params, _context, _many):
        counts["control" if statement.lstrip().upper().startswith(CONTROL) else "sql"] += 1

    def on_commit(_conn):
        counts["commit"] += 1

    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(Engine, "before_cursor_execute", on_execute)
        event.remove(Engine, "commit", on_commit)


def statement_costs(repeat: int = 20_000) -> dict[str, float]:
    """Seconds of CPU for one minimal statement, three ways, on the sandbox's own kind of
    database (bot.db.make_memory_engine, the desk's schema, one ticket)."""
    from bot.db import make_memory_engine, make_session_factory
    from bot.models import Base, Ticket

    engine = make_memory_engine()
    Base.metadata.create_all(engine)
    by_id = select(Ticket.id).where(Ticket.id == bindparam("id"))
    costs = {}
    with make_session_factory(engine)() as session:
        connection = session.connection()
        sqlite = connection.connection.driver_connection
        ways = {
            "ORM session, prebuilt SELECT": lambda: session.scalar(by_id, {"id": 1}),
            "Core connection, prebuilt SELECT": lambda: connection.execute(by_id, {"id": 1}).scalar(),
            "sqlite3 alone (no SQLAlchemy)": lambda: sqlite.execute("SELECT id FROM tickets WHERE id = ?",
                                                                    (1,)).fetchone(),
        }
        for name, run in ways.items():
            run()
            began = time.process_time()
            for _ in range(repeat):
                run()
            costs[name] = (time.process_time() - began) / repeat
    engine.dispose()
    return costs


def report(what: str, units: int, counts: Counter, cpu: float, costs: dict[str, float],
           goal_seconds: float, goal_units: int, policies: int = 1) -> None:
    """Print the floor for `goal_units` (cases, or tickets replayed under `policies`
    policies) next to the measured CPU time and the goal."""
    per_unit = counts["sql"] / units
    control = counts["control"] / units
    core = costs["Core connection, prebuilt SELECT"]
    floor = per_unit * core * goal_units * policies
    measured = cpu / units * goal_units
    print(f"floor, {what}: {per_unit:.0f} SQL statements a {'case' if policies == 1 else 'ticket and policy'} "
          f"(+{control:.0f} BEGIN/SAVEPOINT/RELEASE, {counts['commit'] / units:.0f} commits) "
          f"× {core * 1e6:.0f} µs = {per_unit * core * 1000:.2f} ms; for {goal_units:,}"
          f"{'' if policies == 1 else f' tickets × {policies} policies'}: floor {floor:.1f} s, "
          f"measured {measured:.1f} s CPU, goal {goal_seconds:.0f} s "
          f"[{'goal above the floor' if floor < goal_seconds else 'BLOCKED: the floor alone is over the goal'}]",
          flush=True)


def print_costs(costs: dict[str, float]) -> None:
    print("one minimal statement on in-memory SQLite (CPU): "
          + "; ".join(f"{name} {seconds * 1e6:.1f} µs" for name, seconds in costs.items()), flush=True)
