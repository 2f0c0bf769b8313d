"""The digest preview (leads): a week's digest figures in the dashboard, with the email itself one click
away at ``/digest/<week>`` (the digest feature's page, guarded by this dashboard's sign-in)."""

from __future__ import annotations

from flask import Response, abort, redirect, render_template, url_for

from ..digest.i18n import LANGUAGES as DIGEST_LANGUAGES
from ..digest.weeks import BadWeek, IsoWeek
from ..events import utcnow
from .base import bp, requires, runtime
from .charts import charts
from .overview import figures_for, this_week


@bp.get("/digest-preview")
@requires("lead")
def digest_preview_latest() -> Response:
    """The last complete week: the one the next digest reports on."""
    return redirect(url_for("web.digest_preview", week=str(this_week(utcnow()).shift(-1))))


@bp.get("/digest-preview/<week>")
@requires("lead")
def digest_preview(week: str) -> str:
    try:
        parsed = IsoWeek.parse(week)
    except BadWeek:
        abort(404)
    now = utcnow()
    current = this_week(now)
    figures = figures_for(parsed, now)
    return render_template(
        "web/digest.html",
        f=figures,
        week=parsed,
        previous=parsed.shift(-1),
        following=parsed.shift(1) if parsed < current else None,
        charts=charts(figures),
        digest=runtime().settings.digest,
        email_languages=DIGEST_LANGUAGES,
    )
