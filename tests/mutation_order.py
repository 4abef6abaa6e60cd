"""pytest plugin for mutation runs only (pyproject.toml [tool.mutmut] loads it with -p):
longer waits on the fake Slack, each mutant's tests fastest first, and optionally only the
test files named in ESCALATOR_MUTATION_TESTS.

Fastest first, by the durations mutmut recorded in mutmut-stats.json: with mutmut's -x a
killed mutant costs its quickest failing test rather than whichever slow end-to-end test
came first.

ESCALATOR_MUTATION_TESTS="tests/test_sla_clock_rules.py,tests/test_sla.py" runs mutmut
with those test files only, from collecting which tests cover what to each mutant: a
survivor of a module that every end-to-end test touches otherwise costs the whole suite,
and collecting over the whole suite takes most of an hour on two shared cores. Its
scores are a lower bound (a test left out might have killed a survivor). mutmut forgets the
tests a later run leaves out, so name every file a run needs; delete mutants/ before a run
over the whole suite."""
from __future__ import annotations

import json
import os
from pathlib import Path

# Every line is traced while mutmut collects which tests cover what, on two shared cores:
# end-to-end waits on the fake Slack (5 s) ran out there, and one failing test ends the run.
os.environ.setdefault("ESCALATOR_TEST_WAIT_SCALE", "4")


def pytest_collection_modifyitems(config, items):
    first_pass = os.environ.get("ESCALATOR_MUTATION_TESTS")
    if first_pass and os.environ.get("MUTANT_UNDER_TEST") != "fail":  # mutmut's check that a test can fail
        prefixes = tuple(p.strip() for p in first_pass.split(",") if p.strip())
        left_out = [item for item in items if not item.nodeid.startswith(prefixes)]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if item.nodeid.startswith(prefixes)]
    stats = Path("mutmut-stats.json")  # mutmut runs the tests inside mutants/
    if not stats.exists():
        return
    durations = json.loads(stats.read_text("utf-8")).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))
