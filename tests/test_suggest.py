"""`escalator suggest`: observed times against the policy's response targets and time
limits, a suggestion with its evidence (or "too little data"), criteria rules that
never fired or came back down within a day, revenue against the thresholds, and
--write's candidate policy, which `policy check` accepts."""
from datetime import datetime, timedelta

import pytest
import yaml

from bot.cli import main
from bot.deescalation import Deescalation
from bot.policy.suggest import as_policy_duration, nice
from tests.harness import SPECIALIST, Harness

MAPPING = """source: desk
timezone: Europe/Berlin
columns: {id: Id, opened: Opened, severity: Priority, acknowledged: Replied, resolved: Solved, revenue: Revenue}
values: {severity: {High: P2, Normal: P3}}
"""


@pytest.fixture
def history(database_url, monkeypatch, tmp_path):
    """40 P2 tickets at Tier 1: the k-th acknowledged after k×10 min, resolved after k×10+30 min,
    with k×1000 revenue at risk; five P3s acknowledged and open; and one live ticket the matrix sent to Tier 2, handed back by hand."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("ESCALATOR_POLICY", raising=False)
    rows = ["Id,Opened,Priority,Replied,Solved,Revenue"]
    opened = datetime(2026, 10, 1, 9, 0)
    for k in range(1, 41):
        at = opened + timedelta(hours=k)
        rows.append(f"{k},{at:%Y-%m-%d %H:%M},High,{at + timedelta(minutes=10 * k):%Y-%m-%d %H:%M},"
                    f"{at + timedelta(minutes=10 * k + 30):%Y-%m-%d %H:%M},{k * 1000}")
    for k in range(41, 46):  # five P3s, acknowledged, still open: too few for a suggestion
        at = opened + timedelta(hours=k)
        rows.append(f"{k},{at:%Y-%m-%d %H:%M},Normal,{at + timedelta(minutes=5):%Y-%m-%d %H:%M},,")
    (tmp_path / "export.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "mapping.yaml").write_text(MAPPING)
    with Harness(database_url) as desk:
        assert main(["import", str(tmp_path / "export.csv"), "--mapping", str(tmp_path / "mapping.yaml")]) == 0
        key = desk.new_ticket(Severity="P2", Impact="Multiple users")  # the matrix: Tier 1 → Tier 2
        desk.briefing(key, "tier2")
        Deescalation(desk.runtime.desk).deescalate(46, "tier1", "not that bad after all", SPECIALIST)
        yield tmp_path


def test_suggestions_with_their_evidence(history, capsys):
    capsys.readouterr()
    assert main(["suggest"]) == 0
    out = capsys.readouterr().out
    assert ("P2 response 4h: acknowledged p50 3h 20m, p80 5h 20m, p90 6h over 40 stays; 38% breached "
            "→ suggest 6h (90% were acknowledged within it)") in out  # 16 of 42 stays waited past 4h
    assert ("Tier 1 time limit 4h: time in level p50 3h 50m, p80 5h 50m, p90 6h 30m over 40 stays; 50% reached "
            "the limit → suggest 6h (80% of the 40 resolved at Tier 1 were resolved within it)") in out
    assert "P1 response 1h: too little data (0 acknowledged stays; 30 needed)" in out
    assert "P3 response 8h: too little data (5 acknowledged stays; 30 needed)" in out
    assert "Tier 2 time limit 8h: too little data (1 stays, 0 resolved there; 30 needed)" in out
    assert ("criteria.tier1 Impact: Multiple users (Tier 1 → Tier 2): fired 1 times, 1 came back down within a day "
            "(100%)") in out
    assert "criteria.tier1 Impact: System-wide (Tier 1 → Tier 2): never fired" in out
    assert "criteria.tier2 Flags: Customer escalated again (Tier 2 → Tier 3): never fired" in out
    assert "revenue at risk recorded on 40 tickets: p50 20,000, p80 32,000, p90 36,000, max 40,000" in out
    assert "revenue_threshold 10,000: 78% of them reach it (management is pinged)" in out
    assert "executive_revenue_threshold 100,000: 0% of them reach it" in out


def test_write_saves_a_candidate_that_policy_check_accepts(history, capsys):
    candidate = history / "candidate.yaml"
    assert main(["suggest", "--write", str(candidate)]) == 0
    assert f"candidate policy written to {candidate} (2 values changed)" in capsys.readouterr().out
    data = yaml.safe_load(candidate.read_text())
    assert data["severities"]["P2"]["response"] == "6h" and data["time_limits"]["tier1"] == "6h"
    assert data["severities"]["P1"]["response"] == "1h" and data["time_limits"]["tier2"] == "8h"  # too little data
    assert "# P2 response 4h: acknowledged p50" in candidate.read_text()
    assert main(["policy", "check", str(candidate)]) == 0


def test_a_period_without_tickets_says_so_and_a_bad_date_is_refused(history, capsys):
    assert main(["suggest", "--from", "2027-01-01", "--to", "2027-03-31"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("0 tickets opened 2027-01-01 to 2027-03-31")
    assert "P2 response 4h: too little data (0 acknowledged stays; 30 needed)" in out
    assert main(["suggest", "--from", "1 October"]) == 2
    assert "--from must be a date YYYY-MM-DD, e.g. 2026-11-30 (got '1 October')" in capsys.readouterr().err


@pytest.mark.parametrize("minutes, expected", [(1, "5m"), (59, "1h"), (61, "75m"), (350, "6h"), (481, "9h")])
def test_suggested_values_are_rounded_up_to_what_a_person_would_write(minutes, expected):
    assert as_policy_duration(nice(timedelta(minutes=minutes))) == expected


def test_observed_times_leave_out_waiting_on_the_customer_as_the_clocks_do():
    from datetime import timezone

    from bot.policy import load_policy
    from bot.policy.suggest import Stay, _business

    start = datetime(2026, 10, 5, 9, 0, tzinfo=timezone.utc)
    stay = Stay("tier1", "P2", start, paused=[(start + timedelta(hours=1), start + timedelta(hours=3)),
                                             (start + timedelta(hours=4), None)])  # still waiting at the end
    assert _business(load_policy(), stay, start, start + timedelta(hours=5)) == timedelta(hours=2)
