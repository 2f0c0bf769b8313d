"""Small dialect-aware SQL helpers (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable, Iterable
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Connection, Table, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction
from sqlalchemy.orm.state import InstanceState
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert


@cache
def insert_ignore_statement(
    dialect_name: str, table: Table, conflict: tuple[str, ...], *, returning: tuple[str, ...] = ("id",)
) -> Insert:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING [RETURNING ``returning``], built once per dialect, table, target
    and columns returned: values travel as bind parameters, so the hot path neither rebuilds it nor recomputes its
    cache key."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    return stmt.returning(*(table.c[name] for name in returning)) if returning else stmt


def insert_ignore(session: Session, table: Table, values: dict[str, Any], conflict: list[str]) -> int | None:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING RETURNING id: the new id, or None if the row existed.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and then returns
    None, so the unique constraint (not a check-then-insert) decides who wins a race.
    """
    # a Core statement on the session's connection: no ORM execution layer and no autoflush (hot path of
    # ingest). Pending ORM changes flush later, at the next ORM query or the commit: callers whose row could
    # conflict with such a change flush first (see ``ingest._get_or_create_customer``).
    connection = session.connection()
    stmt = insert_ignore_statement(connection.dialect.name, table, tuple(conflict))
    return connection.execute(stmt, values).scalar_one_or_none()


def insert_ignore_many(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    conflict: list[str],
    returning: tuple[str, ...] = ("id",),
) -> list[tuple[Any, ...]]:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING RETURNING ``returning`` of many rows (all with the same keys): a
    tuple per row that was new, in no particular order; rows that conflicted, with stored rows or with each other,
    return nothing. One executemany of a statement built once: SQLAlchemy sends it as multi-row INSERTs
    ("insertmanyvalues"), one round trip for up to a thousand rows."""
    if not rows:
        return []
    dialect = session.get_bind().dialect
    stmt = insert_ignore_statement(dialect.name, table, tuple(conflict), returning=returning)
    tail = _insert_tail(dialect, stmt) if _raw_results(dialect, table, returning) else None
    if tail is not None:
        before_write(session, table)  # what ``session.execute`` below would do first
        written = insert_multirow(session.connection(), table, rows, tail)
        if written is not None:
            return written
    # through the session (not its connection): queued rows (``DeferredRows``) these rows may reference are
    # written first
    return [tuple(row) for row in session.execute(stmt, rows)]


_HANDED = "ids:"  # session.info key prefix: the largest id SQLite handed out in this session


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` unused primary keys of ``table`` (its ``id`` column), for rows this transaction inserts later
    with explicit ids (``DeferredObjects``), so nothing has to be read back per row.

    PostgreSQL: drawn from the column's sequence in one statement; concurrent transactions never get the same
    ids (an unused one is a gap, as after any rollback). SQLite: above the table's largest id and the ids
    handed out earlier in the same session. That is safe because every SQLite transaction begins with
    ``BEGIN IMMEDIATE`` (``db.py``), which keeps every other writer out until it ends.
    """
    if count <= 0:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        stmt = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        return sorted(connection.execute(stmt).scalars())
    handed = _HANDED + table.name
    top = connection.execute(select(func.max(table.c.id))).scalar() or 0
    start = max(top, session.info.get(handed, 0)) + 1
    session.info[handed] = start + count - 1
    return list(range(start, start + count))


def id_beside_allocated(session: Session, table: Table) -> int | None:
    """The id for a row of ``table`` inserted one by one in a session that set ids aside: None (the database
    numbers it) unless the database could number it with one of them (SQLite numbers a row after the largest id it
    holds, and rows with set-aside ids may not be written yet)."""
    return allocate_ids(session, table, 1)[0] if _HANDED + table.name in session.info else None


@cache
def column_attributes(model: type[Any]) -> tuple[tuple[str, str], ...]:
    """(column name, mapped attribute name) of every column of ``model``'s table, in the table's (a Core row's)
    order."""
    by_column = {prop.columns[0].key: prop.key for prop in model.__mapper__.column_attrs}
    return tuple((column.key, by_column[column.key]) for column in model.__table__.columns)


#: session.info keys of ``DeferredRows`` queues start with this
DEFERRED_PREFIX = "deferred:"


class DeferredRows:
    """Rows for one table, queued in a session and written together in one statement (executemany).

    Contract: queued rows are written before the session's next statement (``session.execute``) that reads
    anything or writes this table (so every read in the transaction sees them and writes keep their order), before
    the session commits, and whenever ``flush`` is called; a rollback drops the rows queued inside the transaction
    or savepoint it ends. With ``key``, a later row replaces a queued one with the same key (an upsert's last write
    wins, and one multi-row upsert must not touch a row twice). ``statement(dialect name)`` builds the INSERT.
    ``after``: the queues of the rows these reference (foreign keys), written first. Rows are also written before
    an ORM flush, so the unit of work never writes a row that references a queued one before it.

    For ingest hot paths: an import batch or a multi-event delivery then writes such rows once, not per event.
    """

    def __init__(
        self,
        table: Table,
        statement: Callable[[str], Executable],
        key: Callable[[Any], Hashable] | None = None,
        *,
        after: Iterable[DeferredRows] = (),
    ) -> None:
        self.table, self.statement, self.key = table, statement, key
        self.after = tuple(after)
        _QUEUES.append(self)
        self._info_key = f"{DEFERRED_PREFIX}{table.name}"

    def add(self, session: Session, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        queued: dict[Hashable, tuple[SessionTransaction, dict[str, Any]]] | None = session.info.get(self._info_key)
        if queued is None:
            queued = session.info[self._info_key] = {}
        # each row remembers the innermost transaction it was queued in, for ``_forget``
        current = session.get_nested_transaction() or session.get_transaction() or session.begin()
        for row in rows:
            queued.pop(k := (self.key(row) if self.key else object()), None)  # re-queued: moves to the end
            queued[k] = (current, row)

    @staticmethod
    def flush_all(session: Session) -> None:
        """Write every queue's rows (e.g. before a savepoint ends, so a failing row fails its own savepoint)."""
        for queue in _QUEUES:
            queue.flush(session)

    def flush(self, session: Session) -> None:
        for referenced in self.after:
            referenced.flush(session)
        queued = session.info.pop(self._info_key, None)
        if queued:
            connection = session.connection()  # Core, no autoflush: the queued rows need no ORM state
            rows = self._values(session, [row for _tx, row in queued.values()])
            stmt = self.statement(connection.dialect.name)
            tail = _insert_tail(connection.dialect, stmt)
            if tail is None or insert_multirow(connection, self.table, rows, tail) is None:
                connection.execute(stmt, rows)

    def _values(self, session: Session, queued: list[Any]) -> list[dict[str, Any]]:
        return queued

    def _before_statement(self, session: Session, written: str | None) -> None:
        """Before a statement that writes the table named ``written`` (None: one that reads, or any other)."""
        # anything but a write of another table may read or write these rows (a text() statement included)
        if written is None or written == self.table.name:
            self.flush(session)

    def _forget(self, session: Session, rolled_back: SessionTransaction) -> None:
        queued = session.info.get(self._info_key)
        if queued:
            for k in [k for k, (tx, _row) in queued.items() if _inside(tx, rolled_back)]:
                del queued[k]


def read_connection(session: Session) -> Connection:
    """The session's connection, for a Core read (no autoflush) that must see everything the session holds: its
    ORM changes are flushed and every queue's rows written first."""
    session.flush()
    DeferredRows.flush_all(session)  # (a flush that found nothing to write does not call ``before_flush``)
    return session.connection()


#: every queue, in creation order
_QUEUES: list[DeferredRows] = []


# Listeners on the Session class (every session): registering them per session costs more than a delivery's
# queued writes save. Each does nothing in a session without queued rows.
def _queued(session: Session) -> list[DeferredRows]:
    info = session.info
    return [queue for queue in _QUEUES if queue._info_key in info] if info else []


@event.listens_for(Session, "do_orm_execute")
def _before_orm_statement(state: ORMExecuteState) -> None:
    # an ORM statement names an annotated copy of the table: compare names
    table = getattr(state.statement, "table", None)
    before_write(state.session, table if state.is_insert or state.is_update or state.is_delete else None)


def before_write(session: Session, table: Table | None) -> None:
    """Write the queued rows a statement writing ``table`` (None: reading, or anything else) must find written,
    as ``session.execute`` does by itself: for a statement sent on the session's connection instead."""
    written = getattr(table, "name", None)
    for queue in _queued(session):
        queue._before_statement(session, written)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    for queue in _queued(session):
        queue.flush(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    for queue in _queued(session):
        queue.flush(session)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, rolled_back: SessionTransaction) -> None:
    for queue in _queued(session):
        queue._forget(session, rolled_back)


def _inside(tx: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while tx is not None:
        if tx is outer:
            return True
        tx = tx.parent
    return False


class DeferredObjects(DeferredRows):
    """ORM objects whose INSERT is queued: ``add`` takes objects already attached to the session as persistent
    (``ingest.attach_inserted``) with an id of their own (``allocate_ids``). Each is written as it is when the
    queue is written, so changes made to it meanwhile go into its INSERT instead of a later UPDATE; it then
    counts as unchanged (its attribute history is committed, as after loading it)."""

    def __init__(self, model: type[Any], *, after: Iterable[DeferredRows] = ()) -> None:
        table: Table = model.__table__
        stmt = insert(table)  # one object: ``_insert_tail`` is worked out once
        super().__init__(table, lambda _dialect: stmt, key=id, after=after)
        self._columns = column_attributes(model)

    def _before_statement(self, session: Session, written: str | None) -> None:
        self.flush(session)  # before any statement: the rows of most tables reference these

    def _values(self, session: Session, queued: list[Any]) -> list[dict[str, Any]]:
        rows = [{column: obj.__dict__.get(attr) for column, attr in self._columns} for obj in queued]
        # SQLAlchemy's own "these values are now in the database" step (what a flush or a load does); it has no
        # public per-object form that also drops the object from the session's set of modified objects
        InstanceState._commit_all_states(
            ((obj._sa_instance_state, obj.__dict__) for obj in queued), session.identity_map
        )
        return rows


def insert_multirow(
    connection: Connection, table: Table, rows: list[dict[str, Any]], tail: str = ""
) -> list[tuple[Any, ...]] | None:
    """INSERT ``rows`` (dicts with the same keys: column names) as multi-row ``INSERT ... VALUES (...), (...)
    <tail>`` statements on SQLite, as many rows in each as its bound-variable limit allows; the rows a ``RETURNING``
    in ``tail`` returns (raw values: integers and text). None (nothing written) when the rows do not all have the
    same keys, or leave out a column whose default SQLAlchemy would fill in: the caller then writes them its own
    way.

    Why not an executemany: a table with an FTS5 index (``tickets``: ``models.search``) pays for every
    statement, since FTS5 writes its pending terms out as a new segment at the end of each one (at each statement
    savepoint), and every such segment is merged later. One statement of 500 rows costs ~3.5 us a row, 500
    single-row statements ~19 us (``bench/README.md``); other tables save SQLAlchemy's per-row parameter work.
    The SQL text is built here and bound positionally with each column type's own bind processor (what SQLAlchemy
    would apply), because compiling a 500-row ``insert().values([...])`` costs more than the rows."""
    if not rows:
        return []
    dialect = connection.dialect
    names = tuple(rows[0])
    if any(len(row) != len(names) for row in rows) or _defaults_left_out(table, names):
        return None
    processors = _bind_processors(dialect, table, names)
    per = max(1, min(len(rows), _variable_limit(connection) // len(names)))
    quote = dialect.identifier_preparer.quote
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES "
    one = "(" + ", ".join("?" * len(names)) + ")"
    try:
        chunks = [
            [
                value if process is None else process(value)
                for row in rows[start : start + per]
                for process, value in zip(processors, [row[n] for n in names], strict=True)
            ]
            for start in range(0, len(rows), per)
        ]
    except KeyError:  # same number of keys, not the same keys
        return None
    returned: list[tuple[Any, ...]] = []
    for params in chunks:
        count = len(params) // len(names)
        result = connection.exec_driver_sql(head + ", ".join([one] * count) + tail, tuple(params))
        if result.returns_rows:
            returned += [tuple(row) for row in result]
    return returned


@lru_cache(maxsize=256)  # per engine's dialect and statement (tests build many engines)
def _insert_tail(dialect: Any, stmt: Executable) -> str | None:
    """What an INSERT statement says after its VALUES (" ON CONFLICT ... DO NOTHING RETURNING id"), for
    ``insert_multirow``; None (write it SQLAlchemy's way) off SQLite, or if it is not an INSERT of that shape, or
    the rest binds values."""
    if dialect.name != "sqlite" or not isinstance(stmt, Insert):
        return None
    sql = str(stmt.compile(dialect=dialect))
    at = sql.find(" VALUES (")
    close = sql.find(")", at)
    tail = sql[close + 1 :] if at >= 0 and close >= 0 else None
    if tail is None or "?" in tail:
        return None
    return tail


@lru_cache(maxsize=256)
def _bind_processors(dialect: Any, table: Table, names: tuple[str, ...]) -> tuple[Callable[[Any], Any] | None, ...]:
    # the dialect's implementation of each column type (variants and TypeDecorators resolved) converts the value,
    # as the type's documentation asks: ``bind_processor`` belongs to that object, not to the public type
    return tuple(table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)


@lru_cache(maxsize=256)
def _defaults_left_out(table: Table, names: tuple[str, ...]) -> bool:
    """Whether a column left out of ``names`` has a default that SQLAlchemy fills in (the database's own defaults
    need nothing from us)."""
    return any(column.default is not None for column in table.columns if column.name not in names)


@lru_cache(maxsize=256)
def _raw_results(dialect: Any, table: Table, names: tuple[str, ...]) -> bool:
    """Whether the columns ``names`` read back as the driver gives them (ids, keys: no result conversion), so that
    ``insert_multirow``'s raw RETURNING rows equal what SQLAlchemy would return."""
    impls = [table.c[n].type.dialect_impl(dialect) for n in names]
    return all(impl.result_processor(dialect, impl) is None for impl in impls)


def _variable_limit(connection: Connection) -> int:
    """SQLite's limit on bound variables in one statement (999 before 3.32, 32,766 since)."""
    raw = connection.connection.dbapi_connection
    getlimit = getattr(raw, "getlimit", None)  # Python 3.11+
    return getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit is not None else 999
