"""docs/operations.md and the example alert rules stay true to what /metrics exposes."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.runtime import build_runtime

DOCS = Path(__file__).resolve().parents[1] / "docs"
RULES = DOCS / "prometheus-alerts.yml"
_SUFFIXES = re.compile(r"_(total|bucket|count|sum)$")


@pytest.fixture(scope="module")
def exposed_families(tmp_path_factory) -> dict[str, str]:
    """{family name: type} of a fresh bot's /metrics, as Prometheus parses it."""
    database = tmp_path_factory.mktemp("metrics") / "metrics.db"
    runtime = build_runtime(Settings(bot_token="xoxb-docs", signing_secret="docs-signing-secret",
                                     slack_api_url="http://127.0.0.1:9/", database_url=f"sqlite:///{database}"))
    try:
        text = runtime.metrics.exposition().decode()
    finally:
        runtime.stop()
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def test_every_metric_the_bot_exposes_is_explained_in_the_docs(exposed_families):
    documented = (DOCS / "operations.md").read_text()
    for name, kind in exposed_families.items():
        if name.startswith("escalator_"):
            shown = f"{name}_total" if kind == "counter" else name
            assert f"`{shown}`" in documented, f"{shown} is exposed but not in docs/operations.md"


def test_the_metric_names_follow_prometheus_conventions(exposed_families):
    for name, kind in exposed_families.items():
        if not name.startswith("escalator_"):
            continue
        assert re.fullmatch(r"escalator_[a-z_]+", name), name
        if kind == "histogram":
            assert name.endswith("_seconds"), f"{name}: durations in seconds, the base unit"
        assert not name.endswith(("_ms", "_milliseconds", "_minutes")), name


def test_the_example_alert_rules_use_only_metrics_the_bot_exposes(exposed_families):
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} >= {"EscalatorOutboxBacklogStale", "EscalatorSlaAlertsLate",
                                                  "EscalatorSlackAuthErrors"}
    for rule in rules:
        assert rule["labels"]["severity"] and rule["annotations"]["summary"], rule["alert"]
        names = re.findall(r"\bescalator_[a-z_]+", rule["expr"])
        assert names, rule["alert"]
        for name in names:
            assert _SUFFIXES.sub("", name) in exposed_families, f"{rule['alert']}: no metric {name}"
        for code in re.findall(r'error=~"([^"]+)"', rule["expr"]):
            assert "invalid_auth" in code.split("|")  # the code Slack gives a bad token


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed (apt-get install prometheus); the rules are parsed above")
def test_promtool_accepts_the_rules_and_their_unit_tests_pass():
    for command in (["promtool", "check", "rules", RULES.name],
                    ["promtool", "test", "rules", "prometheus-alerts.test.yml"]):
        result = subprocess.run(command, cwd=DOCS, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
