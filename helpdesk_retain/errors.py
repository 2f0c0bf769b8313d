"""App-wide error answers: always JSON ``{"error", "detail"}``, never an HTML traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

from .api import ApiError
from .db import UNAVAILABLE

log = logging.getLogger(__name__)


def _json(status: int, error: str, detail: object = None) -> Response:
    response = jsonify(error=error, detail=detail)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return _json(exc.status, exc.error, exc.detail)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _json(exc.code or 500, (exc.name or "error").lower(), exc.description)

    def unavailable(exc: Exception) -> Response:
        log.error("database unavailable: %s", exc)
        response = _json(503, "database unavailable", type(exc).__name__)
        response.headers["Retry-After"] = str(
            current_app.extensions["helpdesk_retain"].settings.server.retry_after_seconds
        )
        return response

    for exc_class in UNAVAILABLE:
        app.register_error_handler(exc_class, unavailable)

    @app.errorhandler(Exception)
    def internal(exc: Exception) -> Response:
        log.exception("unhandled error")
        return _json(500, "internal error", type(exc).__name__)
