"""The report's charts, drawn with matplotlib's Agg backend (no display) as PNG bytes:
weekly volume by level, time per level, SLA attainment by severity, CSAT by level,
top root causes. Used by the HTML report and uploaded by the monthly review.

Stable API: draw(metrics) -> list[Chart]; a chart with nothing to show is left out.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # before pyplot: never look for a display

from matplotlib.figure import Figure  # noqa: E402  (after the backend is chosen)

from bot.quality.metrics import QualityMetrics  # noqa: E402

LEVEL_ORDER = ("planning", "tier1", "tier2", "tier3", "management", "executive")
COLORS = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#9D755D")
SIZE = (7.5, 3.6)
DPI = 100


@dataclass(frozen=True)
class Chart:
    filename: str  # e.g. "weekly-volume.png"
    title: str
    png: bytes


def draw(metrics: QualityMetrics, level_names: dict[str, str] | None = None) -> list[Chart]:
    """Every chart the metrics have data for, in the report's order."""
    names = level_names or {}
    charts = []
    for filename, title, painter in _PAINTERS:
        figure = Figure(figsize=SIZE, dpi=DPI)
        axes = figure.add_subplot()
        if not painter(axes, metrics, names):
            continue
        axes.set_title(title, fontsize=11)
        axes.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        charts.append(Chart(filename, title, buffer.getvalue()))
    return charts


def _levels(keys) -> list[str]:
    return sorted(keys, key=lambda k: (LEVEL_ORDER.index(k) if k in LEVEL_ORDER else len(LEVEL_ORDER), k))


def _weekly_volume(axes, metrics: QualityMetrics, names: dict) -> bool:
    weeks = sorted(metrics.weekly_by_level)
    levels = _levels({lv for week in metrics.weekly_by_level.values() for lv in week})
    if not weeks:
        return False
    labels = [metrics.week_start(w).strftime("%d %b") for w in weeks]
    bottom = [0] * len(weeks)
    for i, level in enumerate(levels):
        counts = [metrics.weekly_by_level[w].get(level, 0) for w in weeks]
        axes.bar(labels, counts, bottom=bottom, label=names.get(level, level), color=COLORS[i % len(COLORS)])
        bottom = [b + c for b, c in zip(bottom, counts)]
    axes.set_ylabel("arrivals")
    axes.set_xlabel("week starting")
    axes.set_ylim(0, max(bottom) * 1.3 or 1)  # room for the legend above the bars
    axes.legend(fontsize=8, frameon=False, ncols=len(levels), loc="upper center")
    return True


def _time_per_level(axes, metrics: QualityMetrics, names: dict) -> bool:
    levels = _levels(k for k, d in metrics.time_in_level.items() if d.median is not None)
    if not levels:
        return False
    x = range(len(levels))
    width = 0.38
    medians = [metrics.time_in_level[lv].median / 3600 for lv in levels]
    p90s = [(metrics.time_in_level[lv].p90 or 0) / 3600 for lv in levels]
    axes.bar([i - width / 2 for i in x], medians, width, label="median", color=COLORS[0])
    axes.bar([i + width / 2 for i in x], p90s, width, label="p90", color=COLORS[1])
    axes.set_xticks(list(x), [names.get(lv, lv) for lv in levels])
    axes.set_ylabel("business hours" if metrics.business_time else "hours")
    axes.legend(fontsize=8, frameon=False)
    return True


def _sla_by_severity(axes, metrics: QualityMetrics, names: dict) -> bool:
    severities = sorted({r["severity"] for r in metrics.sla})
    if not severities:
        return False
    x = range(len(severities))
    width = 0.38
    for offset, clock, label, color in ((-width / 2, "response", "response", COLORS[2]),
                                        (width / 2, "time_limit", "time limit", COLORS[4])):
        rates = [metrics.sla_rate(severity=s, clock=clock).value for s in severities]
        axes.bar([i + offset for i in x], [100 * (r or 0) for r in rates], width, label=label, color=color)
    axes.set_xticks(list(x), severities)
    axes.set_ylim(0, 105)
    axes.set_ylabel("% met")
    axes.legend(fontsize=8, frameon=False, loc="lower right")
    return True


def _csat_by_level(axes, metrics: QualityMetrics, names: dict) -> bool:
    rows = {lv: v for lv, v in (metrics.csat_by_level or {}).items() if v["mean"] is not None}
    if not rows:
        return False
    levels = _levels(rows)
    axes.bar([names.get(lv, lv) for lv in levels], [rows[lv]["mean"] for lv in levels], color=COLORS[5])
    for i, level in enumerate(levels):
        axes.annotate(f"n={rows[level]['responses']}", (i, rows[level]["mean"]), ha="center", va="bottom",
                      fontsize=8)
    axes.set_ylim(0, 5.4)
    axes.set_ylabel("mean score (1–5)")
    return True


def _root_causes(axes, metrics: QualityMetrics, names: dict) -> bool:
    causes = metrics.prevention.get("top_root_causes") or []
    if not causes:
        return False
    causes = list(reversed(causes))
    axes.barh([c["root_cause"] for c in causes], [c["tickets"] for c in causes], color=COLORS[3])
    axes.set_xlabel("resolved tickets")
    return True


_PAINTERS: tuple[tuple[str, str, Callable], ...] = (
    ("weekly-volume.png", "Weekly volume by level", _weekly_volume),
    ("time-per-level.png", "Time per level", _time_per_level),
    ("sla-by-severity.png", "SLA attainment by severity", _sla_by_severity),
    ("csat-by-level.png", "CSAT by level", _csat_by_level),
    ("root-causes.png", "Top root causes", _root_causes),
)
