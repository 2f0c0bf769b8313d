"""Column types shared by every table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB

#: 64-bit ids on PostgreSQL; SQLite only autoincrements a plain INTEGER primary key
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _as_utc(value: datetime) -> datetime:
    """A datetime read back: naive ones were stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: recently bound datetimes and their SQLite text (see ``UTCDateTime.bind_processor``)
_SQLITE_TEXT: dict[datetime, str] = {}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores naive text; we store and return UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = _to_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else _as_utc(value)

    # SQLite: one conversion each way instead of two (ours, then the dialect's text format). Every ingested event
    # binds and reads several of these, which showed in the ingest profiles.
    def bind_processor(self, dialect: Any) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            # an event's time is bound several times (ticket, log row, signals) and a batch's processing time once a
            # row: formatting it each time was ~5% of an import. Equal instants hash alike in any zone, and give
            # the same UTC text; a naive value is never equal to an aware one, so it still reaches ``_to_utc``.
            text = _SQLITE_TEXT.get(value)
            if text is None:
                if len(_SQLITE_TEXT) >= 4096:
                    _SQLITE_TEXT.clear()
                utc = value if value.tzinfo is UTC else _to_utc(value)
                # SQLAlchemy's SQLite DATETIME storage format, "2026-11-26 09:05:00.000000" (always with
                # microseconds: stored values compare as text)
                text = _SQLITE_TEXT[value] = utc.replace(tzinfo=None).isoformat(" ", "microseconds")
            return text

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        fallback = super().result_processor(dialect, coltype)  # other text forms (written by hand, by SQL functions)

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                parsed = datetime.fromisoformat(value)
                # what we store is naive UTC; an aware value (written by hand) is converted
                return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
            except (TypeError, ValueError):
                return fallback(value) if fallback is not None else value  # type: ignore[return-value]

        return process
