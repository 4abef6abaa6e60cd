"""Prevention analysis: what keeps causing escalations and what would stop them.
Over the tickets resolved in the range (their resolution fields), and for the tier
skill gap over the escalations made in the range. Grouped in the database; ticket keys
come back joined per group."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.policy import Policy
from bot.quality.metrics_outcomes import resolved_cte
from bot.quality.metrics_sql import Range, Sql, run
from bot.quality.metrics_timing import ARRIVALS

TOP = 10
KEYS_SHOWN = 20
QUICK_SECONDS = 3600  # the next level resolved it within an hour: the skill gap
AUTOMATION_MIN = 3  # the same root cause and article this often: worth automating


def prevention(session: Session, sql: Sql, policy: Policy, window: Range) -> dict:
    keys = sql.keys("id")
    rows = run(session, f"""WITH {resolved_cte(policy)}
        SELECT 'cause' AS what, COALESCE(root_cause, '') AS a, '' AS b, COUNT(*) AS n, 0 AS money, '' AS ids
          FROM rt GROUP BY root_cause
        UNION ALL
        SELECT 'kb_gap', COALESCE(kb_article, ''), '', COUNT(*), 0, {keys}
          FROM rt WHERE kb_gap GROUP BY kb_article
        UNION ALL
        SELECT 'training', level, training_need, COUNT(*), 0, {keys}
          FROM rt WHERE training_need IS NOT NULL AND training_need <> '' GROUP BY level, training_need
        UNION ALL
        SELECT 'product', product_link, '', COUNT(*), COALESCE(SUM(revenue_at_risk), 0), {keys}
          FROM rt WHERE product_link IS NOT NULL AND product_link <> '' GROUP BY product_link
        UNION ALL
        SELECT 'automation', COALESCE(root_cause, ''), kb_article, COUNT(*), 0, {keys}
          FROM rt WHERE kb_article IS NOT NULL AND kb_article <> '' GROUP BY root_cause, kb_article
          HAVING COUNT(*) >= {AUTOMATION_MIN}""", window)
    out: dict[str, list] = {"top_root_causes": [], "kb_gaps": [], "training_needs": [], "product_inputs": [],
                            "automation": [], "skill_gap": _skill_gap(session, sql, window)}
    for what, a, b, n, money, ids in rows:
        n, tickets = int(n), _keys(ids)
        if what == "cause":
            out["top_root_causes"].append({"root_cause": a or "(none given)", "tickets": n})
        elif what == "kb_gap":
            out["kb_gaps"].append({"article": a or "(no article named)", "count": n, "tickets": tickets})
        elif what == "training":
            out["training_needs"].append({"level": a, "need": b, "count": n, "tickets": tickets})
        elif what == "product":
            out["product_inputs"].append({"link": a, "count": n, "revenue_at_risk": float(money or 0),
                                          "tickets": tickets})
        else:
            out["automation"].append({"root_cause": a or "(none given)", "article": b, "count": n,
                                      "tickets": tickets})
    for name, order in (("top_root_causes", "tickets"), ("kb_gaps", "count"), ("training_needs", "count"),
                        ("product_inputs", "revenue_at_risk"), ("automation", "count")):
        out[name] = sorted(out[name], key=lambda item: (-item[order], str(item)))[:TOP]
    return out


def _skill_gap(session: Session, sql: Sql, window: Range) -> list[dict]:
    """Escalations in the range whose next step was the new level resolving the ticket
    within QUICK_SECONDS: by the level it left, the trigger and the root cause."""
    rows = run(session, f"""WITH
        esc AS (SELECT DISTINCT ticket_id FROM ticket_events
                WHERE kind = 'escalated' AND at >= :start AND at < :end),
        steps AS (SELECT e.ticket_id AS id, e.kind, e.at, e.from_level, e.to_level, e.trigger,
                         LEAD(e.kind) OVER (PARTITION BY e.ticket_id ORDER BY e.id) AS next_kind,
                         LEAD(e.at) OVER (PARTITION BY e.ticket_id ORDER BY e.id) AS next_at
                  FROM esc CROSS JOIN ticket_events e
                  WHERE e.ticket_id = esc.ticket_id AND (e.kind IN {ARRIVALS} OR e.kind = 'resolved'))
        SELECT s.from_level, s.to_level, COALESCE(s.trigger, ''), COALESCE(t.root_cause, ''), COUNT(*),
               {sql.keys('s.id')}
        FROM steps s JOIN tickets t ON t.id = s.id
        WHERE s.kind = 'escalated' AND COALESCE(s.trigger, '') <> 'undo' AND s.at >= :start AND s.at < :end
              AND s.next_kind = 'resolved'
              AND {sql.epoch('s.next_at')} - {sql.epoch('s.at')} <= {QUICK_SECONDS}
        GROUP BY s.from_level, s.to_level, s.trigger, t.root_cause""", window)
    gaps = [{"from_level": a, "to_level": b, "trigger": c, "root_cause": d or "(none given)", "count": int(n),
             "tickets": _keys(ids)} for a, b, c, d, n, ids in rows]
    return sorted(gaps, key=lambda g: (-g["count"], g["from_level"], g["trigger"], g["root_cause"]))[:TOP]


def _keys(ids) -> list[str]:
    if not ids:
        return []
    numbers = sorted(int(i) for i in str(ids).split(",") if i)
    return [f"ESC-{n}" for n in numbers[:KEYS_SHOWN]]
