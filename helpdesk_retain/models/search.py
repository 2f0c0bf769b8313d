"""The ticket text index behind ``/tickets?q=``: it narrows the tickets a search must read, nothing more.

A search is a case-insensitive substring match on subject or description (``web.tickets.contains``: ILIKE on
PostgreSQL, SQLite's ASCII-case-insensitive LIKE). The index only finds candidates; that same match then
decides, so what a search finds does not depend on the index, only how fast it is found.

- **SQLite**: ``tickets_fts``, an FTS5 table over ``tickets`` (external content: it keeps no copy of the text)
  with the trigram tokenizer (case folded), ``detail=none`` (no positions: about an eighth of the size, and a
  ticket is a candidate when it holds every trigram of the query) and ``columnsize=0``. Triggers keep it
  current: on insert, on delete, and on an update of subject or description that changes either, so the
  webhooks that only move status or time (most of them) write nothing to it.
- **PostgreSQL**: GIN trigram indexes (``pg_trgm``) on subject and description, which serve ``ILIKE '%q%'``
  themselves. The extension goes into ``public`` when it can (shared by every schema of the database, so a
  schema dropped with CASCADE never takes it from the others), else into the current schema; where it cannot
  be created at all, a warning is logged and search reads every ticket, as without the index.

A query shorter than three characters has no trigram (a two-character Chinese word, say): it is answered by
reading the tickets, as before. Both ``metadata.create_all`` (the ``after_create`` hook below) and the
migration that introduced the index create the same objects; the migration also fills it from existing rows.
Alembic's comparison leaves these objects out (``include_object``): it cannot express them.

Beware: a SQLite batch migration that recreates ``tickets`` (copy, drop, rename) drops its triggers; such a
migration must run ``install`` afterwards, and ``rebuild``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event, text

from .core import Ticket

FTS_TABLE = "tickets_fts"
TRIGRAM_INDEXES = ("ix_tickets_subject_trgm", "ix_tickets_description_trgm")

_FTS_ROW = "(rowid, subject, description) VALUES (new.id, new.subject, new.description)"
_FTS_DELETE = "(tickets_fts, rowid, subject, description) VALUES ('delete', old.id, old.subject, old.description)"
SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS tickets_fts USING fts5(subject, description, content='tickets', "
    "content_rowid='id', tokenize='trigram', detail=none, columnsize=0)",
    f"CREATE TRIGGER IF NOT EXISTS tickets_fts_insert AFTER INSERT ON tickets BEGIN "
    f"INSERT INTO tickets_fts{_FTS_ROW}; END",
    f"CREATE TRIGGER IF NOT EXISTS tickets_fts_delete AFTER DELETE ON tickets BEGIN "
    f"INSERT INTO tickets_fts{_FTS_DELETE}; END",
    f"CREATE TRIGGER IF NOT EXISTS tickets_fts_update AFTER UPDATE OF subject, description ON tickets "
    f"WHEN old.subject IS NOT new.subject OR old.description IS NOT new.description BEGIN "
    f"INSERT INTO tickets_fts{_FTS_DELETE}; INSERT INTO tickets_fts{_FTS_ROW}; END",
)
SQLITE_REBUILD = "INSERT INTO tickets_fts(tickets_fts) VALUES ('rebuild')"

# No percent signs or colons: the text goes through DBAPI and SQLAlchemy parameter parsing unchanged.
POSTGRESQL_DDL = """
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


def install(connection: Connection, *, rebuild: bool = False) -> None:
    """Create the index for ``connection``'s backend (idempotent); ``rebuild`` fills the SQLite table from
    the tickets already stored (PostgreSQL indexes are built from the rows when created)."""
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_DDL:
            connection.execute(text(statement))
        if rebuild:
            connection.execute(text(SQLITE_REBUILD))
    elif connection.dialect.name == "postgresql":
        connection.execute(text(POSTGRESQL_DDL))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: leave the text index out of autogenerate and schema comparisons (FTS5 and its shadow
    tables, the trigram indexes); see the module docstring."""
    if type_ == "table" and name is not None and (name == FTS_TABLE or name.startswith(f"{FTS_TABLE}_")):
        return False
    return not (type_ == "index" and name in TRIGRAM_INDEXES)


@event.listens_for(Ticket.__table__, "after_create")
def _create(target: Any, connection: Connection, **kw: Any) -> None:
    install(connection)


@event.listens_for(Ticket.__table__, "before_drop")
def _drop(target: Any, connection: Connection, **kw: Any) -> None:
    if connection.dialect.name == "sqlite":  # dropping tickets drops its triggers and PostgreSQL's indexes
        connection.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))
