"""ticket text index, indexes for the dashboard

The text index for ``/tickets?q=`` (``helpdesk_retain.models.search``): on SQLite an FTS5 trigram table with its
triggers, filled from the tickets already stored; on PostgreSQL GIN trigram indexes (``pg_trgm``). The statements
are copied here, not imported, so this revision keeps creating what it created when the model changes later.
And the indexes the dashboard's overview, digest preview and at-risk list read (see the models' comments).

Revision ID: edebcfd41f26
Revises: ada7f619dc5f
Create Date: 2026-11-25 15:55:25.137155
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - autogenerate renders JSONB(astext_type=Text())

revision: str = "edebcfd41f26"
down_revision: str | None = "ada7f619dc5f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FTS_ROW = "(rowid, subject, description) VALUES (new.id, new.subject, new.description)"
_FTS_DELETE = "(tickets_fts, rowid, subject, description) VALUES ('delete', old.id, old.subject, old.description)"
SQLITE_UP = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS tickets_fts USING fts5(subject, description, content='tickets', "
    "content_rowid='id', tokenize='trigram', detail=none, columnsize=0)",
    f"CREATE TRIGGER IF NOT EXISTS tickets_fts_insert AFTER INSERT ON tickets BEGIN "
    f"INSERT INTO tickets_fts{_FTS_ROW}; END",
    f"CREATE TRIGGER IF NOT EXISTS tickets_fts_delete AFTER DELETE ON tickets BEGIN "
    f"INSERT INTO tickets_fts{_FTS_DELETE}; END",
    f"CREATE TRIGGER IF NOT EXISTS tickets_fts_update AFTER UPDATE OF subject, description ON tickets "
    f"WHEN old.subject IS NOT new.subject OR old.description IS NOT new.description BEGIN "
    f"INSERT INTO tickets_fts{_FTS_DELETE}; INSERT INTO tickets_fts{_FTS_ROW}; END",
    "INSERT INTO tickets_fts(tickets_fts) VALUES ('rebuild')",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS tickets_fts_update",
    "DROP TRIGGER IF EXISTS tickets_fts_delete",
    "DROP TRIGGER IF EXISTS tickets_fts_insert",
    "DROP TABLE IF EXISTS tickets_fts",
)
POSTGRESQL_UP = """
DO $$
DECLARE
    ops text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION pg_trgm SCHEMA public;
        EXCEPTION WHEN OTHERS THEN
            BEGIN
                CREATE EXTENSION IF NOT EXISTS pg_trgm;
            EXCEPTION WHEN OTHERS THEN
                RAISE WARNING USING MESSAGE = 'ticket search reads every ticket: pg_trgm cannot be created: '
                    || SQLERRM;
            END;
        END;
    END IF;
    SELECT quote_ident(n.nspname) || '.gin_trgm_ops' INTO ops
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF ops IS NOT NULL THEN
        EXECUTE 'CREATE INDEX IF NOT EXISTS ix_tickets_subject_trgm ON tickets USING gin (subject ' || ops || ')';
        EXECUTE 'CREATE INDEX IF NOT EXISTS ix_tickets_description_trgm ON tickets USING gin (description '
            || ops || ')';
    END IF;
END
$$
"""
POSTGRESQL_DOWN = (
    "DROP INDEX IF EXISTS ix_tickets_subject_trgm",
    "DROP INDEX IF EXISTS ix_tickets_description_trgm",
)


def upgrade() -> None:
    with op.batch_alter_table("complaint_states", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_states_complaint_at", ["complaint_at", "ticket_id"], unique=False)

    with op.batch_alter_table("tat_clocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tat_clocks_breached_ticket",
            ["breached_at", "ticket_id"],
            unique=False,
            sqlite_where=sa.text("state = 'breached'"),
            postgresql_where=sa.text("state = 'breached'"),
        )
        batch_op.create_index(
            "ix_tat_clocks_met",
            ["stopped_at"],
            unique=False,
            sqlite_where=sa.text("state = 'met'"),
            postgresql_where=sa.text("state = 'met'"),
        )

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_complaint_created",
            ["created_at", "id"],
            unique=False,
            sqlite_where=sa.text("is_complaint IS 1"),
            postgresql_where=sa.text("is_complaint IS true"),
        )
        batch_op.create_index("ix_tickets_id_customer", ["id", "customer_id", "is_complaint"], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in SQLITE_UP if dialect == "sqlite" else (POSTGRESQL_UP,) if dialect == "postgresql" else ():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRESQL_DOWN if dialect == "postgresql" else ():
        op.execute(statement)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_id_customer")
        batch_op.drop_index(
            "ix_tickets_complaint_created",
            sqlite_where=sa.text("is_complaint IS 1"),
            postgresql_where=sa.text("is_complaint IS true"),
        )

    with op.batch_alter_table("tat_clocks", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_tat_clocks_met", sqlite_where=sa.text("state = 'met'"), postgresql_where=sa.text("state = 'met'")
        )
        batch_op.drop_index(
            "ix_tat_clocks_breached_ticket",
            sqlite_where=sa.text("state = 'breached'"),
            postgresql_where=sa.text("state = 'breached'"),
        )

    with op.batch_alter_table("complaint_states", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_states_complaint_at")
