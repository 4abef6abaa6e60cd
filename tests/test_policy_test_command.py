"""`escalator policy test`: behaviour tests of a policy, run on the live desk's rules."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "policy_tests.yaml"

# design.md §8's example: it forgets that 50,000 at risk is over the revenue threshold
# and that a P1's breach tells management, so it must fail, saying so.
DESIGN_EXAMPLE = """
- name: a P1 for a VIP goes straight to engineering and tells the executives
  ticket: {severity: P1, impact: system_wide, complexity: known_issue, flags: [vip],
           revenue_at_risk: 50000, opened: "2026-12-05 02:10"}
  expect:
    level: tier3
    pings: {management: [p1, vip], executive: [p1_vip]}
    response_due: "2026-12-05 03:10"
    if_unacknowledged:
      - {at: "2026-12-05 02:55", warning: response}
      - {at: "2026-12-05 03:10", breach: response}
"""


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["policy", "test", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cases(tmp_path: Path, text: str, name: str = "cases.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_the_shipped_examples_pass_against_the_built_in_policy(capsys, monkeypatch):
    monkeypatch.delenv("ESCALATOR_POLICY", raising=False)
    code, out, err = run(capsys, str(EXAMPLES))
    lines = out.splitlines()
    assert lines[-1] == "27 passed, 0 failed", out + err
    assert code == 0
    assert all(line.startswith("passed  ") for line in lines[:-1])


def test_a_case_that_does_not_hold_fails_with_what_was_expected_and_what_happened(capsys, tmp_path):
    code, out, _ = run(capsys, cases(tmp_path, DESIGN_EXAMPLE))
    assert code == 1
    assert out.splitlines()[0].startswith("FAILED  a P1 for a VIP goes straight to engineering")
    assert ("pings: expected {management: [p1, vip], executive: [p1_vip]}, "
            "got {management: [p1, revenue, vip], executive: [p1_vip]}") in out
    # the timeline as a diff: the line that held unmarked, the one that differs - and +
    assert '    {at: "2026-12-05 02:55", warning: response}' in out
    assert '  - {at: "2026-12-05 03:10", breach: response}' in out
    assert '  + {at: "2026-12-05 03:10", breach: response, tells: management}' in out
    assert "level:" not in out and "response_due:" not in out  # those held
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_passed_and_failed_cases_are_counted_together(capsys, tmp_path):
    good = """
    - name: a P3 enters at Tier 1
      ticket: {severity: P3, opened: "2026-12-07 10:00"}
      expect: {level: tier1, response_due: "2026-12-07 18:00"}
    - name: a P3 claimed to enter at Tier 2
      ticket: {severity: P3, opened: "2026-12-07 10:00"}
      expect: {level: tier2}
    """
    code, out, _ = run(capsys, cases(tmp_path, good))
    assert code == 1
    assert "passed  a P3 enters at Tier 1" in out
    assert "level: expected tier2, got tier1" in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


def test_each_case_starts_from_an_empty_desk(capsys, tmp_path):
    """The second case's ticket is ESC-1 again, and the first case's ticket, still open,
    adds nothing to it."""
    twice = """
    - name: first
      ticket: {severity: P3, opened: "2026-12-07 10:00"}
      expect: {level: tier1}
    - name: second, resolved and then acknowledged
      ticket: {severity: P3, opened: "2026-12-07 10:00"}
      steps:
        - resolved: "2026-12-07 11:00"
        - acknowledged: "2026-12-07 12:00"
      expect: {level: tier1, if_nobody_acts: []}
    """
    code, out, _ = run(capsys, cases(tmp_path, twice))
    assert "steps[2] (acknowledged) could not be done: ESC-1 was resolved" in out
    assert "if_nobody_acts" not in out  # nothing of the first case's ticket shows up here


def test_the_policy_under_test_is_the_one_given(capsys, tmp_path):
    policy = (ROOT / "bot" / "default_policy.yaml").read_text().replace("tier1: 4h", "tier1: 2h")
    path = tmp_path / "shorter.yaml"
    path.write_text(policy)
    case = cases(tmp_path, """
    - name: Tier 1 keeps a ticket 2 h under this policy
      ticket: {severity: P3, opened: "2026-12-07 10:00"}
      expect:
        if_nobody_acts:
          - {at: "2026-12-07 11:30", warning: time_limit}
          - {at: "2026-12-07 12:00", breach: time_limit}
          - {at: "2026-12-07 12:00", escalated: tier2}
          - {at: "2026-12-07 18:00", warning: response}
          - {at: "2026-12-07 18:00", warning: time_limit}
          - {at: "2026-12-07 20:00", breach: response}
          - {at: "2026-12-07 20:00", breach: time_limit}
          - {at: "2026-12-07 20:00", escalated: tier3}
          - {at: "2026-12-08 02:00", warning: response}
          - {at: "2026-12-08 04:00", breach: response}
    """)
    assert run(capsys, "--policy", str(path), case)[0] == 0
    assert run(capsys, case)[0] == 1  # the built-in policy keeps it 4 h


def test_a_step_that_cannot_be_done_fails_the_case_saying_why(capsys, tmp_path):
    code, out, _ = run(capsys, cases(tmp_path, """
    - name: acknowledged after it was resolved
      ticket: {severity: P3, opened: "2026-12-07 10:00"}
      steps:
        - resolved: "2026-12-07 11:00"
        - acknowledged: "2026-12-07 12:00"
      expect: {level: tier1}
    """))
    assert code == 1
    assert "steps[2] (acknowledged) could not be done: ESC-1 was resolved" in out


@pytest.mark.parametrize("text, problem", [
    ("""
     - name: bad severity
       ticket: {severity: P9, opened: "2026-12-07 10:00"}
       expect: {level: tier1}
     """, "case 1 (bad severity): ticket.severity: must be one of P1, P2, P3, P4 (got 'P9')"),
    ("""
     - name: fine
       ticket: {severity: P3, opened: "2026-12-07 10:00"}
       expect: {level: tier1}
     - name: no time
       ticket: {severity: P3, opened: "tomorrow"}
       expect: {level: tier1}
     """, "case 2 (no time): ticket.opened: must be a local time like \"2026-12-05 09:30\" (got 'tomorrow')"),
    ("""
     - name: typo
       ticket: {severity: P3, opened: "2026-12-07 10:00"}
       expect: {levle: tier1}
     """, "case 1 (typo): expect.levle: unknown expectation"),
    ("""
     - name: bad timeline
       ticket: {severity: P3, opened: "2026-12-07 10:00"}
       expect:
         if_nobody_acts:
           - {at: "2026-12-07 13:00", warning: resolution}
     """, "case 1 (bad timeline): expect.if_nobody_acts[1].warning: must be one of response, time_limit"),
    ("""
     - name: steps out of order
       ticket: {severity: P3, opened: "2026-12-07 10:00"}
       steps:
         - acknowledged: "2026-12-07 09:00"
       expect: {level: tier1}
     """, "case 1 (steps out of order): steps: acknowledged at 2026-12-07 09:00 comes before"),
    ("""
     - name: waiting backwards
       ticket: {severity: P3, opened: "2026-12-07 10:00"}
       steps:
         - waiting: {from: "2026-12-07 12:00", to: "2026-12-07 11:00"}
       expect: {level: tier1}
     """, "case 1 (waiting backwards): steps[1].waiting.to: must come after from"),
    ("""
     - name: bad policy change
       policy: {warn_at: 7}
       ticket: {severity: P3, opened: "2026-12-07 10:00"}
       expect: {level: tier1}
     """, "case 1 (bad policy change): policy.warn_at:"),
    ("- name: [unclosed", "line 1: not valid YAML"),
    ("name: not a list", "must be a list of cases"),
])
def test_a_malformed_file_exits_2_naming_the_case_and_field_and_runs_nothing(capsys, tmp_path, text, problem):
    code, out, err = run(capsys, cases(tmp_path, text))
    assert code == 2
    assert problem in err
    assert "passed" not in out and "FAILED" not in out


def test_a_missing_case_file_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, str(tmp_path / "nowhere.yaml"))
    assert code == 2
    assert "nowhere.yaml: cannot read file" in err


def test_policy_test_never_touches_the_live_database(capsys, tmp_path, monkeypatch):
    live = tmp_path / "live.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{live}")
    code, _, _ = run(capsys, cases(tmp_path, """
    - name: a ticket
      ticket: {severity: P3, opened: "2026-12-07 10:00"}
      expect: {level: tier1}
    """))
    assert code == 0
    assert not live.exists()


def test_a_long_file_runs_on_every_core_and_reports_each_case_in_file_order(capsys, tmp_path, monkeypatch):
    """Over CASES_PER_WORKER cases a core, the cases run in worker processes (run_all); the
    report still lists them in the file's order, each with its own outcome."""
    import os

    import yaml

    from bot.policy import case_runner

    monkeypatch.delenv("ESCALATOR_POLICY", raising=False)
    monkeypatch.setattr(case_runner, "_cores", lambda: 3)  # as many workers as a 3-core machine
    examples = yaml.safe_load(EXAMPLES.read_text())
    long_file = [dict(case, name=f"{n:02d} {case['name']}") for n, case in enumerate((examples * 3)[:61])]
    wrong = dict(long_file[37])
    wrong["expect"] = dict(wrong["expect"], level="executive")  # case 37 can't hold
    long_file[37] = wrong
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(long_file, sort_keys=False))
    sandboxes_here = []  # a forked worker appends to its own copy of this list, not to ours
    real_init = case_runner.Sandbox.__init__
    monkeypatch.setattr(case_runner.Sandbox, "__init__",
                        lambda self, *a, **k: sandboxes_here.append(os.getpid()) or real_init(self, *a, **k))

    code, out, err = run(capsys, str(path))

    lines = out.splitlines()
    assert lines[-1] == "60 passed, 1 failed", out + err
    assert code == 1
    named = [line.split("  ")[1] for line in lines if line.startswith(("passed  ", "FAILED  "))]
    assert named == [case["name"] for case in long_file]
    assert [name for name in named if f"FAILED  {name}" in out] == [long_file[37]["name"]]
    assert sandboxes_here == []  # every case ran in a worker process
