"""Helpers shared by the issue-tracker plugins (GitHub, GitLab, Jira, Linear).

Pure functions only: the trackers' config keys, label matching, URLs found in issue text, delivery GUIDs,
the event-table dispatcher with the ``only_bugs`` filter. Nothing here touches the store. Helpers every
plugin shares (JSON bodies, HMAC header schemes, delivery-id headers) are in ``plugin_kit``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from . import plugin_kit
from .events import Event, IssueEvent, IssueState
from .integrations import IntegrationConfig, UnsupportedEvent, vocab_key
from .links import ticket_refs

C = TypeVar("C", bound=IntegrationConfig)
Parser = Callable[[Mapping[str, Any], C], list[Event]]


class TrackerConfig(IntegrationConfig):
    """Keys every tracker source has besides ``plugin`` and ``secret``."""

    #: drop (answer "ignored") deliveries about issues that are known not to be bugs
    only_bugs: bool = False


class LabelConfig(TrackerConfig):
    """Keys of the trackers that tell bugs and won't-fix closes by label (GitHub, GitLab)."""

    #: labels that mark an issue as a bug (``is_bug``); empty: issues are never classified
    bug_labels: tuple[str, ...] = ("bug",)
    #: labels that make a close a won't-fix where the tracker does not give a reason of its own
    wontfix_labels: tuple[str, ...] = ("wontfix", "won't fix", "invalid", "duplicate")


def label_key(value: object) -> str:
    """Labels and resolution names compare like vocabulary, also ignoring apostrophes ("Won't Fix")."""
    return vocab_key(value).replace("'", "").replace("\u2019", "")


def matches_any(names: Iterable[object], wanted: Iterable[str]) -> bool:
    keys = {label_key(w) for w in wanted}
    return any(label_key(n) in keys for n in names if n is not None)


def closed_state(labels: Iterable[object] | None, config: LabelConfig) -> IssueState:
    """How a closed issue ended when only its labels can tell: a won't-fix label says so, else it was fixed."""
    return "wontfix" if matches_any(labels or (), config.wontfix_labels) else "fixed"


def bug_flag(names: Iterable[object] | None, wanted: tuple[str, ...]) -> bool | None:
    """True/False when the delivery lists the issue's labels (types); None when it does not say."""
    if names is None or not wanted:
        return None
    return matches_any(names, wanted)


def names_of(items: object, key: str) -> list[str] | None:
    """``[{"name": "bug"}, "ui"]`` -> ``["bug", "ui"]``; None when ``items`` is not a list."""
    if not isinstance(items, list):
        return None
    out: list[str] = []
    for item in items:
        value = item.get(key) if isinstance(item, Mapping) else item
        if isinstance(value, str):
            out.append(value)
    return out


def text_of(value: object) -> str:
    """Plain text of a string, or of Atlassian Document Format / nested JSON (all ``text`` leaves)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return " ".join(
            text_of(v) for k, v in value.items() if k in ("text", "content", "attrs", "marks", "href", "url")
        )
    if isinstance(value, list):
        return " ".join(text_of(v) for v in value)
    return ""


def ticket_links(*texts: object) -> tuple[str, ...]:
    """URLs mentioned in an issue's text and comment, for ``IssueEvent.links``: first occurrence first,
    deduplicated. Core keeps the help-desk ticket URLs (``links.ticket_refs`` recognises their shapes
    and also matches any URL equal to a stored ticket's ``url``), so every URL is passed on."""
    return tuple(ref.url for ref in ticket_refs(text_of(t) for t in texts))


def delivery_guid(body: bytes) -> str:
    """A stable GUID for ``body`` (used by ``sign``): re-posting the same bytes looks like a redelivery."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "helpdesk-retain:" + hashlib.sha256(body).hexdigest()))


def dispatch(parsers: Mapping[str, Parser[C]], kind: str, payload: Mapping[str, Any], config: C) -> list[Event]:
    """Run the event table (``plugin_kit.dispatch``: unknown kinds are UnsupportedEvent, answered 202 "ignored";
    wrong JSON types PayloadError), then the ``only_bugs`` filter."""
    return only_bugs(plugin_kit.dispatch(parsers, kind, payload, config), config)


def only_bugs(events: list[Event], config: IntegrationConfig) -> list[Event]:
    """With ``only_bugs``, issues known not to be bugs are dropped; unknown (None) is kept."""
    if not getattr(config, "only_bugs", False):
        return events
    kept = [e for e in events if not (isinstance(e, IssueEvent) and e.is_bug is False)]
    if not kept:
        raise UnsupportedEvent("not a bug (only_bugs is set)")
    return kept
