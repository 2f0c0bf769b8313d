"""At-risk customers, most recurring revenue first, with the reasons and the tickets behind them
(``tagging.risk.at_risk_customers``, which ``GET /api/customers?at_risk=true`` answers too)."""

from __future__ import annotations

from flask import render_template

from ..db import session_scope
from ..events import utcnow
from ..tagging.risk import at_risk_customers
from .base import bp, runtime

LIMIT = 200


@bp.get("/at-risk")
def at_risk() -> str:
    rt, now = runtime(), utcnow()
    with session_scope(rt.sessions) as session:
        found = at_risk_customers(session, rt.settings, now, limit=LIMIT)
    return render_template("web/at_risk.html", customers=found, rule=rt.settings.tagging.at_risk, limit=LIMIT)
