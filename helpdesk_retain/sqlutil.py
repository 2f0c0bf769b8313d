"""Small dialect-aware SQL helpers (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import cache
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql import Executable
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


#: session.info keys of ``DeferredRows`` queues start with this
DEFERRED_PREFIX = "deferred:"


class DeferredRows:
    """Rows for one table, queued in a session and written together in one statement (executemany).

    Contract: queued rows are written before the session's next ORM statement that reads anything or writes this
    table (so every read in the transaction sees them and writes keep their order), before the session commits,
    and whenever ``flush`` is called; a rollback drops the rows queued inside the transaction or savepoint it
    ends. With ``key``, a later row replaces a queued one with the same key (an upsert's last write wins, and one
    multi-row upsert must not touch a row twice). ``statement(dialect name)`` builds the INSERT.

    For ingest hot paths: an import batch or a multi-event delivery then writes such rows once, not per event.
    """

    def __init__(
        self,
        table: Table,
        statement: Callable[[str], Executable],
        key: Callable[[dict[str, Any]], Hashable] | None = None,
    ) -> None:
        self.table, self.statement, self.key = table, statement, key
        self._info_key = f"{DEFERRED_PREFIX}{table.name}"
        # one object per hook, so ``event.contains`` recognises them on a session
        self._on_orm = self._before_orm_statement
        self._on_commit = self.flush
        self._on_rollback = self._forget

    def add(self, session: Session, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        queued: dict[Hashable, tuple[SessionTransaction, dict[str, Any]]] | None = session.info.get(self._info_key)
        if queued is None:
            queued = session.info[self._info_key] = {}
            if not event.contains(session, "before_commit", self._on_commit):
                event.listen(session, "do_orm_execute", self._on_orm)
                event.listen(session, "before_commit", self._on_commit)
                event.listen(session, "after_soft_rollback", self._on_rollback)
        # each row remembers the innermost transaction it was queued in, for ``_forget``
        current = session.get_nested_transaction() or session.get_transaction() or session.begin()
        for row in rows:
            queued.pop(k := (self.key(row) if self.key else object()), None)  # re-queued: moves to the end
            queued[k] = (current, row)

    def flush(self, session: Session) -> None:
        queued = session.info.pop(self._info_key, None)
        if queued:
            connection = session.connection()  # Core, no autoflush: the queued rows need no ORM state
            connection.execute(self.statement(connection.dialect.name), [row for _tx, row in queued.values()])

    def _before_orm_statement(self, state: ORMExecuteState) -> None:
        # an ORM statement names an annotated copy of the table: compare names
        written = getattr(getattr(state.statement, "table", None), "name", None)
        if state.is_select or written == self.table.name:
            self.flush(state.session)

    def _forget(self, session: Session, rolled_back: SessionTransaction) -> None:
        queued = session.info.get(self._info_key)
        if queued:
            for k in [k for k, (tx, _row) in queued.items() if _inside(tx, rolled_back)]:
                del queued[k]


def _inside(tx: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while tx is not None:
        if tx is outer:
            return True
        tx = tx.parent
    return False
