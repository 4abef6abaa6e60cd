"""What the monthly review says: the month's headline figures beside the month before,
the prevention lists, and the charts (bot.quality.metrics and bot.quality.charts compute
and draw them; this module only chooses, formats and renders).

Charts that can't be drawn leave the review without them, never without its figures.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from sqlalchemy.orm import Session

from bot.outbox import FileToShare
from bot.policy import Policy
from bot.quality import metrics as quality_metrics
from bot.quality import report_render
from bot.quality.review_schedule import month_range, previous_month
from bot.rendering import render

log = logging.getLogger("escalator.quality")

LISTED = 5  # entries per prevention list
KEYS_LISTED = 6  # ticket keys per entry
MONTH = "%B %Y"


@dataclass
class ReviewDraft:
    month: date
    payload: dict  # the message (Block Kit)
    charts: list[FileToShare] = field(default_factory=list)
    charts_failed: bool = False
    empty: bool = False

    @property
    def month_name(self) -> str:
        return self.month.strftime(MONTH)


def draw_charts(metrics, level_names: dict[str, str]) -> list:
    """The review's charts: bot.quality.charts.draw (matplotlib is imported only here)."""
    from bot.quality import charts

    return charts.draw(metrics, level_names)


def compose(session: Session, policy: Policy, month: date, *, level_key: str,
            draw: Callable = draw_charts) -> ReviewDraft:
    """The review of `month` (its first day), read from the database in one session."""
    start, end = month_range(policy, month)
    before = previous_month(month)
    current = quality_metrics.compute(session, policy, start, end)
    previous = quality_metrics.key_figures(session, policy, month_range(policy, before)[0], start)
    draft = ReviewDraft(month=month, payload={}, empty=current.empty)
    if not current.empty:
        try:
            draft.charts = [FileToShare(chart.filename, chart.title, chart.png, alt_text=chart.title)
                            for chart in draw(current, {key: lv.name for key, lv in policy.levels.items()})]
        except Exception:  # matplotlib missing or broken, a bug in a chart: the figures still go out
            log.exception("monthly review: the charts of %s could not be drawn; posting the figures alone",
                          draft.month_name)
            draft.charts_failed = True
    draft.payload = render(
        "review.json.j2", month=draft.month_name, previous_month=before.strftime("%B"),
        level_name=policy.level_name(level_key), empty=current.empty,
        figures=[(change.label, report_render.figure(change.current, change.unit),
                  format_change(change.unit, change.current, change.previous))
                 for change in quality_metrics.compare(current, previous)],
        lists=prevention_lists(policy, current.prevention), charts=len(draft.charts),
        charts_failed=draft.charts_failed, business_time=current.business_time)
    return draft


def format_change(unit: str, current, previous) -> str:
    """The change from the month before, signed: "+12", "−4.0 pts", "+25 min"; "" when
    either is unknown. Values themselves are formatted as the report formats them."""
    if current is None or previous is None:
        return ""
    delta = current - previous
    if unit == "share":
        shown = f"{abs(delta) * 100:.1f} pts"
    elif unit == "seconds":
        shown = report_render.duration(abs(delta))
    else:
        shown = report_render.figure(abs(delta), unit)
    if shown.strip("0.,") in ("", " pts", " min"):
        return f"±{shown}"
    return ("+" if delta > 0 else "−") + shown


def prevention_lists(policy: Policy, prevention: dict) -> list[tuple[str, list[dict]]]:
    """(title, entries) for the review; each entry: text (user text, escaped by the
    template), count, tickets (keys), link (a URL or None), money (revenue at risk or None)."""
    level = policy.level_name
    lists = [
        ("Top root causes", [{"text": c["root_cause"], "count": c["tickets"]}
                             for c in prevention.get("top_root_causes", [])]),
        ("Knowledge-base gaps (articles wanted)", [{"text": g["article"], "count": g["count"], "tickets": g["tickets"]}
                                                   for g in prevention.get("kb_gaps", [])]),
        ("Training needs", [{"text": f"{level(t['level'])}: {t['need']}", "count": t["count"], "tickets": t["tickets"]}
                            for t in prevention.get("training_needs", [])]),
        ("Tier skill gap (the next level resolved it within an hour)",
         [{"text": f"{level(g['from_level'])} → {level(g['to_level'])}, "
                   f"{(g['trigger'] or 'no trigger').replace('_', ' ')}, "
                   f"{g['root_cause']}", "count": g["count"], "tickets": g["tickets"]}
          for g in prevention.get("skill_gap", [])]),
        ("Product improvements", [{"text": p["link"], "link": p["link"], "count": p["count"],
                                   "money": p["revenue_at_risk"] or None, "tickets": p["tickets"]}
                                  for p in prevention.get("product_inputs", [])]),
        ("Automation opportunities (the same cause and fix recurring)",
         [{"text": f"{a['root_cause']} + {a['article']}", "count": a["count"], "tickets": a["tickets"]}
          for a in prevention.get("automation", [])]),
    ]
    shown = []
    for title, entries in lists:
        for entry in entries:
            entry.setdefault("link", None)
            entry.setdefault("money", None)
            entry["tickets"] = list(entry.get("tickets") or [])
            entry["more_tickets"] = max(0, len(entry["tickets"]) - KEYS_LISTED)
            entry["tickets"] = entry["tickets"][:KEYS_LISTED]
        shown.append((title, entries[:LISTED]))
    return shown
