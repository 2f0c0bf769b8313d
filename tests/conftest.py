"""Shared fixtures: a database per test (SQLite file, or PostgreSQL when
HELPDESK_RETAIN_TEST_DATABASE_URL is set), settings, a runtime and a live HTTP server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from helpdesk_retain.config import Settings, settings_from_dict
from helpdesk_retain.db import session_scope
from helpdesk_retain.models import metadata
from helpdesk_retain.runtime import Runtime, build_runtime
from helpdesk_retain.testing import GENERIC_TEST_SECRET, LiveServer
from helpdesk_retain.tokens import create_token
from helpdesk_retain.web_app import build_app

PG_URL = os.environ.get("HELPDESK_RETAIN_TEST_DATABASE_URL")
IN_CI = os.environ.get("CI") == "true"
GENERIC_SECRET = GENERIC_TEST_SECRET
FIXED_NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL ' + PG_URL.split('@')[-1] if PG_URL else 'SQLite'}"


def requires_postgres() -> None:
    """Skip (visibly) without PostgreSQL; in CI a missing PostgreSQL is a failure, not a skip."""
    if PG_URL:
        return
    if os.environ.get("HELPDESK_RETAIN_TEST_SQLITE_PASS"):
        pytest.skip("PostgreSQL-only: runs in the PostgreSQL pass of .ci/run")
    if IN_CI:
        pytest.fail("HELPDESK_RETAIN_TEST_DATABASE_URL is not set in CI")
    pytest.skip("needs PostgreSQL: set HELPDESK_RETAIN_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str | None]:
    """A private schema per test session, so parallel runs on one server never meet."""
    if not PG_URL:
        yield None
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    yield name
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_ready(pg_schema: str | None) -> str | None:
    """Create the tables once per session in the private schema; tests truncate them."""
    if pg_schema is None:
        return None
    url = schema_url(pg_schema)
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    return url


def schema_url(schema: str) -> str:
    assert PG_URL
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def db_url(tmp_path: Path, pg_ready: str | None) -> str:
    if pg_ready is None:
        url = f"sqlite:///{tmp_path / 'test.db'}"
        engine = create_engine(url)
        metadata.create_all(engine)
        engine.dispose()
        return url
    engine = create_engine(pg_ready)
    with engine.begin() as conn:
        # a session leaked by a previous test would make TRUNCATE wait forever: fail loudly instead
        conn.execute(text("SET lock_timeout = '20s'"))
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return pg_ready


@pytest.fixture
def make_settings(db_url: str, tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a test: the generic source plus whatever the test adds (a TOML-shaped dict)."""

    def build(extra: dict[str, Any] | None = None, sources: dict[str, dict[str, Any]] | None = None) -> Settings:
        data: dict[str, Any] = {
            "database": {"url": db_url},
            "outbox": {"path": str(tmp_path / "outbox")},
            "sources": {"generic": {"plugin": "generic", "secret": GENERIC_SECRET}, **(sources or {})},
        }
        for key, value in (extra or {}).items():
            data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
        return settings_from_dict(data, environ={})

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def api_token(runtime: Runtime) -> str:
    with session_scope(runtime.sessions) as session:
        return create_token(session, "test", datetime.now(UTC))


@pytest.fixture
def server(runtime: Runtime, api_token: str) -> Iterator[LiveServer]:
    live = LiveServer(build_app(runtime=runtime), token=api_token)
    yield live
    live.stop()


@pytest.fixture
def start_server(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., LiveServer]]:
    """Start a server with custom settings: ``start_server(extra=..., sources=...)``."""
    started: list[tuple[LiveServer, Runtime]] = []

    def start(**kwargs: Any) -> LiveServer:
        rt = build_runtime(make_settings(**kwargs))
        with session_scope(rt.sessions) as session:
            token = create_token(session, f"test-{len(started)}", datetime.now(UTC))
        live = LiveServer(build_app(runtime=rt), token=token)
        started.append((live, rt))
        return live

    yield start
    for live, rt in started:
        live.stop()
        rt.close()


@pytest.fixture
def empty_db_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (for migration tests): a new SQLite file or PostgreSQL schema."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    yield schema_url(name)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()
