"""pytest plugin for mutation runs only (pyproject.toml [tool.mutmut] loads it with -p):
longer waits on the fake Slack, and each mutant's tests fastest first, by the durations
mutmut recorded in mutmut-stats.json, so that with mutmut's -x a killed mutant costs its
quickest failing test rather than whichever slow end-to-end test came first."""
from __future__ import annotations

import json
import os
from pathlib import Path

# Every line is traced while mutmut collects which tests cover what, on two shared cores:
# end-to-end waits on the fake Slack (5 s) ran out there, and one failing test ends the run.
os.environ.setdefault("ESCALATOR_TEST_WAIT_SCALE", "4")


def pytest_collection_modifyitems(config, items):
    stats = Path("mutmut-stats.json")  # mutmut runs the tests inside mutants/
    if not stats.exists():
        return
    durations = json.loads(stats.read_text("utf-8")).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))
