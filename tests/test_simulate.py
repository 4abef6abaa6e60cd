"""`escalator simulate`: the recorded tickets replayed under the current and a candidate policy.

The history is recorded by the real desk (its sweep included) on a migrated database,
on a simulated clock, as the live desk would have written it.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.db import make_engine, upgrade
from bot.forms import TicketFacts
from bot.models import Base
from bot.policy import load_policy
from bot.policy.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
UTC = timezone.utc


def at(hhmm: str, day: int = 2) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(2026, 11, day, hours, minutes, tzinfo=UTC)  # 2 November 2026, a Monday


def p(severity: str, **facts) -> TicketFacts:
    return TicketFacts(severity, facts.get("impact", "one_user"), facts.get("complexity", "known_issue"),
                       facts.get("revenue"), frozenset(facts.get("flags", ())))


def record(url: str, script: list[tuple]) -> None:
    """Play `script` — (time, action, ticket number, facts) in time order — on the live
    database through the real desk under the built-in policy."""
    engine = make_engine(url)
    upgrade(engine)
    box = Sandbox(load_policy(), script[0][0], engine=engine)
    ids = {}
    for when, action, number, facts in script:
        box.run_until(when)
        if action == "open":
            ids[number] = box.open(facts).id
        elif action == "note":
            box.note(ids[number], facts)  # facts: the author here
        elif action == "facts":
            box.change_facts(ids[number], facts)
        else:
            getattr(box, action)(ids[number])
    box.run_until(at("23:59"))
    engine.dispose()


# Three tickets; the built-in policy keeps a ticket 4 h at Tier 1 (warning at 3 h), the
# candidate 3 h (warning at 2 h 15 min). By hand:
#   ESC-1 P3 09:00, acknowledged 09:30, resolved 12:30.
#         current: warning 12:00.  candidate: warning 11:15, breach + escalation to Tier 2 at 12:00.
#   ESC-2 P3 09:05, resolved 10:00: nothing under either (warnings 12:05 / 11:20 come after).
#   ESC-3 P2 09:10, acknowledged 09:20, resolved 13:40 (the live desk moved it at 13:10).
#         current: warning 12:10, breach + escalation 13:10 (Tier 2's 4 h response: 17:10).
#         candidate: warning 11:25, breach + escalation 12:10 (Tier 2's response warns 15:10).
# So the candidate has exactly one more breach and one more escalation (ESC-1), ESC-1 and
# ESC-3 differ, ESC-2 doesn't. Time at Tier 1: 3.5 + 0.92 + 4.0 = 8.4 h now, 3 + 0.92 + 3 =
# 6.9 h then; at Tier 2: 0.5 h (ESC-3) now, 0.5 + 1.5 = 2.0 h (ESC-1, ESC-3) then.
HISTORY = [
    (at("09:00"), "open", 1, p("P3")),
    (at("09:05"), "open", 2, p("P3")),
    (at("09:10"), "open", 3, p("P2")),
    (at("09:20"), "acknowledge", 3, None),
    (at("09:30"), "acknowledge", 1, None),
    (at("10:00"), "resolve", 2, None),
    (at("12:30"), "resolve", 1, None),
    (at("13:40"), "resolve", 3, None),
]


@pytest.fixture
def candidate(tmp_path) -> str:
    path = tmp_path / "candidate.yaml"
    path.write_text((ROOT / "bot" / "default_policy.yaml").read_text().replace("tier1: 4h", "tier1: 3h"))
    return str(path)


@pytest.fixture
def live(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("ESCALATOR_POLICY", raising=False)
    return url


def simulate(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["simulate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_shorter_time_limit_reports_exactly_the_extra_breaches_and_escalations(capsys, live, candidate):
    record(live, HISTORY)
    code, out, err = simulate(capsys, "--policy", candidate, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    now, then = report["current"], report["candidate"]
    assert report["tickets"] == 3
    assert now["breaches"] == {"time_limit": 1} and then["breaches"] == {"time_limit": 2}
    assert now["escalations"] == {"automatic": 1, "by_hand": 0}
    assert then["escalations"] == {"automatic": 2, "by_hand": 0}
    assert now["warnings"] == then["warnings"] == {"time_limit": 2}
    assert now["breaches_told_management"] == then["breaches_told_management"] == 0
    assert now["load"] == {"tier1": {"tickets": 3, "hours": 8.4}, "tier2": {"tickets": 1, "hours": 0.5}}
    assert then["load"] == {"tier1": {"tickets": 3, "hours": 6.9}, "tier2": {"tickets": 2, "hours": 2.0}}
    differing = {d["key"]: d for d in report["differing_tickets"]}
    assert set(differing) == {"ESC-1", "ESC-3"}
    # Berlin is UTC+1 in November: 12:00 UTC is 13:00 there
    assert differing["ESC-1"]["current"] == "2026-11-02 13:00 warning time_limit"
    assert differing["ESC-1"]["candidate"] == "2026-11-02 12:15 warning time_limit"
    assert differing["ESC-1"]["at"] == "2026-11-02T11:15:00+00:00"


def test_the_text_report_puts_the_policies_side_by_side(capsys, live, candidate):
    record(live, HISTORY)
    code, out, _ = simulate(capsys, "--policy", candidate)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("3 recorded tickets, replayed until")
    assert next(line for line in lines if line.startswith("breaches ")).split() == ["breaches", "1", "2", "+1"]
    assert next(line for line in lines if line.startswith("escalations, automatic")).split()[-3:] == ["1", "2", "+1"]
    assert "2 tickets whose route or alerts differ:" in out
    assert "  ESC-1: current 2026-11-02 13:00 warning time_limit; candidate 2026-11-02 12:15 warning time_limit" in out
    assert "ESC-2" not in out


def test_people_keep_their_actions_and_the_matrix_reruns_on_changed_facts(capsys, live, candidate):
    """A ticket whose impact became system-wide at 10:00 went up by the matrix; the
    replay changes the facts at 10:00 and the matrix moves it again, under either policy."""
    record(live, [
        (at("09:00"), "open", 1, p("P3")),
        (at("10:00"), "facts", 1, p("P3", impact="system_wide")),
        (at("10:30"), "acknowledge", 1, None),
        (at("11:00"), "resolve", 1, None),
    ])
    code, out, _ = simulate(capsys, "--policy", candidate, "--format", "json")
    report = json.loads(out)
    for run in (report["current"], report["candidate"]):
        assert run["escalations"] == {"automatic": 1, "by_hand": 0}
        assert run["load"]["tier1"] == {"tickets": 1, "hours": 1.0}
        assert run["load"]["tier3"] == {"tickets": 1, "hours": 1.0}  # acknowledged there, resolved there
        assert run["actions_not_replayed"] == {}
    assert report["differing_tickets"] == []


def test_notes_people_wrote_are_replayed_by_their_authors(capsys, live, tmp_path, monkeypatch):
    """A candidate that hands a Tier 2 ticket back to Tier 1 after 2 quiet hours: the
    specialist's notes at 10:30 and 12:00 keep it from being quiet before it is resolved
    at 13:00; without them it would have gone down at 11:10."""
    policy = (ROOT / "bot" / "default_policy.yaml").read_text()
    quiet = tmp_path / "quiet.yaml"
    quiet.write_text(policy + "deescalation: [{from: tier2, when: quiet, for: 2h, to: tier1}]\n")
    record(live, [
        (at("09:00"), "open", 1, p("P3", impact="multiple_users")),   # the matrix: Tier 2
        (at("09:10"), "acknowledge", 1, None),
        (at("10:30"), "note", 1, "U0SPEC1"),
        (at("12:00"), "note", 1, "U0SPEC1"),
        (at("13:00"), "resolve", 1, None),
    ])
    code, out, err = simulate(capsys, "--policy", str(quiet), "--format", "json")
    report = json.loads(out)
    assert report["candidate"]["deescalations"] == {"automatic": 0, "by_hand": 0}, report
    assert report["differing_tickets"] == []
    record(live.replace("live.db", "quiet.db"), [
        (at("09:00"), "open", 1, p("P3", impact="multiple_users")),
        (at("09:10"), "acknowledge", 1, None),
        (at("13:00"), "resolve", 1, None),
    ])
    monkeypatch.setenv("DATABASE_URL", live.replace("live.db", "quiet.db"))
    report = json.loads(simulate(capsys, "--policy", str(quiet), "--format", "json")[1])
    assert report["candidate"]["deescalations"] == {"automatic": 1, "by_hand": 0}
    assert report["differing_tickets"][0]["candidate"] == "2026-11-02 12:10 deescalated to tier1"


def test_from_and_to_choose_tickets_by_the_day_they_were_opened(capsys, live, candidate):
    record(live, HISTORY + [(at("09:00", day=4), "open", 4, p("P4")), (at("10:00", day=4), "resolve", 4, None)])
    _, out, _ = simulate(capsys, "--policy", candidate, "--from", "2026-11-03", "--format", "json")
    assert json.loads(out)["tickets"] == 1
    _, out, _ = simulate(capsys, "--policy", candidate, "--to", "2026-11-02", "--format", "json")
    assert json.loads(out)["tickets"] == 3
    code, _, err = simulate(capsys, "--policy", candidate, "--from", "last week")
    assert code == 2 and "--from must be a date YYYY-MM-DD, e.g. 2026-11-30 (got 'last week')" in err


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as connection:
        counts = {table.name: connection.scalar(select(func.count()).select_from(table))
                  for table in Base.metadata.sorted_tables}
    engine.dispose()
    return counts


def test_simulate_only_reads_the_live_database(capsys, database_url, candidate, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("ESCALATOR_POLICY", raising=False)
    record(database_url, HISTORY)
    before = _counts(database_url)
    assert simulate(capsys, "--policy", candidate)[0] == 0
    assert _counts(database_url) == before


def test_the_reading_transaction_refuses_writes(live):
    """What makes it read-only is the database's own guard, not our care."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from bot.policy import replay

    record(live, HISTORY[:1])
    engine = make_engine(live)
    with engine.connect() as connection:
        replay._read_only(connection)
        with pytest.raises(OperationalError, match="readonly"):
            connection.execute(text("DELETE FROM tickets"))
        connection.rollback()
    engine.dispose()


def test_an_unreadable_database_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, candidate):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-migrated.db'}")
    code, out, err = simulate(capsys, "--policy", candidate)
    assert code == 2 and out == ""
    assert err.startswith("escalator: can't read the recorded tickets from the database:")
    assert len(err.strip().splitlines()) == 1


def test_a_broken_candidate_is_named_and_nothing_runs(capsys, live, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("timezone: Mars/Olympus\n")
    code, out, err = simulate(capsys, "--policy", str(bad))
    assert code == 2 and out == ""
    assert f"invalid policy {bad}" in err
