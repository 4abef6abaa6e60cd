"""pytest plugin for mutation runs only (pyproject.toml [tool.mutmut] loads it with -p):
run a mutant's tests fastest first, by the durations mutmut recorded in
mutmut-stats.json, so that with mutmut's -x a killed mutant costs its quickest
failing test rather than whichever slow end-to-end test came first."""
from __future__ import annotations

import json
from pathlib import Path


def pytest_collection_modifyitems(config, items):
    stats = Path("mutmut-stats.json")  # mutmut runs the tests inside mutants/
    if not stats.exists():
        return
    durations = json.loads(stats.read_text("utf-8")).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))
