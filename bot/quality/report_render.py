"""The report as text (a terminal, an e-mail) and as one self-contained HTML page
(charts inline as PNG data URIs, every value HTML-escaped by Jinja's autoescape)."""
from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import jinja2

import templates as templates_package
from bot.policy import Policy
from bot.quality.metrics import Durations, QualityMetrics, Rate

LADDER_ORDER = ("planning", "tier1", "tier2", "tier3", "management", "executive")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def figure(value, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "seconds":
        return duration(value)
    if unit == "share":
        return share(value)
    if unit in ("score", "per_ticket"):
        return f"{value:.2f}"
    return f"{value:,}"


def period(metrics: QualityMetrics) -> str:
    last_day = metrics.end - timedelta(days=1)
    return f"{metrics.start:%Y-%m-%d} to {last_day:%Y-%m-%d} ({metrics.start.tzinfo})"


def levels_in(metrics: QualityMetrics) -> list[str]:
    seen = set(metrics.arrived_by_level) | set(metrics.time_in_level) | set(metrics.resolution)
    return sorted(seen, key=lambda k: (LADDER_ORDER.index(k) if k in LADDER_ORDER else 99, k))


def level_rows(metrics: QualityMetrics, policy: Policy) -> list[dict]:
    empty = Durations(0, None, None)
    rows = []
    for level in levels_in(metrics):
        rate = metrics.escalation_rate(level)
        csat = (metrics.csat_by_level or {}).get(level) or {}
        rows.append({
            "name": policy.level_name(level), "arrived": metrics.arrived_by_level.get(level, 0),
            "ack": metrics.acknowledge.get(level, empty), "stay": metrics.time_in_level.get(level, empty),
            "resolution": metrics.resolution.get(level, empty), "escalation_rate": rate.value,
            "left_upward": rate.part, "sla_response": metrics.sla_rate(level=level, clock="response").value,
            "csat_mean": csat.get("mean"), "csat_responses": csat.get("responses", 0),
        })
    return rows


def severity_rows(metrics: QualityMetrics) -> list[dict]:
    severities = sorted(set(metrics.opened_by_severity) | {r["severity"] for r in metrics.sla})
    return [{"severity": s, "opened": metrics.opened_by_severity.get(s, 0),
             "response": metrics.sla_rate(severity=s, clock="response"),
             "time_limit": metrics.sla_rate(severity=s, clock="time_limit")} for s in severities]


def text(metrics: QualityMetrics, policy: Policy) -> str:
    return _environment(autoescape=False).get_template("report.txt.j2").render(**_context(metrics, policy))


def html(metrics: QualityMetrics, policy: Policy) -> str:
    from bot.quality.charts import draw

    names = {key: policy.level_name(key) for key in policy.levels}
    charts = [] if metrics.empty else [
        {"title": c.title, "filename": c.filename, "src": "data:image/png;base64," + base64.b64encode(c.png).decode()}
        for c in draw(metrics, names)]
    return _environment(autoescape=True).get_template("report.html.j2").render(
        charts=charts, **_context(metrics, policy))


def _context(metrics: QualityMetrics, policy: Policy) -> dict:
    return {"m": metrics, "policy": policy, "period": period(metrics), "levels": level_rows(metrics, policy),
            "severities": severity_rows(metrics), "headline": metrics.headline(), "p": metrics.prevention,
            "csat": metrics.csat, "level_name": policy.level_name, "Rate": Rate}


def _environment(*, autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(templates_package.__file__).parent / "reports"),
                             autoescape=autoescape, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(duration=duration, share=share, figure=figure)
    return env
