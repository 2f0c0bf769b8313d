"""POST /webhooks/<source>: verify -> inbox -> parse -> apply -> 2xx. No outbound I/O on this path.

Answers (CONTRACT.md): 202 accepted · 200 duplicate · 202 ignored · 401 bad signature (nothing stored)
· 404 unknown source · 413 too large · 415 not JSON (dead letter) · 422 unparseable (dead letter)
· 503 + Retry-After when the database is unavailable (raised to the app's error handler).
"""

from __future__ import annotations

import json
import logging
import time

from flask import Blueprint, Response, current_app, request

from . import inbox
from .db import UNAVAILABLE
from .integrations import Challenge, NotJSON, PayloadError, SignatureError, UnsupportedEvent
from .runtime import Runtime

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def runtime() -> Runtime:
    return current_app.extensions["helpdesk_retain"]


def _answer(rt: Runtime, source: str, outcome: str, code: int, started: float, **body: object) -> Response:
    rt.metrics.delivery(source, outcome, time.perf_counter() - started)
    # the JSON answer built directly: ``jsonify`` goes through the app's JSON provider (pretty-printing checks,
    # sorting), which a three-key answer does not need
    return Response(json.dumps(body, default=str), code, mimetype="application/json")


@bp.post("/webhooks/<source>")
def receive(source: str) -> Response:
    started = time.perf_counter()
    rt = runtime()
    integration = rt.integrations.get(source)
    if integration is None:
        return _answer(rt, "unknown", "not_found", 404, started, error="unknown source", detail=source)
    limit = rt.settings.server.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _answer(rt, source, "too_large", 413, started, error="body too large", detail={"limit": limit})
    body = request.get_data(cache=False)
    if len(body) > limit:
        return _answer(rt, source, "too_large", 413, started, error="body too large", detail={"limit": limit})
    headers = request.headers
    try:
        integration.verify(headers, body)
    except SignatureError as exc:
        log.warning("refused a delivery to %s: %s", source, exc)
        return _answer(rt, source, "unauthorized", 401, started, error="invalid signature", detail=str(exc))
    key = inbox.delivery_key(integration, headers, body)
    try:
        events = integration.parse(headers, body)
    except Challenge as challenge:
        rt.metrics.deliveries.labels(source, "challenge").inc()
        return Response(challenge.body, 200, content_type=challenge.content_type)
    except UnsupportedEvent as exc:
        log.info("ignored a delivery to %s: %s", source, exc)
        return _answer(rt, source, "ignored", integration.success_status, started, status="ignored", detail=str(exc))
    except PayloadError as exc:
        dead_id = inbox.keep_dead_letter(rt, source, key, headers, body, str(exc))
        # 415 when the request did not even claim to be JSON; a JSON-labelled body that does not parse is 422
        status = 415 if isinstance(exc, NotJSON) and "json" not in request.mimetype else 422
        return _answer(rt, source, "dead", status, started, error=str(exc), dead_letter_id=dead_id)
    except Exception as exc:  # a parser's own bug: the body is still kept, to replay once the plugin is fixed
        log.exception("parsing a delivery to %s failed; kept as a dead letter", source)
        dead_id = inbox.keep_dead_letter(rt, source, key, headers, body, f"parse failed: {exc!r}")
        return _answer(rt, source, "dead", 422, started, error="unparseable", dead_letter_id=dead_id)
    try:
        # deliveries that arrive while others are being written share their next transaction (``group_commit``)
        pending = inbox.Pending(source, key, inbox.storable_headers(headers), body, events)
        result = inbox.group_commit(rt).submit(pending)
    except Exception as exc:
        if isinstance(exc, UNAVAILABLE):
            raise
        log.exception("applying a delivery to %s failed; kept as a dead letter", source)
        dead_id = inbox.keep_dead_letter(rt, source, key, headers, body, f"apply failed: {exc!r}")
        return _answer(rt, source, "dead", 500, started, error="processing failed", dead_letter_id=dead_id)
    if result.status == "duplicate":
        return _answer(rt, source, "duplicate", 200, started, status="duplicate", delivery_id=key)
    return _answer(
        rt,
        source,
        "accepted",
        integration.success_status,
        started,
        status="accepted",
        delivery_id=key,
        events=result.events,
    )
