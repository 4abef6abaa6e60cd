"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL:
a column added to a model without its migration fails here, not in production."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.db import make_engine, upgrade
from bot.models import Base


def test_migrations_match_the_models(database_url):
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_two_processes_upgrading_a_new_sqlite_file_at_once_both_succeed(tmp_path):
    """Two processes starting together on a new SQLite file (serve and a report, a restart
    overlapping a deploy): one migrates, the other waits and finds it up to date. Each
    pair ran side by side used to end in "database is locked" or "table … already exists"
    for one of them, about every other time."""
    import os
    import subprocess
    import sys

    for round_ in range(4):
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / f'new{round_}.db'}"}
        upgrades = [subprocess.Popen([sys.executable, "-m", "bot.cli", "db", "upgrade"], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
        outputs = [upgrade.communicate(timeout=120)[0] for upgrade in upgrades]
        assert [upgrade.returncode for upgrade in upgrades] == [0, 0], outputs
        assert all("up to date" in output for output in outputs)


def test_nobody_sees_a_sqlite_database_half_upgraded(tmp_path):
    """The upgrade is one transaction on SQLite too: a process reading the file meanwhile
    (serve beside `escalator db upgrade`) sees the old schema or the new one, never a state
    between two migrations."""
    import sqlite3
    import threading

    from alembic.script import ScriptDirectory

    from bot.db import alembic_config

    url = f"sqlite:///{tmp_path / 'watched.db'}"
    engine = make_engine(url)
    with engine.connect():
        pass  # the file exists, in WAL mode, before anyone watches it
    seen, done = set(), threading.Event()

    def watch():
        reader = sqlite3.connect(tmp_path / "watched.db")
        while not done.is_set():
            try:
                seen.update(row[0] for row in reader.execute("SELECT version_num FROM alembic_version"))
            except sqlite3.OperationalError:
                seen.add(None)  # no version table yet
        reader.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        upgrade(engine)
    finally:
        done.set()
        watcher.join()
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert seen <= {None, head}
    with sqlite3.connect(tmp_path / "watched.db") as reader:
        assert reader.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]


def test_an_sqlite_database_with_tickets_from_an_early_version_upgrades_keeping_them(tmp_path):
    """Migrations that rebuild the tickets table on SQLite (batch mode: copy, drop, rename)
    must not trip over the rows that reference it: a team on SQLite since 0002 upgrades
    with its tickets and their history intact."""
    import sqlite3

    from alembic import command

    from bot.db import alembic_config

    url = f"sqlite:///{tmp_path / 'early.db'}"
    config = alembic_config(url)
    engine = make_engine(url)
    with engine.connect().execution_options(escalator_writes=True) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.commit()
    engine.dispose()
    with sqlite3.connect(tmp_path / "early.db") as db:  # one ticket and its opening, as 0002 stored them
        for table, given in (("tickets", {"id": 1, "status": "open", "level": "tier1", "severity": "P2"}),
                             ("ticket_events", {"ticket_id": 1, "kind": "opened", "to_level": "tier1"})):
            columns = {name: _filler(kind) for _, name, kind, notnull, default, pk in
                       db.execute(f"PRAGMA table_info({table})") if notnull and default is None and not pk}
            row = {**columns, **given}
            db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                       list(row.values()))

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    with sqlite3.connect(tmp_path / "early.db") as db:
        assert db.execute("SELECT count(*) FROM tickets").fetchone() == (1,)
        assert db.execute("SELECT kind FROM ticket_events WHERE ticket_id = 1").fetchall() == [("opened",)]
        assert db.execute("SELECT level FROM ticket_stays WHERE ticket_id = 1").fetchall() == [("tier1",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def _filler(kind: str):
    kind = kind.upper()
    if "INT" in kind or "BOOL" in kind or "NUMERIC" in kind:
        return 0
    if "DATE" in kind or "TIME" in kind:
        return "2026-11-02 09:00:00.000000"
    return "x" if "JSON" not in kind else "{}"
