"""Engine and session handling. One engine per app; nothing is created at import.

SQLite runs in WAL mode with a busy timeout and foreign keys on, so the web threads and the
scheduler thread of ``serve`` can share one file. PostgreSQL uses psycopg 3.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

#: errors that mean "the database is unavailable right now", answered 503 + Retry-After
UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, exc.DisconnectionError)


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    echo: bool = False,
    busy_timeout_ms: int = 5000,
    connect_args: dict[str, Any] | None = None,
) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=json_dumps,
            json_deserializer=json_loads,
            connect_args={"check_same_thread": False, **(connect_args or {})},
        )
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_ms))
        writer = _WriterLock(busy_timeout_ms / 1000)
        event.listen(engine, "begin", writer.begin)
        event.listen(engine, "commit", writer.end)
        event.listen(engine, "rollback", writer.end)
        event.listen(engine, "checkin", writer.pool_end)
        event.listen(engine, "invalidate", writer.pool_end)
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_serializer=json_dumps,
        pool_timeout=10,
        connect_args={"connect_timeout": 5, **(connect_args or {})},
    )


def json_dumps(value: Any) -> str:
    """JSON columns' serializer: ``json.dumps``, with the empty list and object (most tags, custom fields,
    evidence and snapshots of an ingest) answered without the encoder."""
    if not value and isinstance(value, list | dict):
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value)


def json_loads(text: str | bytes) -> Any:
    """JSON columns' deserializer (SQLite; psycopg decodes JSONB itself): the empty list and object, which most
    rows hold, without the decoder. Each call answers a new object: callers may change what they read."""
    if text == "[]":
        return []
    if text == "{}":
        return {}
    return json.loads(text)


def _sqlite_pragmas(busy_timeout_ms: int, dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; we issue BEGIN ourselves
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class _WriterLock:
    """SQLite allows one writer at a time. Every transaction starts with BEGIN IMMEDIATE, which takes the
    write lock up front, so two writers queue instead of failing with "database is locked" when a read
    transaction tries to upgrade to a write.

    Threads of one process queue on a Python lock first: SQLite's busy handler polls with sleeps of 1 to
    100 ms, so a thread waiting on it sleeps long after the lock is free, while a thread waiting on the
    Python lock wakes when it is released. Other processes still queue on ``busy_timeout``. The lock is
    taken with the same timeout and then skipped (SQLite's own wait decides), so a thread that opens a
    second connection while it holds a first one gets SQLite's "database is locked", not a deadlock.
    """

    def __init__(self, timeout: float) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout
        # the holder (Connection and its DBAPI connection); only the holding thread sets or clears them
        self._holder: Any = None
        self._holder_dbapi: Any = None

    def begin(self, conn: Any) -> None:
        held = self._lock.acquire(timeout=self._timeout)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if held:
                self._lock.release()
            raise
        if held:
            self._holder, self._holder_dbapi = conn, conn.connection.dbapi_connection

    def end(self, conn: Any) -> None:
        if self._holder is not None and self._holder is conn:
            self._release()

    def pool_end(self, dbapi_conn: Any, *_args: Any) -> None:
        # a connection checked in or invalidated mid-transaction must not keep the lock
        if self._holder_dbapi is not None and self._holder_dbapi is dbapi_conn:
            self._release()

    def _release(self) -> None:
        self._holder = self._holder_dbapi = None
        self._lock.release()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"
