"""The overview: the week's figures and 8-week charts, the very numbers of the weekly digest
(``digest.figures.week_figures``, which ``GET /api/digest/<week>`` answers too)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, render_template, request

from ..db import session_scope
from ..digest.figures import week_figures
from ..digest.weeks import BadWeek, IsoWeek
from ..events import utcnow
from .base import bp, runtime
from .charts import charts


def this_week(now: datetime) -> IsoWeek:
    """The ISO week ``now`` falls in, cut in ``[digest] timezone`` like the digest's weeks."""
    return IsoWeek.of(now.astimezone(ZoneInfo(runtime().settings.digest.timezone)).date())


def requested_week(now: datetime) -> IsoWeek:
    text = request.args.get("week")
    if not text:
        return this_week(now)
    try:
        return IsoWeek.parse(text)
    except BadWeek:
        abort(404)


def figures_for(week: IsoWeek, now: datetime) -> dict[str, Any]:
    rt = runtime()
    with session_scope(rt.sessions) as session:
        return week_figures(session, rt.settings, week, now)


@bp.get("/")
def overview() -> str:
    now = utcnow()
    week, current = requested_week(now), this_week(now)
    figures = figures_for(week, now)
    return render_template(
        "web/overview.html",
        f=figures,
        week=week,
        current=week == current,
        previous=week.shift(-1),
        following=week.shift(1) if week < current else None,
        charts=charts(figures),
    )
