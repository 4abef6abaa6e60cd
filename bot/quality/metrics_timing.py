"""How long things took: time to acknowledge and time spent per level (for the stays
that began in the range), and resolution time by the level that resolved (for the
tickets resolved in the range), split FCR vs escalated too. One statement; the database
computes every duration (business time through bot.quality.metrics_business_time) and
its median and p90."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.policy import Policy
from bot.quality.metrics_business_time import BusinessClock
from bot.quality.metrics_outcomes import resolved_cte
from bot.quality.metrics_sql import Range, Sql, percentiles, run

ARRIVALS = "('opened', 'escalated', 'deescalated', 'reopened')"

# A stay is a ticket's time at one level: from an arrival (opened, escalated,
# de-escalated, reopened) until the next arrival or its resolution.
STAYS_CTE = f"""
    scope AS (SELECT DISTINCT ticket_id FROM ticket_events
              WHERE kind IN {ARRIVALS} AND at >= :start AND at < :end),
    ev AS (SELECT e.ticket_id, e.id, e.kind, e.at, e.to_level,
                  SUM(CASE WHEN e.kind IN {ARRIVALS} THEN 1 ELSE 0 END)
                      OVER (PARTITION BY e.ticket_id ORDER BY e.id ROWS UNBOUNDED PRECEDING) AS stay
           FROM scope CROSS JOIN ticket_events e
           WHERE e.ticket_id = scope.ticket_id AND e.kind IN ('opened', 'escalated', 'deescalated', 'reopened', 'acknowledged', 'resolved')),
    stays AS (SELECT ticket_id, stay,
                     MAX(CASE WHEN kind IN {ARRIVALS} THEN to_level END) AS level,
                     MIN(CASE WHEN kind IN {ARRIVALS} THEN at END) AS arrived_at,
                     MIN(CASE WHEN kind = 'acknowledged' THEN at END) AS acked_at,
                     MIN(CASE WHEN kind = 'resolved' THEN at END) AS resolved_at
              FROM ev WHERE stay > 0 GROUP BY ticket_id, stay),
    spans AS (SELECT ticket_id, level, arrived_at, acked_at,
                     COALESCE(resolved_at, LEAD(arrived_at) OVER (PARTITION BY ticket_id ORDER BY stay)) AS left_at
              FROM stays)"""


def timing(session: Session, sql: Sql, policy: Policy, clock: BusinessClock, window: Range) -> dict:
    """{"acknowledge"|"in_level"|"resolution": {level: (n, p50, p90, mean)},
    "acknowledge_all"|"resolution_all": {"*": …}, "resolution_fcr"|"resolution_escalated": {"all": …}},
    in seconds."""
    ack_joins, ack = clock.duration("sa", "sa.a", "sa.k", "sa.cal")
    stay_joins, stay = clock.duration("sl", "sl.a", "sl.l", "sl.cal")
    res_joins, resolution = clock.duration("r", "r.a", "r.z", "0")
    values = f"""
        SELECT 'acknowledge|' || sa.level AS grp, {ack} AS v FROM x sa {ack_joins} WHERE sa.k IS NOT NULL
        UNION ALL
        SELECT 'acknowledge_all|*', {ack} FROM x sa {ack_joins} WHERE sa.k IS NOT NULL
        UNION ALL
        SELECT 'in_level|' || sl.level, {stay} FROM x sl {stay_joins} WHERE sl.l IS NOT NULL
        UNION ALL
        SELECT CASE WHEN r.fcr = 1 THEN 'resolution_fcr|all' ELSE 'resolution_escalated|all' END, {resolution}
          FROM y r {res_joins}
        UNION ALL
        SELECT 'resolution|' || r.level, {resolution} FROM y r {res_joins}
        UNION ALL
        SELECT 'resolution_all|*', {resolution} FROM y r {res_joins}"""
    rows = run(session, f"""WITH {clock.cte()} {STAYS_CTE}, {resolved_cte(policy)},
        x AS (SELECT level, {clock.calendar_of('level')} AS cal, {sql.epoch('arrived_at')} AS a,
                     {sql.epoch('acked_at')} AS k, {sql.epoch('left_at')} AS l
              FROM spans WHERE arrived_at >= :start AND arrived_at < :end),
        y AS (SELECT level, fcr, {sql.epoch('created_at')} AS a, {sql.epoch('resolved_at')} AS z FROM rt)
        {percentiles(values)}""", window)
    result: dict[str, dict] = {}
    for group, n, p50, p90, mean in rows:
        metric, _, key = group.partition("|")
        result.setdefault(metric, {})[key] = (int(n), _num(p50), _num(p90), _num(mean))
    return result


def arrivals_by_level(session: Session, window: Range) -> dict[str, int]:
    rows = run(session, f"""SELECT to_level, COUNT(*) FROM ticket_events
        WHERE kind IN {ARRIVALS} AND at >= :start AND at < :end GROUP BY to_level""", window)
    return {level: int(n) for level, n in rows if level}


def _num(value) -> float | None:
    return None if value is None else round(float(value), 3)
