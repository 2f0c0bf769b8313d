"""Small dialect-aware SQL helpers (SQLite and PostgreSQL)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert


@cache
def _insert_ignore_statement(dialect_name: str, table: Table, conflict: tuple[str, ...]) -> Insert:
    # built once per (dialect, table, conflict target); values travel as bind parameters, so the hot
    # path neither rebuilds the statement nor recomputes its cache key
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=list(conflict)).returning(table.c.id)


def insert_ignore(session: Session, table: Table, values: dict[str, Any], conflict: list[str]) -> int | None:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING RETURNING id: the new id, or None if the row existed.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and then returns
    None, so the unique constraint (not a check-then-insert) decides who wins a race.
    """
    # a Core statement on the session's connection: no ORM execution layer and no autoflush (hot path of
    # ingest). Pending ORM changes flush later, at the next ORM query or the commit: callers whose row could
    # conflict with such a change flush first (see ``ingest._get_or_create_customer``).
    connection = session.connection()
    stmt = _insert_ignore_statement(connection.dialect.name, table, tuple(conflict))
    return connection.execute(stmt, values).scalar_one_or_none()
