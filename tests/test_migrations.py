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
