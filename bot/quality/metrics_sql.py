"""The SQL the metrics share, written once for SQLite and PostgreSQL.

Timestamps are stored as naive UTC (bot.models.UTCDateTime); `epoch()` turns a column
into seconds since 1970 on either database, so durations are subtractions.
Percentiles are nearest-rank (the smallest value with at least p of the values at or
below it), computed with window functions, which both databases have.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from bot.models import UTCDateTime


@dataclass(frozen=True)
class Range:
    """[start, end): aware datetimes."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Sql:
    dialect: str

    def epoch(self, expr: str) -> str:
        if self.dialect == "postgresql":
            return f"EXTRACT(EPOCH FROM {expr})"
        return f"((julianday({expr}) - 2440587.5) * 86400.0)"

    def hour(self, epoch_expr: str) -> str:
        """The UTC hour number of an epoch (a key into the business-time table)."""
        if self.dialect == "postgresql":
            return f"CAST(FLOOR(({epoch_expr}) / 3600) AS BIGINT)"
        return f"CAST(({epoch_expr}) / 3600 AS INTEGER)"

    def keys(self, expr: str) -> str:
        """Ticket ids of a group joined by commas (ordered: smallest first)."""
        if self.dialect == "postgresql":
            return f"STRING_AGG(CAST({expr} AS TEXT), ',' ORDER BY {expr})"
        return f"GROUP_CONCAT({expr}, ',')"


def sql_for(session: Session) -> Sql:
    """The dialect's SQL; on PostgreSQL, also sets this transaction up for the metrics'
    statements: without JIT (the planner's row estimates for the CTEs are far too high, and
    compiling the plan took 0.5 s of a 0.8 s statement at 100k tickets) and with the
    memory to sort a range's durations without spilling to disk."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '32MB'"))
    return Sql(dialect)


def run(session: Session, statement: str, window: Range, **params) -> list:
    """A statement whose :start and :end are the range (bound as stored: naive UTC)."""
    query = text(statement).bindparams(bindparam("start", type_=UTCDateTime),
                                       bindparam("end", type_=UTCDateTime))
    return list(session.execute(query, {"start": window.start, "end": window.end, **params}))


def percentiles(values_sql: str) -> str:
    """Per group: count, median and p90 of `values_sql` (columns grp, v), nearest rank."""
    return f"""
        SELECT grp, COUNT(*) AS n,
               MIN(CASE WHEN rn >= 0.5 * cnt THEN v END) AS p50,
               MIN(CASE WHEN rn >= 0.9 * cnt THEN v END) AS p90,
               AVG(v) AS mean
        FROM (SELECT grp, v, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY v) AS rn,
                     COUNT(*) OVER (PARTITION BY grp) AS cnt
              FROM ({values_sql}) AS vals WHERE v IS NOT NULL) AS ranked
        GROUP BY grp"""


def in_list(values) -> str:
    """A SQL list of policy-given keys (level and severity keys: letters, digits, _)."""
    safe = [v for v in values if v.replace("_", "").isalnum()]
    return "(" + ", ".join(f"'{v}'" for v in safe) + ")" if safe else "('')"


def case_map(column: str, mapping: dict[str, str | int], default: str = "NULL") -> str:
    """CASE column WHEN key THEN value … for policy-given keys."""
    whens = " ".join(f"WHEN '{k}' THEN {_literal(v)}" for k, v in mapping.items() if k.replace("_", "").isalnum())
    return f"(CASE {column} {whens} ELSE {default} END)" if whens else default


def _literal(value) -> str:
    if isinstance(value, int):
        return str(value)
    if not str(value).replace("_", "").isalnum():
        raise ValueError(f"not a policy key: {value!r}")
    return f"'{value}'"
