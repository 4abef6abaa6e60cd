"""Outcomes of the tickets resolved in the range: first-contact resolution and its
impact, handoffs, reopens, SLA attainment, CSAT. One SQL statement each, grouped in
the database (docs/quality-metrics.md has the definitions)."""
from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from bot.policy import Policy
from bot.quality.metrics_sql import Range, Sql, case_map, run

CSAT_TABLE = "csat_responses"


def resolved_cte(policy: Policy) -> str:
    """`rt`: each ticket resolved in the range (its latest resolution), with its history
    summed up: moves, reopens, resolutions, and whether it was a first-contact resolution.

    resolved_at is set on Resolve and cleared on Reopen (bot.desk), so it alone says the
    ticket is resolved. `res CROSS JOIN ticket_events` keeps SQLite's join order: the
    range's tickets first, then their events by the ticket_id index (PostgreSQL plans
    a CROSS JOIN with its WHERE as any join)."""
    entry = case_map("res.severity", {key: sev.entry for key, sev in policy.severities.items()})
    return f"""
    res AS (SELECT t.id, t.level, t.severity, t.created_at, t.resolved_at, t.root_cause, t.kb_gap,
                   t.kb_article, t.training_need, t.product_link, t.revenue_at_risk
            FROM tickets t WHERE t.resolved_at >= :start AND t.resolved_at < :end),
    res_ev AS (SELECT e.ticket_id,
                      SUM(CASE WHEN e.kind IN ('escalated', 'deescalated') THEN 1 ELSE 0 END) AS moves,
                      SUM(CASE WHEN e.kind = 'reopened' THEN 1 ELSE 0 END) AS reopens,
                      SUM(CASE WHEN e.kind = 'resolved' THEN 1 ELSE 0 END) AS resolutions,
                      MAX(CASE WHEN e.kind = 'opened' THEN e.to_level END) AS first_level
               FROM res CROSS JOIN ticket_events e WHERE e.ticket_id = res.id GROUP BY e.ticket_id),
    rt AS (SELECT res.*, res_ev.moves, res_ev.reopens, res_ev.resolutions,
                  CASE WHEN res_ev.moves = 0 AND res_ev.reopens = 0 AND res_ev.first_level = res.level
                            AND res.level = {entry} THEN 1 ELSE 0 END AS fcr
           FROM res JOIN res_ev ON res_ev.ticket_id = res.id)"""


def outcomes(session: Session, sql: Sql, policy: Policy, window: Range) -> dict:
    row = run(session, f"""WITH {resolved_cte(policy)}
        SELECT COUNT(*), COALESCE(SUM(fcr), 0), COALESCE(SUM(moves), 0),
               COALESCE(SUM(CASE WHEN reopens > 0 THEN 1 ELSE 0 END), 0)
        FROM rt""", window)[0]
    resolved, fcr, moves, reopened = (int(v) for v in row)
    return {"resolved": resolved, "fcr": fcr, "moves": moves, "reopened": reopened}


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


def csat(session: Session, policy: Policy, window: Range) -> dict | None:
    """Per resolving level: tickets resolved, answers for their latest resolution, score
    sum, answers of 4–5; and the same split by FCR vs escalated. None without the table."""
    if not has_csat(session):
        return None
    rows = run(session, f"""WITH {resolved_cte(policy)},
        answers AS (SELECT rt.level, rt.fcr, a.score
                    FROM rt JOIN {CSAT_TABLE} a ON a.ticket_id = rt.id AND a.resolution = rt.resolutions)
        SELECT 'level' AS by_what, rt.level AS grp, COUNT(*) AS asked, 0 AS answered, 0 AS total, 0 AS happy
          FROM rt GROUP BY rt.level
        UNION ALL
        SELECT 'level', level, 0, COUNT(*), SUM(score), SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END)
          FROM answers GROUP BY level
        UNION ALL
        SELECT 'fcr', CAST(fcr AS TEXT), 0, COUNT(*), SUM(score), SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END)
          FROM answers GROUP BY fcr""", window)
    by_level: dict[str, list[int]] = {}
    by_fcr: dict[str, list[int]] = {}
    for by_what, group, asked, answered, total, happy in rows:
        target = (by_level if by_what == "level" else by_fcr).setdefault(str(group), [0, 0, 0, 0])
        for i, value in enumerate((asked, answered, total, happy)):
            target[i] += int(value or 0)
    return {"by_level": by_level, "by_fcr": by_fcr}
