"""Assembles the Flask app from a runtime: blueprints, error handlers, limits."""

from __future__ import annotations

from flask import Flask

from .config import Settings, config_path, load_settings
from .runtime import Runtime, build_runtime


def build_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    from . import api, webhooks
    from .errors import register_error_handlers

    if runtime is None:
        runtime = build_runtime(settings or load_settings(config_path(None)))
    app = Flask("helpdesk_retain")
    # Flask refuses larger bodies itself too (413), also for chunked requests without a length
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.server.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["helpdesk_retain"] = runtime
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.ops)
    register_error_handlers(app)
    return app
