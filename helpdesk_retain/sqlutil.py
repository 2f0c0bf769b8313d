"""Small dialect-aware SQL helpers (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(session: Session, table: Table, values: dict[str, Any], conflict: list[str]) -> int | None:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING RETURNING id: the new id, or None if the row existed.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and then returns
    None, so the unique constraint (not a check-then-insert) decides who wins a race.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict).returning(table.c.id)
    return session.execute(stmt).scalar_one_or_none()
