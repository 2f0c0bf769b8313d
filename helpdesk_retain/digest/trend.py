"""The 8-week trend's tickets received, saves and TAT attainment: one statement per series for all the weeks.

Each week's value is the one its own period's figure has (tickets created in it, ``retention.save_totals``'
``count``, and the met and breached clocks of ``tat.read.attainment`` over all policies and metrics), counted
as one range of an index per week and kind, instead of one statement (or three) per week or a ``CASE`` over
every row of the eight weeks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, literal_column, select
from sqlalchemy.orm import Session

from ..models.saves import Save
from ..models.tat import TatClock


def weekly_counts(session: Session, column: Any, bounds: list[datetime], *where: Any) -> list[int]:
    """Rows per week of ``bounds`` by ``column`` (and ``where``): one count per week, each a range of the
    index on ``column``, in one statement."""
    counts = [
        select(func.count()).where(*where, column >= since, column < until).scalar_subquery()
        for since, until in zip(bounds, bounds[1:], strict=False)
    ]
    return [int(n) for n in session.execute(select(*counts)).one()]


def weekly_saves(session: Session, bounds: list[datetime]) -> list[int]:
    """Saves per week of ``bounds`` by ``saved_at``, withdrawn ones left out."""
    return weekly_counts(session, Save.saved_at, bounds, Save.withdrawn_at.is_(None))


def weekly_attainment(session: Session, bounds: list[datetime], now: datetime) -> list[float | None]:
    """Met / (met + breached) per week of ``bounds``: met clocks by ``stopped_at``, breached ones by
    ``breached_at``, and running clocks past due by ``due_at`` before ``now``; None for a week without any.

    One statement of a count per week and kind: each is a range of one index (``ix_tat_clocks_met``,
    ``ix_tat_clocks_breached``, ``ix_tat_clocks_due_running``), cheaper than sorting every row into its week."""

    def count(state: str, column: Any, since: datetime, until: datetime) -> Any:
        if until <= since:
            return literal(0)
        # the state inline, not bound: SQLite reads the partial ``ix_tat_clocks_met`` alone only for a literal
        where = (TatClock.state == literal_column(f"'{state}'"), column >= since, column < until)
        return select(func.count()).where(*where).scalar_subquery()

    weeks = list(zip(bounds, bounds[1:], strict=False))
    columns = []
    for since, until in weeks:
        columns += [
            count("met", TatClock.stopped_at, since, until),
            count("breached", TatClock.breached_at, since, until),
            count("running", TatClock.due_at, since, min(until, now)),
        ]
    row = [int(n) for n in session.execute(select(*columns)).one()]
    out: list[float | None] = []
    for i in range(len(weeks)):
        met, bad = row[3 * i], row[3 * i + 1] + row[3 * i + 2]
        out.append(met / (met + bad) if met + bad else None)
    return out
