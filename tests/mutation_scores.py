"""Per-module mutation scores from the last `mutmut run` (README, "Mutation testing").

    python -m tests.mutation_scores ["bot.matrix*" ...]            # the table
    python -m tests.mutation_scores --pending ["bot.matrix*" ...]  # names not (yet) killed

Reads mutants/**/*.meta; with patterns, counts only the mutants they match. A mutant
counts as killed when a test failed or timed out under it. `mutmut run` with globs runs
every matching mutant again; `mutmut run $(python -m tests.mutation_scores --pending
"bot.matrix*")` runs only the survivors and the mutants not checked yet."""
from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255}  # a failing test, or a timeout (e.g. a loop that never ends)


def module_of(mutant: str) -> str:
    return re.split(r"\.x_|\.xǁ", mutant, maxsplit=1)[0]


def main(patterns: list[str]) -> int:
    pending = patterns[:1] == ["--pending"]
    patterns = patterns[1:] if pending else patterns
    counts: dict[str, Counter] = defaultdict(Counter)
    for meta in sorted(Path("mutants").rglob("*.meta")):
        for mutant, code in json.loads(meta.read_text("utf-8"))["exit_code_by_key"].items():
            if patterns and not any(fnmatch.fnmatch(mutant, p) for p in patterns):
                continue
            status = "unchecked" if code is None else "killed" if code in KILLED else (
                "survived" if code == 0 else "no tests" if code in (5, 33) else "other")
            counts[module_of(mutant)][status] += 1
            if pending and status != "killed":
                print(mutant)
    if pending:
        return 0
    print(f"{'module':28} {'killed':>7} {'total':>6} {'score':>7}  survived  no-tests  unchecked")
    for module, c in sorted(counts.items()):
        checked = c["killed"] + c["survived"] + c["no tests"] + c["other"]
        score = f"{100 * c['killed'] / checked:.1f} %" if checked else "-"
        print(f"{module:28} {c['killed']:>7} {checked:>6} {score:>7}  {c['survived']:>8}  {c['no tests']:>8}"
              f"  {c['unchecked']:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
