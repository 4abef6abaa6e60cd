"""A database for one benchmark run: a temp SQLite file, or a fresh PostgreSQL schema
that is dropped at close(), so runs never collide or leave data behind."""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


class ScratchDatabase:
    def __init__(self, url: str | None = None, prefix: str = "escalator-bench-"):
        self._tmp = None
        self._admin = None
        self.schema = None
        if not url or url == "sqlite":
            self._tmp = tempfile.TemporaryDirectory(prefix=prefix)
            self.url, self.label = f"sqlite:///{Path(self._tmp.name) / 'bench.db'}", "SQLite (temp file)"
            return
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        if not url.startswith("postgresql"):
            self.url, self.label = url, url
            return
        self.schema = f"bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self._admin = create_engine(url)
        with self._admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        self.url = make_url(url).update_query_dict({"options": f"-csearch_path={self.schema}"}).render_as_string(
            hide_password=False)
        self.label = f"PostgreSQL (schema {self.schema}, dropped afterwards)"

    def close(self) -> None:
        if self._admin is not None:
            with self._admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            self._admin.dispose()
        if self._tmp is not None:
            self._tmp.cleanup()
