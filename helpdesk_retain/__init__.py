"""helpdesk-retain: customer retention beside a help desk."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from .config import Settings
    from .runtime import Runtime


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the WSGI app. Without arguments, settings come from ``$HELPDESK_RETAIN_CONFIG`` or
    ``./helpdesk-retain.toml``. Starts no scheduler; opens no connection until the first request."""
    from .web_app import build_app

    return build_app(settings, runtime=runtime)
