"""What one app (or CLI command) holds: settings, engine, session factory, integrations, metrics.

Built once by ``build_runtime``; kept on ``app.extensions["helpdesk_retain"]``. Plugin instances are
per runtime with frozen config, never shared module-level singletons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .config import ConfigError, Settings, format_errors
from .db import make_engine, make_sessionmaker
from .ingest import Steps, default_steps
from .integrations import Integration, IntegrationConfig, PluginLoadError, load_plugin
from .metrics import Metrics


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    integrations: dict[str, Integration]
    metrics: Metrics = field(default_factory=Metrics)
    steps: Steps = field(default_factory=default_steps)
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.engine.dispose()

    def source_config(self, source: str) -> IntegrationConfig | None:
        """The configuration of the source's integration (None for a source no longer configured)."""
        integration = self.integrations.get(source)
        return integration.config if integration else None


def build_integrations(settings: Settings) -> dict[str, Integration]:
    """Import and configure each enabled source's plugin; raise ConfigError naming the key on failure."""
    built: dict[str, Integration] = {}
    problems: list[str] = []
    for name, table in settings.sources.items():
        slug = table.get("plugin")
        try:
            cls = load_plugin(str(slug))
        except PluginLoadError as exc:
            problems.append(f"sources.{name}.plugin: {exc}")
            continue
        if not (isinstance(cls, type) and issubclass(cls, Integration)):
            problems.append(f"sources.{name}.plugin: {slug!r} is not an Integration")
            continue
        try:
            config = cls.Config.model_validate(table)
            built[name] = cls(config, replay_window_seconds=settings.server.replay_window_seconds)
        except ValidationError as exc:
            problems.extend(format_errors(exc, ("sources", name)))
        except ValueError as exc:
            problems.append(f"sources.{name}: {exc}")
    if problems:
        raise ConfigError(problems)
    return built


def build_runtime(settings: Settings, *, engine: Engine | None = None) -> Runtime:
    integrations = build_integrations(settings)
    db = settings.database
    engine = engine or make_engine(db.url, pool_size=db.pool_size, echo=db.echo, busy_timeout_ms=db.busy_timeout_ms)
    return Runtime(settings, engine, make_sessionmaker(engine), integrations)
