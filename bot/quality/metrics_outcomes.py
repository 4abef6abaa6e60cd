"""Outcomes of the tickets resolved in the range: first-contact resolution and its
impact, handoffs, reopens, SLA attainment, CSAT. One SQL statement each, grouped in
the database (docs/quality-metrics.md has the definitions)."""
from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from bot.policy import Policy
from bot.quality.metrics_sql import Range, case_map, run

CSAT_TABLE = "csat_responses"


def resolved_cte(policy: Policy) -> str:
    """`rt`: each ticket resolved in the range (its latest resolution), with its history
    summed up: moves, reopens, resolutions, and whether it was a first-contact resolution.

    resolved_at is set on Resolve and cleared on Reopen (bot.desk), so it alone says the
    ticket is resolved. The history comes from its stays (bot.quality.stays): one per
    arrival, so the moves and reopens are the stays' arrivals. `res CROSS JOIN
    ticket_stays` keeps SQLite's join order: the range's tickets first, then their stays
    by the primary key (PostgreSQL plans a CROSS JOIN with its WHERE as any join)."""
    entry = case_map("res.severity", {key: sev.entry for key, sev in policy.severities.items()})
    return f"""
    res AS (SELECT t.id, t.level, t.severity, t.created_at, t.resolved_at, t.root_cause, t.kb_gap,
                   t.kb_article, t.training_need, t.product_link, t.revenue_at_risk
            FROM tickets t WHERE t.resolved_at >= :start AND t.resolved_at < :end),
    res_ev AS (SELECT s.ticket_id,
                      SUM(CASE WHEN s.arrived_by IN ('escalated', 'deescalated') THEN 1 ELSE 0 END) AS moves,
                      SUM(CASE WHEN s.arrived_by = 'reopened' THEN 1 ELSE 0 END) AS reopens,
                      SUM(s.resolutions) AS resolutions,
                      MAX(CASE WHEN s.arrived_by = 'opened' THEN s.level END) AS first_level
               FROM res CROSS JOIN ticket_stays s WHERE s.ticket_id = res.id GROUP BY s.ticket_id),
    rt AS (SELECT res.*, res_ev.moves, res_ev.reopens, res_ev.resolutions,
                  CASE WHEN res_ev.moves = 0 AND res_ev.reopens = 0 AND res_ev.first_level = res.level
                            AND res.level = {entry} THEN 1 ELSE 0 END AS fcr
           FROM res JOIN res_ev ON res_ev.ticket_id = res.id)"""


def outcomes(session: Session, policy: Policy, window: Range) -> dict:
    """Of the tickets resolved in the range: how many, FCR, moves, reopened; and "csat" per
    resolving level (resolved, answers for their latest resolution, score sum, answers of
    4–5) and by FCR vs escalated, or None without the CSAT table. One statement."""
    answers = has_csat(session)
    csat_parts = """
        UNION ALL
        SELECT 'level', rt.level, COUNT(*), 0, 0, 0 FROM rt GROUP BY rt.level
        UNION ALL
        SELECT 'answers_level', level, COUNT(*), SUM(score), SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END), 0
          FROM answers GROUP BY level
        UNION ALL
        SELECT 'answers_fcr', CAST(fcr AS TEXT), COUNT(*), SUM(score), SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END), 0
          FROM answers GROUP BY fcr""" if answers else ""
    answers_cte = f""",
        answers AS (SELECT rt.level, rt.fcr, a.score
                    FROM rt JOIN {CSAT_TABLE} a ON a.ticket_id = rt.id AND a.resolution = rt.resolutions)""" \
        if answers else ""
    rows = run(session, f"""WITH {resolved_cte(policy)}{answers_cte}
        SELECT 'all' AS what, '' AS grp, COUNT(*) AS a, COALESCE(SUM(fcr), 0) AS b, COALESCE(SUM(moves), 0) AS c,
               COALESCE(SUM(CASE WHEN reopens > 0 THEN 1 ELSE 0 END), 0) AS d
        FROM rt{csat_parts}""", window)
    result: dict = {"csat": {"by_level": {}, "by_fcr": {}} if answers else None}
    for what, group, a, b, c, d in rows:
        if what == "all":
            result.update(resolved=int(a), fcr=int(b), moves=int(c), reopened=int(d))
        elif what == "level":
            result["csat"]["by_level"].setdefault(str(group), [0, 0, 0, 0])[0] += int(a)
        else:  # answers: count, score sum, 4–5s
            by = "by_level" if what == "answers_level" else "by_fcr"
            target = result["csat"][by].setdefault(str(group), [0, 0, 0, 0])
            for i, value in enumerate((a, b, c), start=1):
                target[i] += int(value or 0)
    return result


def sla_attainment(session: Session, policy: Policy, window: Range) -> list[tuple[str, str, str, int, int]]:
    """(severity, level, clock kind, met, total) for the response and time-limit clocks that
    started in the range and have an outcome: stopped, or breached while running. Whether a
    clock was met is what the SLA sweep decided on the level's calendar (bot.sla)."""
    rows = run(session, """
        SELECT t.severity, c.level, c.kind,
               SUM(CASE WHEN c.breached THEN 0 ELSE 1 END), COUNT(*)
        FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id
        WHERE c.started_at >= :start AND c.started_at < :end AND c.kind IN ('response', 'time_limit')
              AND (c.stopped_at IS NOT NULL OR c.breached)
              AND COALESCE(c.stop_reason, '') <> 'not applicable'
        GROUP BY t.severity, c.level, c.kind""", window)
    return [(sev, level, kind, int(met), int(total)) for sev, level, kind, met, total in rows]


def has_csat(session: Session) -> bool:
    return inspect(session.connection()).has_table(CSAT_TABLE)
