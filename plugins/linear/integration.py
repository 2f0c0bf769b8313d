"""Linear integration: issue state changes from workspace or team webhooks.

Signature: ``Linear-Signature: <bare hex HMAC-SHA256 of the raw body>`` keyed with the signing
secret's UTF-8 bytes. Replay protection: the body's ``webhookTimestamp`` (ms) must lie inside the
replay window; it is checked after the signature (so the JSON is only read once it is authentic).
``Linear-Delivery`` is the delivery id.

Events are ``<type>.<action>`` from the body, lower-cased (``issue.update``). Issue ids are the
identifier (``ENG-7``): ``data.identifier``, else team key + number, else taken from the issue URL.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from helpdesk_retain.events import Event, IssueEvent, IssueState
from helpdesk_retain.integrations import (
    Integration,
    PayloadError,
    SignatureError,
    check_digest,
    dig,
    id_str,
    parse_time,
    require_header,
    vocab_key,
)
from helpdesk_retain.plugin_kit import DeliveryHeaderMixin, HmacScheme, json_object, load_object, require_object
from helpdesk_retain.tracker_kit import Parser, TrackerConfig, bug_flag, delivery_guid, dispatch, names_of, ticket_links


class Config(TrackerConfig):
    #: label names that mark an issue as a bug (``is_bug``)
    bug_labels: tuple[str, ...] = ("Bug",)


#: workflow state types (``data.state.type``) -> normalized issue state
STATE_TYPES: dict[str, IssueState] = {
    "triage": "open",
    "backlog": "open",
    "unstarted": "open",
    "started": "open",
    "completed": "fixed",
    "canceled": "wontfix",  # also a "Duplicate" state in workspaces that model it as canceled
    "duplicate": "wontfix",  # Linear's own duplicate state type (an issue marked as a duplicate)
}

#: ``Linear-Signature``: the bare hex HMAC-SHA256 of the body (compared ignoring the hex digits' case)
SIGNATURE = HmacScheme("linear-signature", hashlib.sha256)
IDENTIFIER_IN_URL = re.compile(r"/issue/([A-Za-z0-9]+-\d+)(?:/|$|#|\?)")


def identifier(payload: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """``data.identifier``; older payloads lack it: team key + number, else the issue URL."""
    if data.get("identifier"):
        return str(data["identifier"])
    team, number = dig(data, "team", "key"), data.get("number")
    if team and number is not None:
        return f"{team}-{id_str(number)}"
    url = payload.get("url") or data.get("url")
    match = IDENTIFIER_IN_URL.search(url) if isinstance(url, str) else None
    if match is None:
        raise PayloadError("missing field: data.identifier")
    return match.group(1).upper()


def issue_state(data: Mapping[str, Any]) -> tuple[IssueState, bool]:
    """The state and whether its type is known. A type Linear adds later is not refused: it reads as
    won't-fix or fixed when ``canceledAt`` / ``completedAt`` is set, else open, and is never a transition."""
    kind = dig(data, "state", "type", field="data.state.type", required=True)
    if not isinstance(kind, str):
        raise PayloadError(f"data.state.type: {kind!r} is not a string")
    state = STATE_TYPES.get(vocab_key(kind))
    if state is not None:
        return state, True
    if data.get("canceledAt"):
        return "wontfix", False
    return ("fixed" if data.get("completedAt") else "open"), False


def issue_event(payload: Mapping[str, Any], config: Config, *, transition: bool) -> IssueEvent:
    data = require_object(dig(payload, "data", required=True), "data")
    when = data.get("updatedAt") or payload.get("createdAt") or payload.get("webhookTimestamp")
    if when is None:
        raise PayloadError("missing field: data.updatedAt")
    labels = names_of(data.get("labels"), "name")
    state, known = issue_state(data)
    return IssueEvent(
        tracker="linear",
        issue=identifier(payload, data),
        state=state,
        occurred_at=parse_time(when, "data.updatedAt"),
        transition=transition and known,
        url=payload.get("url") or data.get("url"),
        title=data.get("title"),
        is_bug=bug_flag(labels, config.bug_labels),
        external_id=id_str(data.get("id")),
        links=ticket_links(data.get("description")),
    )


def parse_create(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """A new issue: its first state is a transition (from nothing)."""
    return [issue_event(payload, config, transition=True)]


def parse_update(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """An update is a transition only when ``updatedFrom`` holds the previous ``stateId``."""
    previous = payload.get("updatedFrom")
    moved = isinstance(previous, Mapping) and "stateId" in previous
    return [issue_event(payload, config, transition=moved)]


#: the event table, keyed ``<type>.<action>`` lower-cased. ``Issue.remove`` and ``Comment.*`` are
#: ignored: a comment's ``data.issue`` carries only id and title, so the issue's state cannot be told.
EVENT_PARSERS: dict[str, Parser[Config]] = {
    "issue.create": parse_create,
    "issue.update": parse_update,
}


def _body_timestamp(body: bytes) -> float | None:
    """``webhookTimestamp`` in seconds, or None when the body does not say (or is not a JSON object)."""
    value = dig(json_object(body), "webhookTimestamp")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignatureError("webhookTimestamp is not a number")
    return value / 1000


class LinearIntegration(DeliveryHeaderMixin, Integration):
    slug = "linear"
    Config: ClassVar[type[Config]] = Config
    event_kinds = frozenset(EVENT_PARSERS)
    uses_timestamp: ClassVar[bool] = True
    #: Linear counts only HTTP 200 as delivered (webhook-sources.md); core should answer this code
    success_status: ClassVar[int] = 200
    config: Config
    delivery_headers = ("linear-delivery",)

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        check_digest(SIGNATURE.sign(self.secret, body), require_header(headers, SIGNATURE.header).lower())
        # Every genuine delivery carries webhookTimestamp inside the signed bytes, so a captured
        # delivery cannot be replayed outside the window; a body without one was signed by the secret
        # holder and is accepted, as Linear's SDK does when no timestamp is given.
        sent = _body_timestamp(body)
        if sent is not None:
            self.check_timestamp(sent)

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        payload = load_object(body)
        kind = f"{dig(payload, 'type', required=True)}.{dig(payload, 'action', required=True)}".lower()
        return dispatch(EVENT_PARSERS, kind, payload, self.config)

    def sign(
        self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None, event: str | None = None
    ) -> dict[str, str]:
        """Linear's headers for ``body``. Linear's timestamp lives in the signed body
        (``webhookTimestamp``), so ``timestamp`` is unused: put a fresh one in the body."""
        return {
            SIGNATURE.header: SIGNATURE.sign(self.secret, body),
            "linear-delivery": delivery_id or delivery_guid(body),
            "linear-event": event or _guess_type(body),
            "content-type": "application/json; charset=utf-8",
            "user-agent": "Linear-Webhook",
        }


def _guess_type(body: bytes) -> str:
    value = dig(json_object(body), "type")
    return value if isinstance(value, str) else "Issue"
