"""`escalator report`: ranges, formats, the JSON Schema, bad input, and the HTML page
opened in a real headless browser (Debian's chromium, driven by Playwright)."""
from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from bot.cli import main
from bot.db import make_engine, upgrade
from bot.policy import load_policy
from bot.quality import sample_data
from bot.quality.report import report_range

SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "report.schema.json").read_text())
UTC = timezone.utc


@pytest.fixture
def history(database_url, monkeypatch):
    """A database with November 2026's sample history (300 tickets), as DATABASE_URL."""
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as connection:
        sample_data.generate(connection, load_policy(), tickets=300, start=datetime(2026, 11, 1, tzinfo=UTC),
                             end=datetime(2026, 12, 1, tzinfo=UTC), seed=7)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("ESCALATOR_POLICY", raising=False)
    return database_url


def report(capsys, *args) -> tuple[int, str, str]:
    code = main(["report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_json_report_follows_its_schema(history, capsys):
    code, out, _ = report(capsys, "--month", "2026-11", "--format", "json")
    assert code == 0
    document = json.loads(out)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["volume"]["opened"] > 250 and document["csat"]["responses"] > 0
    assert document["prevention"]["kb_gaps"][0]["tickets"][0].startswith("ESC-")


def test_an_empty_json_report_follows_its_schema_too(history, capsys):
    code, out, _ = report(capsys, "--from", "2025-01-01", "--to", "2025-01-31", "--format", "json")
    document = json.loads(out)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert code == 0 and document["empty"] is True


def test_the_schema_refuses_a_report_missing_a_section():
    document = {"schema_version": 1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(document)


def test_the_text_report_shows_the_key_figures_and_prevention_lists(history, capsys):
    code, out, _ = report(capsys, "--month", "2026-11")
    assert code == 0
    assert "2026-11-01 to 2026-11-30" in out
    for heading in ("First-contact resolution", "Time to acknowledge (median)", "KNOWLEDGE-BASE GAPS",
                    "TIER SKILL GAP", "PRODUCT-IMPROVEMENT INPUTS", "AUTOMATION OPPORTUNITIES"):
        assert heading in out


def test_an_empty_range_says_so_plainly(history, capsys):
    code, out, _ = report(capsys, "--month", "2025-02")
    assert code == 0
    assert "No escalation activity in this range" in out


@pytest.mark.parametrize("args, says", [
    (["--month", "2026-13"], "--month must be YYYY-MM"),
    (["--month", "Nov"], "--month must be YYYY-MM"),
    (["--from", "2026-11-31", "--to", "2026-12-01"], "--from must be a date YYYY-MM-DD"),
    (["--from", "2026-11-01", "--to", "20261130"], "--to must be a date YYYY-MM-DD"),  # only the documented form
    (["--from", "2026-11-01"], "--from and --to go together"),
    (["--from", "2026-11-05", "--to", "2026-11-01"], "is before --from"),
    (["--month", "2026-11", "--from", "2026-11-01", "--to", "2026-11-02"], "not both"),
    (["--month", "2026-11", "--format", "pdf"], "--format must be one of text, json, html"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(sqlite_url, monkeypatch, capsys, tmp_path, args, says):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    out_file = tmp_path / "report.txt"
    code, out, err = report(capsys, *args, "--out", str(out_file))
    assert code == 2
    assert out == "" and not out_file.exists()
    assert says in err and len(err.strip().splitlines()) == 1


def test_the_default_range_is_the_last_full_month_in_the_policys_time_zone():
    policy = load_policy()
    start, end = report_range(policy, today=date(2026, 3, 15))
    assert (start.isoformat(), end.isoformat()) == ("2026-02-01T00:00:00+01:00", "2026-03-01T00:00:00+01:00")
    start, end = report_range(policy, today=date(2026, 1, 1))
    assert (start.date(), end.date()) == (date(2025, 12, 1), date(2026, 1, 1))


def test_to_is_inclusive():
    start, end = report_range(load_policy(), from_date="2026-11-01", to_date="2026-11-01")
    assert (end - start).days == 1


CHARTS = {"weekly-volume.png", "time-per-level.png", "sla-by-severity.png", "csat-by-level.png", "root-causes.png"}


def test_the_html_report_opens_in_a_browser_with_every_chart(history, capsys, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    page_file = tmp_path / "report.html"
    code, _, err = report(capsys, "--month", "2026-11", "--format", "html", "--out", str(page_file))
    assert code == 0 and "report written to" in err
    html = page_file.read_text()
    assert "http://" not in html and "https://" not in html.replace("https://tracker.example.com", "")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.abort() if not route.request.url.startswith(("file:", "data:"))
                       else route.continue_())  # self-contained: nothing may be fetched
            page.goto(page_file.as_uri())
            charts = page.eval_on_selector_all(
                "img[data-chart]", "imgs => imgs.map(i => [i.dataset.chart, i.complete && i.naturalWidth])")
            assert {name for name, width in charts if width and width > 300} == CHARTS
            assert page.locator("[data-key=fcr_rate] b").inner_text().endswith("%")
            assert page.locator("#levels tr").count() > 3
        finally:
            browser.close()
