"""Alembic migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from helpdesk_retain.db import make_engine
from helpdesk_retain.models import metadata
from helpdesk_retain.schema import migrate


def test_migrations_produce_exactly_the_models_schema(empty_db_url: str):
    engine = make_engine(empty_db_url)
    try:
        migrate(engine)
        migrate(engine)  # a database at head is left alone
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diff == []
    finally:
        engine.dispose()
