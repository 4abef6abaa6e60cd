"""Fixtures: a database per test (SQLite file, or a PostgreSQL schema of this run),
the Slack simulator, and the real bot served over HTTP against it."""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.harness import Harness

PG_ENV = "ESCALATOR_TEST_DATABASE_URL"
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


def pytest_report_header(config):
    url = os.environ.get(PG_ENV)
    return f"PostgreSQL tests: {'on ' + make_url(url).render_as_string() if url else 'skipped (' + PG_ENV + ' not set)'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'escalator.db'}"
        return
    yield from postgres_schema_url()


def postgres_schema_url():
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set; PostgreSQL tests skipped")
    schema = f"esc_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'escalator.db'}"


@pytest.fixture
def harness(database_url):
    with Harness(database_url) as running:
        yield running


@pytest.fixture
def sqlite_harness(sqlite_url):
    """For behaviour that doesn't depend on the database (Slack faults, grammar)."""
    with Harness(sqlite_url) as running:
        yield running
