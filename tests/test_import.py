"""`escalator import`: past tickets from a helpdesk export, with a live ticket's history,
marked imported, never posted to Slack nor touched by the sweep; bad rows named by
line and reason while the rest go in; importing again changes nothing; --dry-run
writes nothing."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.models import CsatResponse, OutboxMessage, Ticket, TicketEvent, utcnow
from tests.harness import Harness

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXPORT, MAPPING = str(EXAMPLES / "helpdesk_export.csv"), str(EXAMPLES / "helpdesk_mapping.yaml")


@pytest.fixture
def desk(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("ESCALATOR_POLICY", raising=False)
    with Harness(database_url) as running:
        yield running


def counts(harness):
    with harness.runtime.sessions() as session:
        return (session.scalar(select(func.count()).select_from(Ticket)),
                session.scalar(select(func.count()).select_from(TicketEvent)))


def test_the_example_export_imports_with_its_history_and_never_reaches_slack(desk, capsys):
    assert main(["import", EXPORT, "--mapping", MAPPING]) == 1  # two bad rows: exit 1, the rest imported
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("line 9: severity 'Someday' is not in the mapping's values.severity "
                      "(high, low, normal, urgent)")  # line 9: the row before it spans two lines
    assert out[1] == "line 10: opened 'not a date' is not a time (ISO 8601, e.g. 2026-03-01 14:05)"
    assert out[2] == "imported 6 tickets, 0 already imported (left as they are), 2 bad rows (not imported)"
    with desk.runtime.sessions() as session:
        tickets = {t.source_id: t for t in session.scalars(select(Ticket))}
        assert set(tickets) == {f"zendesk:{n}" for n in range(1001, 1007)}
        checkout = tickets["zendesk:1001"]
        assert checkout.imported and (checkout.level, checkout.status, checkout.severity) == ("tier2", "resolved", "P2")
        assert checkout.root_cause == "Bug"
        scores = {(c.ticket_id, c.resolution, c.level, c.score, c.channel, c.answered_at)
                  for c in session.scalars(select(CsatResponse))}  # bot.quality.csat's table, as the survey fills it
        assert (checkout.id, 1, "tier2", 5, "import", datetime(2026, 10, 6, 8, 5, tzinfo=timezone.utc)) in scores
        assert len(scores) == 4
        assert checkout.revenue_at_risk == Decimal("12000.00") and checkout.customer == "Acme GmbH"
        berlin = timezone(timedelta(hours=2))  # October: summer time
        assert checkout.created_at == datetime(2026, 10, 5, 9, 12, tzinfo=berlin)
        events = [(e.kind, e.from_level, e.to_level, e.at.astimezone(berlin).strftime("%d %H:%M"))
                  for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == checkout.id)
                                           .order_by(TicketEvent.at))]
        assert events == [("opened", None, "tier1", "05 09:12"), ("acknowledged", "tier1", None, "05 09:40"),
                          ("escalated", "tier1", "tier2", "05 12:30"), ("resolved", "tier2", None, "06 10:05"),
                          ("csat_answered", None, None, "06 10:05")]
        api = tickets["zendesk:1003"]
        assert api.summary == "API down for all users\n(reported by phone)" and api.level == "tier3"
        assert tickets["zendesk:1006"].status == "imported_open"  # not solved in the export
        assert tickets["zendesk:1004"].level == "planning" and tickets["zendesk:1004"].root_cause is None
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    desk.runtime.sla.run(now=utcnow() + timedelta(days=400))  # the sweep ignores them
    desk.settle()
    assert all(desk.sim.messages(level.channel) == [] for level in desk.policy.levels.values())
    with desk.runtime.sessions() as session:
        assert session.get(Ticket, tickets["zendesk:1006"].id).status == "imported_open"


def test_importing_again_changes_nothing(desk, capsys):
    main(["import", EXPORT, "--mapping", MAPPING])
    before = counts(desk)
    capsys.readouterr()
    assert main(["import", EXPORT, "--mapping", MAPPING]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "imported 0 tickets, 6 already imported (left as they are), 2 bad rows (not imported)")
    assert counts(desk) == before == (6, 22)


def test_dry_run_checks_every_row_and_writes_nothing(desk, capsys):
    assert main(["import", EXPORT, "--mapping", MAPPING, "--dry-run"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "would import 6 tickets, 0 already imported (left as they are), 2 bad rows (not imported); "
        "dry run: nothing was written")
    assert counts(desk) == (0, 0)


def test_a_repeated_id_and_impossible_times_are_bad_rows(desk, tmp_path, capsys):
    export = tmp_path / "export.csv"
    export.write_text("Ticket ID,Created at,Priority,Solved at,Satisfaction\n"
                      "1,2026-10-05 09:00,High,2026-10-05 08:00,\n"
                      "2,2026-10-05 09:00,High,2026-10-05 10:00,9\n"
                      "3,2026-10-05 09:00,High,,\n"
                      "3,2026-10-06 09:00,High,,\n"
                      ",2026-10-06 09:00,High,,\n"
                      "4,2026-10-06 09:00,High,,5\n")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("source: desk\ncolumns: {id: Ticket ID, opened: Created at, severity: Priority,"
                       " resolved: Solved at, csat: Satisfaction}\nvalues: {severity: {High: P2}}\n")
    assert main(["import", str(export), "--mapping", str(mapping)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "line 2: resolved (2026-10-05 08:00) is before it was opened (2026-10-05 09:00)",
        "line 3: csat '9' is not a score from 1 to 5 (map it in values.csat)",
        "line 5: id '3' appears again (first on line 4)",
        "line 6: no id (column 'Ticket ID' is empty)",
        "line 7: csat '5' on a ticket that isn't solved (no resolved time): a score rates a resolution",
        "imported 1 tickets, 0 already imported (left as they are), 5 bad rows (not imported)"]


def test_a_broken_mapping_or_header_is_refused_whole(desk, tmp_path, capsys):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("source: desk\ncolumns: {opened: Created at, colour: Hue}\n"
                       "values: {severity: {High: P7}, level: {L2: tier9}}\n")
    assert main(["import", EXPORT, "--mapping", str(mapping)]) == 2
    err = capsys.readouterr().err
    for problem in ("columns.id: missing", "columns.colour: unknown fact", "values.severity.High: 'P7' is not a "
                    "severity", "values.level.L2: unknown level 'tier9'"):
        assert problem in err
    mapping.write_text("source: desk\ncolumns: {id: Number, opened: Created at, severity: Priority}\n")
    assert main(["import", EXPORT, "--mapping", str(mapping)]) == 2
    assert "not in the file's header: 'Number' (columns.id)" in capsys.readouterr().err
    assert counts(desk) == (0, 0)
