"""Configured channels: ``[notify.channels.<name>]`` tables -> one notifier instance each.

Only the plugins of configured channels are imported (an installed plugin nobody enables never is).
Settings validation calls ``check_settings`` so a bad channel stops startup with its key path; the
instances are built once per runtime and kept on ``runtime.extras``.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..integrations import PluginLoadError, load_plugin
from .contract import GROUP, Notifier

if TYPE_CHECKING:
    from ..config import NotifySettings
    from ..runtime import Runtime

#: the channel used when ``[notify]`` configures none: email via ``[smtp]``, else the outbox folder
DEFAULT_CHANNELS: dict[str, dict[str, Any]] = {"email": {"plugin": "email"}}


def channel_tables(cfg: NotifySettings) -> dict[str, dict[str, Any]]:
    return cfg.channels or DEFAULT_CHANNELS


@cache
def notifier_class(slug: str) -> type[Notifier]:
    """The plugin class (cached: scanning entry points costs milliseconds, and routing asks per message)."""
    cls = load_plugin(slug, GROUP)
    if not (isinstance(cls, type) and issubclass(cls, Notifier)):
        raise PluginLoadError(f"plugin {slug!r} is not a Notifier")
    return cls


def check_settings(cfg: NotifySettings) -> list[str]:
    """Problems of the ``[notify]`` section, one ``key.path: reason`` each (empty when valid)."""
    from ..config import format_errors

    problems: list[str] = []
    for name, table in cfg.channels.items():
        try:
            notifier_class(str(table["plugin"])).Config.model_validate(table)
        except PluginLoadError as exc:
            problems.append(f"notify.channels.{name}.plugin: {exc}")
        except ValidationError as exc:
            problems.extend(format_errors(exc, ("notify", "channels", name)))
    known = set(channel_tables(cfg))
    references: list[tuple[str, list[str] | None]] = [("notify.default_channels", cfg.default_channels)]
    references += [(f"notify.teams.{k}.channels", t.channels) for k, t in cfg.teams.items()]
    references += [(f"notify.assignees.{k}.channels", p.channels) for k, p in cfg.assignees.items()]
    for path, names in references:
        for unknown in sorted(set(names or ()) - known):
            problems.append(f"{path}: unknown channel {unknown!r}; define [notify.channels.{unknown}]")
    for source, template in cfg.ticket_urls.items():
        try:
            template.format(external_id="1", display_id="1")
        except (KeyError, IndexError, ValueError) as exc:
            problems.append(f"notify.ticket_urls.{source}: bad template ({exc!r}); use {{external_id}}")
    return problems


def build_notifiers(rt: Runtime) -> dict[str, Notifier]:
    built: dict[str, Notifier] = {}
    for name, table in channel_tables(rt.settings.notify).items():
        cls = notifier_class(str(table["plugin"]))
        built[name] = cls(cls.Config.model_validate(table), rt.settings)
    return built


def notifiers(rt: Runtime) -> dict[str, Notifier]:
    """The runtime's notifier per channel name (built on first use; validated with the settings)."""
    found = rt.extras.get("notifiers")
    if found is None:
        found = rt.extras["notifiers"] = build_notifiers(rt)
    return found
