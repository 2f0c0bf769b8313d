"""Dead letters (admin): deliveries that could not be parsed or applied, with replay and discard through
``inbox.replay`` / ``inbox.discard``, as ``helpdesk-retain deadletters replay`` does."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from .. import inbox
from .base import bp, requires, runtime

LIMIT = 200
PREVIEW_CHARS = 2000


@bp.get("/dead-letters")
@requires("admin")
def dead_letters() -> str:
    rows = inbox.dead_letters(runtime(), limit=LIMIT)
    previews = {row.id: (row.body or b"")[:PREVIEW_CHARS].decode("utf-8", "replace") for row in rows}
    return render_template("web/dead_letters.html", rows=rows, previews=previews, limit=LIMIT)


@bp.post("/dead-letters/<int:row_id>/replay")
@requires("admin")
def replay_dead_letter(row_id: int) -> Response:
    outcome = inbox.replay(runtime(), row_id)
    if outcome == "processed":
        flash(_("Dead letter %(id)d replayed: processed.", id=row_id), "success")
    elif outcome == "not dead":
        flash(_("Dead letter %(id)d was already processed or discarded.", id=row_id), "info")
    else:
        flash(_("Dead letter %(id)d is still dead: %(error)s", id=row_id, error=outcome.partition(": ")[2]), "error")
    return redirect(url_for("web.dead_letters"))


@bp.post("/dead-letters/<int:row_id>/discard")
@requires("admin")
def discard_dead_letter(row_id: int) -> Response:
    if inbox.discard(runtime(), row_id):
        flash(_("Dead letter %(id)d discarded.", id=row_id), "success")
    else:
        flash(_("Dead letter %(id)d was already processed or discarded.", id=row_id), "info")
    return redirect(url_for("web.dead_letters"))
