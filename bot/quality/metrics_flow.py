"""Volume and flow in the range, from the event log: tickets opened by severity,
arrivals per level (and per week), escalations by level, trigger and whether the bot
or a person decided, de-escalations and undos. One statement, grouped in the database."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.policy import Policy
from bot.quality.metrics_sql import Range, Sql, case_map, run
from bot.quality.metrics_timing import ARRIVALS

# Escalations the bot decided: the time limit (no actor), the criteria matrix and a raised
# severity (bot.facts / bot.desk record these triggers; a person only changed the facts).
AUTOMATIC = "(e.actor_id IS NULL OR e.trigger IN ('criteria', 'severity_raised', 'time_limit'))"
WEEK = 7 * 24 * 3600
# which criterion: the matrix's escalations record the rules that fired in their reason
# ("criteria matrix: Impact: Multiple users (Tier 1 → Tier 2)", bot.desk / bot.facts)
CRITERION = "(CASE WHEN e.trigger = 'criteria' THEN COALESCE(e.reason, '') ELSE '' END)"


def flow(session: Session, sql: Sql, policy: Policy, window: Range) -> dict:
    entry = case_map("t.severity", {key: sev.entry for key, sev in policy.severities.items()})
    week = f"CAST(({sql.epoch('e.at')} - {window.start.timestamp()}) / {WEEK} AS INTEGER)"
    if sql.dialect == "postgresql":
        week = f"CAST(FLOOR(({sql.epoch('e.at')} - {window.start.timestamp()}) / {WEEK}) AS INTEGER)"
    rows = run(session, f"""
        SELECT 'opened' AS what, t.severity AS a, '' AS b, '' AS c, 0 AS d, '' AS why, COUNT(*) AS n
          FROM tickets t WHERE t.created_at >= :start AND t.created_at < :end GROUP BY t.severity
        UNION ALL
        SELECT 'arrived', e.to_level, '', '', {week}, '', COUNT(*)
          FROM ticket_events e WHERE e.kind IN {ARRIVALS} AND e.at >= :start AND e.at < :end
          GROUP BY e.to_level, {week}
        UNION ALL
        SELECT 'escalated', e.from_level, e.to_level, COALESCE(e.trigger, ''),
               CASE WHEN {AUTOMATIC} THEN 1 ELSE 0 END, {CRITERION}, COUNT(*)
          FROM ticket_events e
          WHERE e.kind = 'escalated' AND COALESCE(e.trigger, '') <> 'undo' AND e.at >= :start AND e.at < :end
          GROUP BY e.from_level, e.to_level, e.trigger, CASE WHEN {AUTOMATIC} THEN 1 ELSE 0 END, {CRITERION}
        UNION ALL
        SELECT 'escalated', o.entry, o.to_level, 'criteria', 1, COALESCE(o.reason, ''), COUNT(*)
          FROM (SELECT e.to_level, e.reason,
                       (SELECT {entry} FROM tickets t WHERE t.id = e.ticket_id) AS entry
                FROM ticket_events e WHERE e.kind = 'opened' AND e.at >= :start AND e.at < :end) o
          WHERE o.to_level <> o.entry
          GROUP BY o.entry, o.to_level, o.reason
        UNION ALL
        SELECT CASE WHEN e.kind = 'deescalated' THEN 'deescalated' ELSE 'undo' END, e.from_level, e.to_level,
               COALESCE(e.trigger, ''), 0, '', COUNT(*)
          FROM ticket_events e
          WHERE (e.kind = 'deescalated' OR (e.kind = 'escalated' AND e.trigger = 'undo'))
                AND e.at >= :start AND e.at < :end
          GROUP BY e.kind, e.from_level, e.to_level, e.trigger""", window)
    out: dict = {"opened": {}, "arrived": {}, "weekly": {}, "escalations": [], "deescalated": 0, "undos": 0,
                 "deescalations": []}
    for what, a, b, c, d, why, n in rows:
        n = int(n)
        if what == "opened":
            out["opened"][a] = n
        elif what == "arrived":
            out["arrived"][a] = out["arrived"].get(a, 0) + n
            out["weekly"].setdefault(int(d), {})[a] = n
        elif what == "escalated":
            out["escalations"].append({"from": a, "to": b, "trigger": c, "automatic": bool(d), "criterion": why,
                                       "count": n})
        elif what == "deescalated":
            out["deescalated"] += n
            out["deescalations"].append({"from": a, "to": b, "trigger": c, "count": n})
        else:
            out["undos"] += n
    return out
