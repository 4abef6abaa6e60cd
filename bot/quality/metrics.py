"""The quality metrics of a date range (design.md §7; definitions in
docs/quality-metrics.md): `compute()` runs a handful of SQL statements over the event
log (no per-ticket Python) and returns one `QualityMetrics`.

Stable API (the report, `/escalate stats` and the monthly review call it):
  compute(session, policy, start, end) -> QualityMetrics
  key_figures(session, policy, start, end) -> QualityMetrics (headline sections only: cheaper)
  compare(current, previous) -> list[Change]   (month over month)
  QualityMetrics.headline() -> list[Figure];  QualityMetrics.to_dict() -> the JSON shape
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Ticket, utcnow
from bot.policy import Policy
from bot.quality import metrics_flow, metrics_outcomes, metrics_prevention, metrics_timing
from bot.quality.metrics_business_time import business_clock
from bot.quality.metrics_sql import Range, sql_for

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Durations:
    """Seconds (business time where the policy has business hours)."""

    count: int
    median: float | None
    p90: float | None
    mean: float | None = None


@dataclass(frozen=True)
class Rate:
    part: int
    whole: int

    @property
    def value(self) -> float | None:
        return None if not self.whole else self.part / self.whole


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: float | int | None
    unit: str  # "count" | "seconds" | "share" | "score" | "per_ticket"


@dataclass(frozen=True)
class Change:
    key: str
    label: str
    unit: str
    current: float | int | None
    previous: float | int | None

    @property
    def delta(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous


@dataclass
class QualityMetrics:
    start: datetime
    end: datetime
    business_time: bool
    opened_by_severity: dict[str, int] = field(default_factory=dict)
    arrived_by_level: dict[str, int] = field(default_factory=dict)
    weekly_by_level: dict[int, dict[str, int]] = field(default_factory=dict)  # week n of the range
    escalations: list[dict] = field(default_factory=list)  # from, to, trigger, automatic, criterion, count
    deescalations: list[dict] = field(default_factory=list)
    deescalated: int = 0
    undos: int = 0
    acknowledge: dict[str, Durations] = field(default_factory=dict)  # by level
    time_in_level: dict[str, Durations] = field(default_factory=dict)
    resolution: dict[str, Durations] = field(default_factory=dict)  # by the level that resolved
    acknowledge_all: Durations | None = None  # every level together
    resolution_all: Durations | None = None
    resolution_fcr: Durations | None = None
    resolution_escalated: Durations | None = None
    resolved: int = 0
    fcr: Rate = Rate(0, 0)
    handoffs: int = 0
    reopened: Rate = Rate(0, 0)
    sla: list[dict] = field(default_factory=list)  # severity, level, clock, met, total
    csat_by_level: dict[str, dict] | None = None  # level: asked, responses, mean, share_4_5
    csat_fcr: dict[str, dict] | None = None  # "fcr" / "escalated": responses, mean, share_4_5
    prevention: dict[str, list] = field(default_factory=dict)

    # --- derived figures -----------------------------------------------------------
    @property
    def opened(self) -> int:
        return sum(self.opened_by_severity.values())

    @property
    def empty(self) -> bool:
        return not (self.opened or self.resolved or self.arrived_by_level or self.escalations)

    @property
    def escalated(self) -> int:
        return sum(e["count"] for e in self.escalations)

    @property
    def automatic_escalations(self) -> int:
        return sum(e["count"] for e in self.escalations if e["automatic"])

    def escalation_rate(self, level: str) -> Rate:
        """Left upward ÷ arrived, at one level."""
        left = sum(e["count"] for e in self.escalations if e["from"] == level)
        return Rate(left, self.arrived_by_level.get(level, 0))

    def sla_rate(self, *, severity: str | None = None, level: str | None = None, clock: str | None = None) -> Rate:
        rows = [r for r in self.sla if (severity is None or r["severity"] == severity)
                and (level is None or r["level"] == level) and (clock is None or r["clock"] == clock)]
        return Rate(sum(r["met"] for r in rows), sum(r["total"] for r in rows))

    @property
    def csat(self) -> dict:
        """All levels together: asked, responses, response rate, mean, share of 4–5."""
        levels = (self.csat_by_level or {}).values()
        asked = sum(v["asked"] for v in levels)
        responses = sum(v["responses"] for v in levels)
        total = sum(v["score_total"] for v in levels)
        happy = sum(v["happy"] for v in levels)
        return _csat_summary(asked, responses, total, happy)

    @property
    def handoffs_per_ticket(self) -> float | None:
        return None if not self.resolved else self.handoffs / self.resolved

    def headline(self) -> list[Figure]:
        ack = self.acknowledge_all or Durations(0, None, None)
        resolution = self.resolution_all or Durations(0, None, None)
        csat = self.csat
        return [
            Figure("opened", "Tickets opened", self.opened, "count"),
            Figure("resolved", "Tickets resolved", self.resolved, "count"),
            Figure("escalations", "Escalations", self.escalated, "count"),
            Figure("automatic_share", "Escalations the bot made", Rate(self.automatic_escalations,
                                                                        self.escalated).value, "share"),
            Figure("fcr_rate", "First-contact resolution", self.fcr.value, "share"),
            Figure("ack_median", "Time to acknowledge (median)", ack.median, "seconds"),
            Figure("resolution_median", "Resolution time (median)", resolution.median, "seconds"),
            Figure("sla_response", "Response SLA met", self.sla_rate(clock="response").value, "share"),
            Figure("reopen_rate", "Reopened", self.reopened.value, "share"),
            Figure("handoffs_per_ticket", "Handoffs per resolved ticket", self.handoffs_per_ticket, "per_ticket"),
            Figure("csat_mean", "CSAT (mean of 1–5)", csat["mean"], "score"),
            Figure("csat_response_rate", "CSAT response rate", csat["response_rate"], "share"),
        ]

    def to_dict(self) -> dict:
        """The JSON shape (docs/report.schema.json)."""
        def durations(d: dict[str, Durations]) -> dict:
            return {k: asdict(v) for k, v in sorted(d.items())}

        levels = sorted(set(self.arrived_by_level) | {e["from"] for e in self.escalations})
        return {
            "schema_version": SCHEMA_VERSION,
            "range": {"start": _iso(self.start), "end": _iso(self.end)},
            "business_time": self.business_time,
            "empty": self.empty,
            "headline": [asdict(f) for f in self.headline()],
            "volume": {
                "opened": self.opened, "resolved": self.resolved,
                "by_severity": dict(sorted(self.opened_by_severity.items())),
                "by_level": dict(sorted(self.arrived_by_level.items())),
                "weekly_by_level": [{"week": w, "start": _iso(self.week_start(w)), "levels": dict(sorted(v.items()))}
                                    for w, v in sorted(self.weekly_by_level.items())],
                "by_trigger": self._by_trigger(),
                "by_root_cause": {r["root_cause"]: r["tickets"] for r in self.prevention.get("top_root_causes", [])},
            },
            "timing": {"acknowledge_all": asdict(self.acknowledge_all) if self.acknowledge_all else None,
                       "resolution_all": asdict(self.resolution_all) if self.resolution_all else None,
                       "acknowledge": durations(self.acknowledge), "time_in_level": durations(self.time_in_level),
                       "resolution_by_level": durations(self.resolution)},
            "sla": [dict(r, rate=Rate(r["met"], r["total"]).value) for r in self.sla],
            "fcr": {"fcr_tickets": self.fcr.part, "resolved": self.fcr.whole, "rate": self.fcr.value,
                    "resolution_fcr": asdict(self.resolution_fcr) if self.resolution_fcr else None,
                    "resolution_escalated": asdict(self.resolution_escalated) if self.resolution_escalated else None,
                    "csat": self.csat_fcr},
            "flow": {
                "escalation_rate": {lv: {"left_upward": r.part, "arrived": r.whole, "rate": r.value}
                                    for lv in levels for r in [self.escalation_rate(lv)]},
                "escalations": sorted(self.escalations, key=lambda e: (-e["count"], e["from"], e["trigger"])),
                "automatic": self.automatic_escalations, "manual": self.escalated - self.automatic_escalations,
                "deescalations": self.deescalated, "undos": self.undos,
                "handoffs_per_ticket": self.handoffs_per_ticket,
                "reopened": self.reopened.part, "reopen_rate": self.reopened.value,
            },
            "csat": None if self.csat_by_level is None else {**self.csat, "by_level": self.csat_by_level},
            "prevention": self.prevention,
        }

    def week_start(self, week: int) -> datetime:
        from datetime import timedelta

        return self.start + timedelta(days=7 * week)

    def _by_trigger(self) -> list[dict]:
        merged: dict[tuple[str, bool, str], int] = {}
        for e in self.escalations:
            key = (e["trigger"], e["automatic"], e.get("criterion", ""))
            merged[key] = merged.get(key, 0) + e["count"]
        return [{"trigger": t, "automatic": a, "criterion": c, "count": n}
                for (t, a, c), n in sorted(merged.items(), key=lambda i: (-i[1], i[0]))]


def compute(session: Session, policy: Policy, start: datetime, end: datetime) -> QualityMetrics:
    """Every metric of [start, end) (aware datetimes)."""
    metrics = key_figures(session, policy, start, end)
    metrics.prevention = metrics_prevention.prevention(session, sql_for(session), policy, Range(start, end))
    return metrics


def key_figures(session: Session, policy: Policy, start: datetime, end: datetime, *,
                detail: bool = True) -> QualityMetrics:
    """Everything but the prevention lists; without `detail`, the times are only the
    overall ones (the headline: what `/escalate stats` shows), not by level."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    window, sql = Range(start, end), sql_for(session)
    clock = business_clock(sql, policy, lambda: _span(session, window))
    flow = metrics_flow.flow(session, sql, policy, window)
    timing = metrics_timing.timing(session, sql, policy, clock, window, detail=detail)
    outcome = metrics_outcomes.outcomes(session, policy, window)
    metrics = QualityMetrics(
        start=start, end=end, business_time=not clock.wall_time,
        opened_by_severity=flow["opened"], arrived_by_level=flow["arrived"], weekly_by_level=flow["weekly"],
        escalations=flow["escalations"], deescalations=flow["deescalations"], deescalated=flow["deescalated"],
        undos=flow["undos"],
        acknowledge=_durations(timing.get("acknowledge", {})), time_in_level=_durations(timing.get("in_level", {})),
        resolution=_durations(timing.get("resolution", {})),
        acknowledge_all=_durations(timing.get("acknowledge_all", {})).get("*"),
        resolution_all=_durations(timing.get("resolution_all", {})).get("*"),
        resolution_fcr=_durations(timing.get("resolution_fcr", {})).get("all"),
        resolution_escalated=_durations(timing.get("resolution_escalated", {})).get("all"),
        resolved=outcome["resolved"], fcr=Rate(outcome["fcr"], outcome["resolved"]), handoffs=outcome["moves"],
        reopened=Rate(outcome["reopened"], outcome["resolved"]),
        sla=[{"severity": s, "level": lv, "clock": k, "met": m, "total": t}
             for s, lv, k, m, t in metrics_outcomes.sla_attainment(session, policy, window)],
    )
    csat = outcome["csat"]
    if csat is not None:
        metrics.csat_by_level = {level: {"asked": a, **_csat_summary(a, r, t, h)}
                                 for level, (a, r, t, h) in sorted(csat["by_level"].items())}
        metrics.csat_fcr = {("fcr" if k == "1" else "escalated"): _csat_summary(0, r, t, h)
                            for k, (a, r, t, h) in sorted(csat["by_fcr"].items())}
    return metrics


def compare(current: QualityMetrics, previous: QualityMetrics) -> list[Change]:
    """The headline figures side by side (month over month in the review)."""
    before = {f.key: f.value for f in previous.headline()}
    return [Change(f.key, f.label, f.unit, f.value, before.get(f.key)) for f in current.headline()]


def _span(session: Session, window: Range) -> tuple[datetime, datetime]:
    """The instants the range's durations can touch: from the oldest ticket resolved in it
    (an index range) to now (nothing happened later)."""
    oldest = session.scalar(select(func.min(Ticket.created_at)).where(
        Ticket.resolved_at >= window.start, Ticket.resolved_at < window.end))
    return min(window.start, oldest or window.start), max(window.end, utcnow())


def _durations(groups: dict) -> dict[str, Durations]:
    return {key: Durations(n, p50, p90, mean) for key, (n, p50, p90, mean) in groups.items()}


def _csat_summary(asked: int, responses: int, total: int, happy: int) -> dict:
    return {"responses": responses, "response_rate": (responses / asked) if asked else None,
            "mean": (total / responses) if responses else None,
            "share_4_5": (happy / responses) if responses else None,
            "score_total": total, "happy": happy}


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
