"""Assembles the Flask app from a runtime: blueprints, error handlers, limits."""

from __future__ import annotations

from flask import Blueprint, Flask

from .config import Settings, config_path, load_settings
from .runtime import Runtime, build_runtime


def feature_blueprints() -> list[Blueprint]:
    """Blueprints of feature modules (tagging, TAT, saves, follow-ups, digest, dashboard)."""
    from . import followups_api, web
    from .digest import views as digest_views
    from .notify import api as notify_api
    from .saves import web as saves_web
    from .tagging import views as tagging_views
    from .tat import views as tat_views

    return [
        followups_api.bp,
        saves_web.bp,
        tat_views.bp,
        digest_views.api_bp,
        digest_views.page_bp,
        tagging_views.bp,
        notify_api.bp,
        web.blueprint(),
    ]


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
    for blueprint in (webhooks.bp, api.bp, api.ops, *feature_blueprints()):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    return app
