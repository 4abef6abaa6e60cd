"""Engine, sessions and migrations for SQLite (one process) and PostgreSQL (many)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bot.sqlite_writer import writer_for

# Any constant works; it only has to be the same in every escalator process.
_MIGRATION_LOCK_ID = 7_420_120_001
_WRITE_OPTION = "escalator_writes"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _serialize_sqlite_writes(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_memory_engine() -> Engine:
    """An isolated database in this process's memory, with the same write rules as a
    file: simulations (`policy test`, `simulate`) run the desk on it, so they can never
    touch the live database. One connection shared by every session (StaticPool), as an
    in-memory SQLite database lives and dies with its connection."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    _serialize_sqlite_writes(engine)
    return engine


def _serialize_sqlite_writes(engine: Engine) -> None:
    """SQLite has no row locks: a write transaction takes the write lock when it
    begins (BEGIN IMMEDIATE), so read-then-write sequences can't interleave; reads
    begin deferred and don't block anyone (WAL)."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        writes = connection.get_execution_options().get(_WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work that writes: committed (durably) when the block ends, rolled back
    on any error. On SQLite, units of this process take turns and commit in groups
    (bot.sqlite_writer); PostgreSQL runs them side by side, each with its own commit."""
    engine = sessions.kw.get("bind")
    if engine is not None and engine.dialect.name == "sqlite":
        with writer_for(engine, _WRITE_OPTION).unit(sessions) as session:
            yield session
        return
    with sessions.begin() as session:
        yield session


def alembic_config(engine_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "bot:migrations")
    config.set_main_option("sqlalchemy.url", engine_url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Apply pending migrations; concurrent starts wait for each other (PostgreSQL: an
    advisory lock; SQLite: the write lock taken as the upgrade begins, as a read that turned
    into a write would be refused outright once another process had migrated)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect().execution_options(**{_WRITE_OPTION: True}) as connection:
        is_postgres = connection.dialect.name == "postgresql"
        is_sqlite = connection.dialect.name == "sqlite"
        if is_postgres:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            connection.commit()
        if is_sqlite:
            # SQLite's batch migrations rebuild a table (copy, drop, rename): with foreign keys on,
            # dropping `tickets` fails while events point at it. The pragma only works outside a
            # transaction, so it goes straight to the driver, before BEGIN; the keys are checked
            # before the commit instead.
            _sqlite_foreign_keys(connection, False)
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            if is_sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                raise RuntimeError("the migrations left rows whose foreign keys point nowhere; nothing was changed")
            connection.commit()
        finally:
            if is_postgres:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
                connection.commit()
            if is_sqlite:
                connection.rollback()  # (after a failure) the pragma, too, must run outside a transaction
                _sqlite_foreign_keys(connection, True)


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def locked_row(session: Session, model, key, **initial):
    """The row of `model` with primary key `key`, locked for this transaction (FOR UPDATE
    on PostgreSQL; SQLite's write lock is already held); created with `initial` on first
    use, by whichever process gets there first."""
    row = session.get(model, key, with_for_update=True, populate_existing=True)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(model(**initial))
    except IntegrityError:  # another process created it first
        pass
    return session.get(model, key, with_for_update=True, populate_existing=True)
