"""Settings (leads): what this installation is configured to do, read from the validated config.
Secrets are never shown; changing settings means editing the TOML file and restarting."""

from __future__ import annotations

from flask import render_template

from .base import bp, requires, runtime


@bp.get("/settings")
@requires("lead")
def settings() -> str:
    s = runtime().settings
    sources = {name: table.get("plugin") for name, table in s.sources.items()}
    return render_template("web/settings.html", s=s, sources=sources)
