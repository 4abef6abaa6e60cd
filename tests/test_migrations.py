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
