"""How long things took: time to acknowledge and time spent per level (for the stays
that began in the range), and resolution time by the level that resolved (for the
tickets resolved in the range), split FCR vs escalated too. One statement; the database
computes every duration (business time through bot.quality.metrics_business_time) and
its median and p90, from the stays (bot.quality.stays) and the resolved tickets."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.policy import Policy
from bot.quality.metrics_business_time import BusinessClock
from bot.quality.metrics_outcomes import resolved_cte
from bot.quality import stays
from bot.quality.metrics_sql import Range, Sql, percentiles, run

ARRIVALS = stays.ARRIVALS_SQL

# A stay is a ticket's time at one level: from an arrival (opened, escalated,
# de-escalated, reopened) until the next arrival or its resolution (bot.quality.stays).
STAYS_CTE = """
    spans AS (SELECT ticket_id, level, arrived_at, acknowledged_at AS acked_at, left_at
              FROM ticket_stays WHERE arrived_at >= :start AND arrived_at < :end)"""


def timing(session: Session, sql: Sql, policy: Policy, clock: BusinessClock, window: Range, *,
           detail: bool = True) -> dict:
    """{"acknowledge_all"|"resolution_all": {"*": (n, p50, p90, mean)}, and with `detail`
    "acknowledge"|"in_level"|"resolution": {level: …}, "resolution_fcr"|"resolution_escalated": {"all": …}},
    in seconds."""
    ack_joins, ack = clock.duration("sa", "sa.a", "sa.k", "sa.cal")
    stay_joins, stay = clock.duration("sl", "sl.a", "sl.l", "sl.cal")
    res_joins, resolution = clock.duration("r", "r.a", "r.z", "0")
    headline = [  # the overall figures (`/escalate stats`)
        f"SELECT 'acknowledge_all|*' AS grp, {ack} AS v FROM x sa {ack_joins} WHERE sa.k IS NOT NULL",
        f"SELECT 'resolution_all|*' AS grp, {resolution} AS v FROM y r {res_joins}"]
    by_level = [
        f"SELECT 'acknowledge|' || sa.level AS grp, {ack} AS v FROM x sa {ack_joins} WHERE sa.k IS NOT NULL",
        f"SELECT 'in_level|' || sl.level AS grp, {stay} AS v FROM x sl {stay_joins} WHERE sl.l IS NOT NULL",
        f"""SELECT CASE WHEN r.fcr = 1 THEN 'resolution_fcr|all' ELSE 'resolution_escalated|all' END AS grp,
                   {resolution} AS v FROM y r {res_joins}""",
        f"SELECT 'resolution|' || r.level AS grp, {resolution} AS v FROM y r {res_joins}"]
    values = "\n        UNION ALL\n        ".join(headline + (by_level if detail else []))
    rows = run(session, f"""WITH {clock.cte()} {STAYS_CTE}, {resolved_cte(policy)},
        x AS (SELECT level, {clock.calendar_of('level')} AS cal, {sql.epoch('arrived_at')} AS a,
                     {sql.epoch('acked_at')} AS k, {sql.epoch('left_at')} AS l
              FROM spans),
        -- the headline's resolution time needs no history (rt's stays): every ticket has some
        y AS (SELECT level, {'fcr' if detail else '0 AS fcr'}, {sql.epoch('created_at')} AS a,
                     {sql.epoch('resolved_at')} AS z FROM {'rt' if detail else 'res'})
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
