"""Alembic migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, insert, text

from helpdesk_retain.db import make_engine
from helpdesk_retain.models import Ticket, include_object, metadata
from helpdesk_retain.schema import alembic_config, migrate
from helpdesk_retain.web.tickets import trigram_query

INITIAL = "ada7f619dc5f"
AT = datetime(2026, 11, 20, 9, tzinfo=UTC)


def test_migrations_produce_exactly_the_models_schema(empty_db_url: str):
    engine = make_engine(empty_db_url)
    try:
        migrate(engine)
        migrate(engine)  # a database at head is left alone
        with engine.connect() as conn:
            # the ticket text index is left out (models/search.py): the next tests hold it to the models
            opts = {"compare_type": True, "include_object": include_object}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
        assert diff == []
    finally:
        engine.dispose()


def search_objects(conn: Connection) -> list[tuple[str, ...]]:
    """The text index's objects as the database describes them (FTS5 table and triggers; trigram indexes),
    with the schema's name taken out."""
    if conn.dialect.name == "sqlite":
        sql = "SELECT type, name, sql FROM sqlite_master WHERE name LIKE 'tickets_fts%' ORDER BY name"
        return [tuple(row) for row in conn.execute(text(sql))]
    sql = "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%trgm' AND schemaname = current_schema()"
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return [(name, ddl.replace(f"{schema}.", "")) for name, ddl in conn.execute(text(sql + " ORDER BY indexname"))]


def made_by_create_all(engine: Engine, tmp_path: Path) -> list[tuple[str, ...]]:
    """``search_objects`` of an empty database (SQLite) or schema (PostgreSQL) after ``metadata.create_all``."""
    if engine.dialect.name == "sqlite":
        other = create_engine(f"sqlite:///{tmp_path / 'created.db'}")
        metadata.create_all(other)
        with other.connect() as conn:
            made = search_objects(conn)
        other.dispose()
        return made
    schema = f"c_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(text(f'SET LOCAL search_path = "{schema}"'))
        metadata.create_all(conn)
        made = search_objects(conn)
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    return made


def add_ticket(engine: Engine, n: int, subject: str) -> None:
    row = {"source": "generic", "external_id": f"T-{n}", "subject": subject, "description": "", "status": "open",
           "tags": [], "custom_fields": {}, "created_at": AT, "updated_at": AT, "first_seen_at": AT}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Ticket.__table__), row)


def candidates(engine: Engine, word: str) -> list[int]:
    """Ticket ids the text index offers for ``word`` (its own query, without the LIKE that confirms them)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            query = {"q": trigram_query(word)}
            found = conn.execute(text("SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH :q"), query)
        else:
            conn.execute(text("SET enable_seqscan = off"))  # a handful of rows: make the planner take the index
            found = conn.execute(text("SELECT id FROM tickets WHERE subject ILIKE :q"), {"q": f"%{word}%"})
        return sorted(found.scalars())


def test_the_migration_and_create_all_make_the_same_text_index(empty_db_url: str, tmp_path: Path):
    engine = make_engine(empty_db_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            migrated = search_objects(conn)
        assert migrated == made_by_create_all(engine, tmp_path)
        # SQLite: the FTS5 table, its three shadow tables and three triggers; PostgreSQL: two GIN indexes
        assert len(migrated) == (7 if engine.dialect.name == "sqlite" else 2)
    finally:
        engine.dispose()


def test_the_migration_indexes_the_tickets_already_stored(empty_db_url: str):
    engine = make_engine(empty_db_url)
    try:
        migrate(engine, INITIAL)
        add_ticket(engine, 1, "Refund for the annual plan")
        add_ticket(engine, 2, "退款申请：重复扣费")
        migrate(engine)
        add_ticket(engine, 3, "Another refund")
        assert candidates(engine, "REFUND") == [1, 3]
        assert candidates(engine, "退款申请") == [2]
        assert candidates(engine, "nothing like it") == []
    finally:
        engine.dispose()


def test_the_text_index_revision_downgrades_and_upgrades_again(empty_db_url: str):
    engine = make_engine(empty_db_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, INITIAL)
            assert search_objects(conn) == []
        migrate(engine)
        add_ticket(engine, 1, "Refund for the annual plan")
        assert candidates(engine, "refund") == [1]
    finally:
        engine.dispose()
