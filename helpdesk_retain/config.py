"""Configuration: one TOML file (+ environment overrides) validated once into typed settings.

Contract: ``load_settings`` either returns a fully validated ``Settings`` or raises ``ConfigError``
whose lines each name a key path (``sources.zendesk.secret: Field required``). Any string may be
written ``{ env = "NAME" }`` to read it from the environment. ``HELPDESK_RETAIN__SECTION__KEY=value``
overrides ``[section] key`` (e.g. ``HELPDESK_RETAIN__DATABASE__URL``). Unknown keys are errors.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "HELPDESK_RETAIN__"
DEFAULT_PATH = "helpdesk-retain.toml"
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ConfigError(Exception):
    """Invalid configuration; ``str()`` lists one ``key.path: reason`` per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: str = "sqlite:///helpdesk-retain.db"
    pool_size: int = Field(5, ge=1)
    echo: bool = False


class ServerSettings(Section):
    max_body_bytes: int = Field(1_048_576, ge=1024)
    replay_window_seconds: int = Field(300, ge=1)
    retry_after_seconds: int = Field(30, ge=1)
    threads: int = Field(8, ge=1)


class InboxSettings(Section):
    purge_processed_after_days: int = Field(30, ge=1)


class OutboxSettings(Section):
    path: str = "outbox"


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    sender: str = "helpdesk-retain@localhost"
    timeout_seconds: float = 10.0


class DigestSettings(Section):
    recipients: list[str] = []
    send_at: str = "mon 08:00"
    timezone: str = "UTC"
    language: str = "en"

    @field_validator("send_at")
    @classmethod
    def _send_at(cls, value: str) -> str:
        if not re.fullmatch(r"(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError('expected "<mon..sun> HH:MM", e.g. "mon 08:00"')
        return value


class SchedulerSettings(Section):
    sweep_seconds: int = Field(30, ge=1)


class Settings(Section):
    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    inbox: InboxSettings = InboxSettings()
    outbox: OutboxSettings = OutboxSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    smtp: SmtpSettings | None = None
    digest: DigestSettings = DigestSettings()
    #: raw per-source tables; each is validated by its plugin's own Config in ``validate_sources``
    sources: dict[str, dict[str, Any]] = {}

    @field_validator("sources")
    @classmethod
    def _source_names(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, table in value.items():
            if not SOURCE_NAME.match(name):
                raise ValueError(f"source name {name!r} must match {SOURCE_NAME.pattern}")
            if "plugin" not in table:
                raise ValueError(f"{name}.plugin: Field required")
        return value


def format_errors(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    problems = []
    for err in exc.errors():
        path = ".".join(str(p) for p in (*prefix, *err["loc"]))
        problems.append(f"{path}: {err['msg']}")
    return problems


def _resolve_env(value: Any, path: tuple[str, ...], problems: list[str]) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"env"} and isinstance(value["env"], str):
            found = os.environ.get(value["env"])
            if found is None:
                problems.append(f"{'.'.join(path)}: environment variable {value['env']} is not set")
            return found
        return {k: _resolve_env(v, (*path, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, (*path, str(i)), problems) for i, v in enumerate(value)]
    return value


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        if keys:
            target[keys[-1]] = value


def settings_from_dict(data: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Validate a parsed TOML document (tests build settings this way)."""
    merged: dict[str, Any] = _deepcopy(data)
    _apply_env_overrides(merged, os.environ if environ is None else environ)
    problems: list[str] = []
    resolved = _resolve_env(merged, (), problems)
    if problems:
        raise ConfigError(problems)
    try:
        return Settings.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None


def _deepcopy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("HELPDESK_RETAIN_CONFIG") or DEFAULT_PATH)


def load_settings(path: str | Path) -> Settings:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from None
    return settings_from_dict(data)
