"""First-response time in business minutes, median and 90th percentile, in SQL on both backends.

``tat_clocks`` stores a clock's start and stop instants, not the business time between them, so the query
brings the business calendar with it: each calendar's business spans (absolute ``[start, end)`` seconds with
the business seconds before each span) are bound as parameters, and the business time of an instant ``t`` is
``B(t) = cum[i] + min(t - start[i], end[i] - start[i])`` for the last span ``i`` starting at or before ``t``
(0 before the first). A clock's business time is ``B(stopped_at) - B(started_at)``, rounded to whole seconds.
PostgreSQL finds ``i`` with ``width_bucket`` over float8 arrays (a binary search); SQLite with a correlated
lookup over ``json_each`` (the embedded backend serves small teams). A clock uses the calendar of the policy
it stopped under; clocks of policies no longer configured have no calendar and are left out.

Which clocks: ``first_response`` clocks that stopped (the first public agent reply) in ``[since, until)``,
met or breached; a clock still waiting for its reply has no response time yet.

Percentile method (the same on both backends, tested against each other): linear interpolation between
closest ranks, as PostgreSQL ``percentile_cont``, Excel ``PERCENTILE.INC`` and Hyndman-Fan type 7. With the
``n`` values sorted ascending as ``x[0..n-1]`` and ``h = (n - 1) * p``: ``x[floor(h)] + (h - floor(h)) *
(x[floor(h) + 1] - x[floor(h)])``. SQLite has no ``percentile_cont``: it ranks the values with window functions
and interpolates with integer arithmetic for ``floor(h)``, so rank selection is exact. Results are minutes
rounded to one decimal; ``None`` when no clock qualifies.
"""

from __future__ import annotations

import json
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from ..config import Settings
from ..models.tat import TatClock
from ..models.types import UTCDateTime
from ..tat.calendar import BusinessCalendar
from ..tat.policies import policy_set

PERCENTILES = {"median_minutes": Fraction(1, 2), "p90_minutes": Fraction(9, 10)}
_US = 1_000_000


def calendars_by_policy(settings: Settings) -> list[tuple[BusinessCalendar, list[str]]]:
    """Each distinct calendar of the configured policies, with the names of the policies that use it."""
    groups: dict[str, tuple[BusinessCalendar, list[str]]] = {}
    for config, policy in zip(settings.tat.policies, policy_set(settings).policies, strict=True):
        groups.setdefault(config.calendar, (policy.calendar, []))[1].append(policy.name)
    return list(groups.values())


def business_spans(calendar: BusinessCalendar, since: datetime, until: datetime) -> list[tuple[float, float, float]]:
    """``(start, end, business seconds before start)`` of the calendar's spans in ``[since, until)``, in epoch
    seconds. BusinessCalendar keeps its span list private (``_spans``); this is the one place that reads it."""
    raw = calendar._spans(int(since.timestamp() * _US), int(until.timestamp() * _US))
    out, cum = [], 0
    for start, end in raw:
        out.append((start / _US, end / _US, cum / _US))
        cum += end - start
    return out


def first_response_stats(session: Session, settings: Settings, since: datetime, until: datetime) -> dict[str, Any]:
    """``{"count", "median_minutes", "p90_minutes"}`` of first responses in ``[since, until)`` (see module doc)."""
    empty: dict[str, Any] = {"count": 0, **{key: None for key in PERCENTILES}}
    groups = calendars_by_policy(settings)
    names = [name for _, policies in groups for name in policies]
    if not names:
        return empty
    earliest = session.execute(
        select(func.min(TatClock.started_at)).where(*_stopped_in(since, until), TatClock.policy.in_(names))
    ).scalar_one_or_none()
    if earliest is None:
        return empty
    postgres = session.get_bind().dialect.name == "postgresql"
    blocks, params = [], {"since": since, "until": until}
    for index, (calendar, policies) in enumerate(groups):
        spans = business_spans(calendar, min(earliest, since), until)
        block, values = (_pg_block if postgres else _sqlite_block)(index, spans)
        blocks.append(block)
        params.update(values, **{f"names{index}": policies})
    sql = f"WITH secs AS ({' UNION ALL '.join(blocks)}) " + (
        percentile_cont_sql() if postgres else percentile_window_sql()
    )
    stmt = text(sql).bindparams(
        bindparam("since", type_=UTCDateTime()),
        bindparam("until", type_=UTCDateTime()),
        *(bindparam(f"names{i}", expanding=True) for i in range(len(groups))),
    )
    row = session.execute(stmt, params).one()
    count = int(row[0] or 0)
    if not count:
        return empty
    return {"count": count, **{key: round(float(v) / 60, 1) for key, v in zip(PERCENTILES, row[1:], strict=True)}}


def _stopped_in(since: datetime, until: datetime) -> tuple[Any, ...]:
    return (TatClock.metric == "first_response", TatClock.stopped_at >= since, TatClock.stopped_at < until)


_WHERE = "metric = 'first_response' AND stopped_at >= :since AND stopped_at < :until AND policy IN :names{i}"


def _pg_block(i: int, spans: list[tuple[float, float, float]]) -> tuple[str, dict[str, Any]]:
    # each clock's two instants and their span indexes are computed once (inner subqueries), then B(t)
    starts, ends, cums = (f"(CAST(:{name}{i} AS float8[]))" for name in ("s", "e", "c"))

    def b(t: str, k: str) -> str:
        return (
            f"CASE WHEN {k} = 0 THEN 0 ELSE {cums}[{k}] + LEAST({t} - {starts}[{k}], {ends}[{k}] - {starts}[{k}]) END"
        )

    instants = (
        "SELECT date_part('epoch', started_at) AS t0, date_part('epoch', stopped_at) AS t1 "
        f"FROM tat_clocks WHERE {_WHERE.format(i=i)}"
    )
    indexed = (
        f"SELECT t0, t1, width_bucket(t0, {starts}) AS k0, width_bucket(t1, {starts}) AS k1 FROM ({instants}) AS k"
    )
    sql = f"SELECT ROUND(({b('t1', 'k1')}) - ({b('t0', 'k0')}))::float8 AS v FROM ({indexed}) AS w"
    columns = ([span[j] for span in spans] for j in range(3))
    return sql, dict(zip((f"s{i}", f"e{i}", f"c{i}"), columns, strict=True))


def _sqlite_block(i: int, spans: list[tuple[float, float, float]]) -> tuple[str, dict[str, Any]]:
    def at(column: str) -> str:
        t = f"((julianday({column}) - 2440587.5) * 86400.0)"
        return (
            f"COALESCE((SELECT json_extract(value, '$[2]') + MIN({t} - json_extract(value, '$[0]'),"
            f" json_extract(value, '$[1]') - json_extract(value, '$[0]')) FROM json_each(:spans{i})"
            f" WHERE json_extract(value, '$[0]') <= {t} ORDER BY json_extract(value, '$[0]') DESC LIMIT 1), 0)"
        )

    sql = f"SELECT ROUND({at('stopped_at')} - {at('started_at')}) AS v FROM tat_clocks WHERE {_WHERE.format(i=i)}"
    return sql, {f"spans{i}": json.dumps(spans)}


def percentile_cont_sql() -> str:
    """PostgreSQL's own ordered-set aggregate over ``secs(v)``: count, then each of ``PERCENTILES``."""
    parts = [f"percentile_cont({float(p)}) WITHIN GROUP (ORDER BY v)" for p in PERCENTILES.values()]
    return f"SELECT COUNT(v), {', '.join(parts)} FROM secs"


def percentile_window_sql() -> str:
    """The same figures with window functions only (SQLite; also valid PostgreSQL, which tests compare)."""
    parts = []
    for p in PERCENTILES.values():
        num, den = p.numerator, p.denominator
        lo = f"((n - 1) * {num} / {den})"  # integer division: floor(h) exactly
        frac = f"(((n - 1) * {num} % {den}) / {float(den)})"
        parts.append(f"SUM(CASE WHEN i = {lo} THEN v * (1 - {frac}) WHEN i = {lo} + 1 THEN v * {frac} ELSE 0 END)")
    ranked = "SELECT v, ROW_NUMBER() OVER (ORDER BY v) - 1 AS i, COUNT(*) OVER () AS n FROM secs"
    return f"SELECT COUNT(v), {', '.join(parts)} FROM ({ranked}) AS ranked"
