"""``GET /api/tat/attainment``: the share of clocks that met their target, per policy and metric."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, request

from ..api import ApiError, make_api_blueprint, respond, runtime, validate
from ..db import session_scope
from ..events import utcnow
from .policies import policy_set
from .read import attainment
from .schemas import AttainmentOut, AttainmentQuery

bp = make_api_blueprint("tat")

DEFAULT_PERIOD = timedelta(days=7)


@bp.get("/tat/attainment")
def get_attainment() -> Response:
    query: AttainmentQuery = validate(AttainmentQuery, request.args.to_dict())
    now = utcnow()
    until = query.until or now
    since = query.since or until - DEFAULT_PERIOD
    if since >= until:
        period = {"since": since.isoformat(), "until": until.isoformat()}
        raise ApiError(422, "invalid since: must be before until", period)
    rt = runtime()
    with session_scope(rt.sessions) as session:
        items = attainment(session, policy_set(rt.settings), since, until, now)
    return respond(AttainmentOut, {"since": since, "until": until, "items": items})
