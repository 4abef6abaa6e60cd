"""Stays: a ticket's time at one level, kept as rows beside the event log.

A stay begins at an arrival (opened, escalated, de-escalated, reopened) and ends at its
first resolution or at the next arrival; its acknowledgment is the first one in it. The
quality metrics (time to acknowledge, time in level, handoffs, FCR) read stays by their
arrival time. Deriving them from the events at read time meant a window over every
event of every ticket in the range, most of the cost of `/escalate stats` at 100k tickets
(bench/report.py).

Two writers, one definition (tests/test_stays.py holds them to the same rows):
  * `follow`: bot.history calls it with every event it appends, in the change's own
    transaction, under the ticket's row lock like the event itself (without it, on
    PostgreSQL, two arrivals at once would each leave the other's stay open);
  * `rebuild`: the same definition in one SQL statement over the events, for bulk
    writers that insert events directly (sample data, import).
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, bindparam, delete, func, insert, select, text, update

from bot.models import TicketStay

ARRIVALS = ("opened", "escalated", "deescalated", "reopened")
KINDS = (*ARRIVALS, "acknowledged", "resolved")  # the events a stay is made of

_stays = TicketStay.__table__
_ticket = bindparam("s_ticket")
_at = bindparam("s_at", type_=_stays.c.arrived_at.type)
_earlier = _stays.alias("earlier")  # not correlated with the updated table
_last = select(func.max(_earlier.c.stay)).where(_earlier.c.ticket_id == _ticket).scalar_subquery()
# the open stay ends where the next begins (a resolved one keeps its resolution time)
_CLOSE = update(_stays).where(_stays.c.ticket_id == _ticket, _stays.c.left_at.is_(None)).values(left_at=_at)
_OPEN = insert(_stays).from_select(
    ["ticket_id", "stay", "level", "arrived_by", "arrived_at", "resolutions"],
    select(_ticket, func.coalesce(func.max(_stays.c.stay), 0) + 1, bindparam("s_level"), bindparam("s_kind"),
           _at, 0).where(_stays.c.ticket_id == _ticket))
_ACKNOWLEDGE = (update(_stays).where(_stays.c.ticket_id == _ticket, _stays.c.stay == _last,
                                     _stays.c.acknowledged_at.is_(None)).values(acknowledged_at=_at))
_RESOLVE = (update(_stays).where(_stays.c.ticket_id == _ticket, _stays.c.stay == _last)
            .values(left_at=func.coalesce(_stays.c.left_at, _at), resolutions=_stays.c.resolutions + 1))


def follow(connection: Connection, events: Iterable[dict]) -> None:
    """Keep the stays of the tickets of `events` (event rows as bot.history writes them:
    ticket_id, kind, to_level, at), in order."""
    acknowledged: list[dict] = []  # a run of acknowledgments (a batch): one statement
    for event in events:
        kind = event["kind"]
        if kind not in KINDS:
            continue
        params = {"s_ticket": event["ticket_id"], "s_at": event["at"]}
        if kind == "acknowledged":
            acknowledged.append(params)
            continue
        _acknowledge(connection, acknowledged)
        if kind == "resolved":
            connection.execute(_RESOLVE, params)
            continue
        if kind != "opened":
            connection.execute(_CLOSE, params)
        connection.execute(_OPEN, {**params, "s_level": event["to_level"], "s_kind": kind})
    _acknowledge(connection, acknowledged)


def _acknowledge(connection: Connection, acknowledged: list[dict]) -> None:
    if acknowledged:
        connection.execute(_ACKNOWLEDGE, list(acknowledged))
        acknowledged.clear()


ARRIVALS_SQL = "(" + ", ".join(f"'{kind}'" for kind in ARRIVALS) + ")"
_KINDS_SQL = "(" + ", ".join(f"'{kind}'" for kind in KINDS) + ")"
_COLUMNS = "ticket_id, stay, level, arrived_by, arrived_at, acknowledged_at, left_at, resolutions"
# The definition follow() keeps, as one query over the events of the tickets :ids.
_DEFINED = f"""
    WITH ev AS (SELECT e.ticket_id, e.kind, e.at, e.to_level,
                       SUM(CASE WHEN e.kind IN {ARRIVALS_SQL} THEN 1 ELSE 0 END)
                           OVER (PARTITION BY e.ticket_id ORDER BY e.id ROWS UNBOUNDED PRECEDING) AS stay
                FROM ticket_events e WHERE e.ticket_id IN :ids AND e.kind IN {_KINDS_SQL}),
         stays AS (SELECT ticket_id, stay,
                          MAX(CASE WHEN kind IN {ARRIVALS_SQL} THEN to_level END) AS level,
                          MAX(CASE WHEN kind IN {ARRIVALS_SQL} THEN kind END) AS arrived_by,
                          MIN(CASE WHEN kind IN {ARRIVALS_SQL} THEN at END) AS arrived_at,
                          MIN(CASE WHEN kind = 'acknowledged' THEN at END) AS acknowledged_at,
                          MIN(CASE WHEN kind = 'resolved' THEN at END) AS resolved_at,
                          SUM(CASE WHEN kind = 'resolved' THEN 1 ELSE 0 END) AS resolutions
                   FROM ev WHERE stay > 0 GROUP BY ticket_id, stay)
    SELECT ticket_id, stay, level, arrived_by, arrived_at, acknowledged_at,
           COALESCE(resolved_at, LEAD(arrived_at) OVER (PARTITION BY ticket_id ORDER BY stay)) AS left_at, resolutions
    FROM stays"""
_REBUILD = text(f"INSERT INTO ticket_stays ({_COLUMNS}) {_DEFINED}").bindparams(bindparam("ids", expanding=True))
_READ_DEFINED = (text(f"SELECT {_COLUMNS} FROM ({_DEFINED}) d ORDER BY ticket_id, stay")
                 .bindparams(bindparam("ids", expanding=True))
                 .columns(*(_stays.c[name] for name in _COLUMNS.split(", "))))  # typed: datetimes on SQLite too


def rebuild(connection: Connection, ticket_ids: list[int]) -> None:
    """Write the stays of these tickets afresh from their events (after a bulk insert of
    events that didn't pass through bot.history)."""
    if ticket_ids:
        connection.execute(delete(_stays).where(_stays.c.ticket_id.in_(ticket_ids)))
        connection.execute(_REBUILD, {"ids": ticket_ids})


def defined(connection: Connection, ticket_ids: list[int]) -> list[tuple]:
    """The stays the events of these tickets define, as rebuild() would write them (columns
    in _COLUMNS' order), read without writing: a check beside live writers takes no lock."""
    if not ticket_ids:
        return []
    return [tuple(row) for row in connection.execute(_READ_DEFINED, {"ids": ticket_ids})]
