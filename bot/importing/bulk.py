"""Writing many rows at once: COPY on PostgreSQL (an INSERT of thousands of rows spends
most of its time in the driver's placeholder handling), executemany on SQLite. Ticket
ids are taken up front, so the events can name their tickets without a RETURNING."""
from __future__ import annotations

import json

from sqlalchemy import JSON, Table, func, insert, select, text
from sqlalchemy.orm import Session

from bot.models import UTCDateTime


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """count fresh primary keys of `table` (an integer id column)."""
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                                         "FROM generate_series(1, :count)"), {"count": count}))
    # SQLite: this transaction holds the database's write lock (BEGIN IMMEDIATE), so no one else takes these
    start = (session.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(start, start + count))


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    columns = [column for column in table.columns if column.key in rows[0]]
    convert = [_converter(column) for column in columns]
    names = ", ".join(f'"{column.name}"' for column in columns)
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([fn(row[column.key]) for column, fn in zip(columns, convert)])


def _converter(column):
    if isinstance(column.type, UTCDateTime):
        return lambda value: None if value is None else column.type.process_bind_param(value, None)
    if isinstance(column.type, JSON):
        return lambda value: None if value is None else json.dumps(value)
    return lambda value: value
