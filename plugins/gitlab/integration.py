"""GitLab integration: issue and work-item state changes from project or group webhooks.

Authentication, either scheme (a hook with both a Secret token and a Signing token sends both):
- the signing token (Standard Webhooks): ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature``
  = ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, key = base64-decoded part of ``whsec_...``,
  timestamp inside the replay window. Required, and the only check, when ``signing_token`` is set.
- ``X-Gitlab-Token``: the plain secret token, compared in constant time with the source ``secret``.
  Without ``signing_token`` a delivery that carries it is judged by it alone (signature headers ignored).
- Without ``signing_token`` and without ``X-Gitlab-Token``, a ``secret`` that is itself a ``whsec_...``
  signing token verifies the signature; a plain secret is never used as a signing key.

Delivery id: ``Idempotency-Key`` (kept on "Resend request"), else ``X-Gitlab-Event-UUID``, else
``webhook-id``. Events are dispatched on the body's ``object_kind`` (the ``X-Gitlab-Event`` header
says the same thing) and ``object_attributes.action``. Issue ids: ``<project path>#<iid>``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import SecretStr, field_validator

from helpdesk_retain.events import Event, IssueEvent, IssueState
from helpdesk_retain.integrations import (
    Integration,
    PayloadError,
    UnsupportedEvent,
    check_digest,
    dig,
    id_str,
    parse_time,
    require_header,
    vocab_key,
)
from helpdesk_retain.plugin_kit import DeliveryHeaderMixin, json_object, load_object, require_object
from helpdesk_retain.plugins.generic.integration import (
    StandardWebhooksMixin,
    standard_webhooks_key,
    standard_webhooks_signature,
)
from helpdesk_retain.tracker_kit import (
    LabelConfig,
    Parser,
    bug_flag,
    closed_state,
    delivery_guid,
    dispatch,
    matches_any,
    names_of,
    ticket_links,
)


class Config(LabelConfig):
    """GitLab's keys. GitLab has no close reason: ``wontfix_labels`` decide a close that the work-item status,
    a duplicate-of or a move does not."""

    #: GitLab's signing token (``whsec_...``); when set, every delivery must carry a valid signature
    signing_token: SecretStr | None = None
    #: work-item types that are planning items, not defects: ignored
    ignored_work_item_types: tuple[str, ...] = ("Epic", "Objective", "Key Result", "Requirement", "Test Case")

    @field_validator("signing_token")
    @classmethod
    def _decodable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            standard_webhooks_key(value.get_secret_value())  # ValueError names the key at startup
        return value


OPEN_STATES = frozenset({"opened", "reopened", "open"})
STATE_IDS = {1: "opened", 2: "closed"}


def issue_state(attrs: Mapping[str, Any], labels: list[str] | None, config: Config, field: str) -> IssueState:
    """opened -> open; closed -> wontfix when a won't-fix label, a "canceled" work-item status
    (Won't do, Duplicate), a duplicate-of or a move says so; otherwise fixed."""
    raw = attrs.get("state") or STATE_IDS.get(attrs.get("state_id"))  # some payloads carry only state_id
    if raw is None:
        raise PayloadError(f"missing field: {field}.state")
    state = vocab_key(raw)
    if state in OPEN_STATES:
        return "open"
    if state != "closed":
        raise PayloadError(f"{field}.state: {raw!r} is not opened or closed")
    category = vocab_key(dig(attrs, "status", "category") or "")
    if category in ("canceled", "cancelled") or attrs.get("duplicated_to_id") or attrs.get("moved_to_id"):
        return "wontfix"
    return closed_state(labels, config)


def _check_type(attrs: Mapping[str, Any], config: Config) -> None:
    kind = attrs.get("type")
    if kind and matches_any([kind], config.ignored_work_item_types):
        raise UnsupportedEvent(f"work item type {kind!r} is ignored")


def _event(
    payload: Mapping[str, Any],
    attrs: Mapping[str, Any],
    config: Config,
    field: str,
    *,
    labels: list[str] | None,
    transition: bool,
    links: tuple[str, ...],
    url: str | None = None,
) -> IssueEvent:
    _check_type(attrs, config)
    if payload.get("project") is None and payload.get("object_kind") == "work_item":
        raise UnsupportedEvent("group-level work item (no project)")
    path = dig(payload, "project", "path_with_namespace", required=True)
    iid = id_str(dig(attrs, "iid", field=f"{field}.iid", required=True))
    updated = dig(attrs, "updated_at", field=f"{field}.updated_at", required=True)
    return IssueEvent(
        tracker="gitlab",
        issue=f"{path}#{iid}",
        state=issue_state(attrs, labels, config, field),
        occurred_at=parse_time(updated, f"{field}.updated_at"),
        transition=transition,
        url=attrs.get("url") or url,
        title=attrs.get("title"),
        is_bug=bug_flag(labels, config.bug_labels),
        external_id=id_str(attrs.get("id")),
        links=links,
    )


def _attributes(payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[str] | None]:
    attrs = require_object(dig(payload, "object_attributes", required=True), "object_attributes")
    labels = names_of(payload.get("labels"), "title")  # top level; also under object_attributes
    return attrs, labels if labels is not None else names_of(attrs.get("labels"), "title")


def parse_transition(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """open / close / reopen: the action is the state change."""
    attrs, labels = _attributes(payload)
    links = ticket_links(attrs.get("description"))
    return [_event(payload, attrs, config, "object_attributes", labels=labels, transition=True, links=links)]


def parse_update(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """update: a transition only when ``changes`` shows the state itself changing."""
    attrs, labels = _attributes(payload)
    changes = payload.get("changes")
    moved = isinstance(changes, Mapping) and ("state_id" in changes or "state" in changes)
    links = ticket_links(attrs.get("description"))
    return [_event(payload, attrs, config, "object_attributes", labels=labels, transition=moved, links=links)]


def parse_note(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """A comment on an issue: the issue's state as it stands, plus ticket URLs from the note."""
    issue = require_object(dig(payload, "issue", required=True), "issue")
    note = dig(payload, "object_attributes", "note", required=True)
    note_url = dig(payload, "object_attributes", "url")
    # the note hook's issue carries no url of its own: the note's url without "#note_N" is the issue's
    url = note_url.split("#", 1)[0] if isinstance(note_url, str) else None
    links = ticket_links(note, issue.get("description"))
    labels = names_of(issue.get("labels"), "title")
    return [_event(payload, issue, config, "issue", labels=labels, transition=False, links=links, url=url)]


#: the event table, keyed ``issue.<action>`` (issues and project work items) and ``note.issue``
EVENT_PARSERS: dict[str, Parser[Config]] = {
    "issue.open": parse_transition,
    "issue.close": parse_transition,
    "issue.reopen": parse_transition,
    "issue.update": parse_update,
    "note.issue": parse_note,
}

#: ``X-Gitlab-Event`` per ``object_kind``, for ``sign``
HOOK_NAMES = {"issue": "Issue Hook", "work_item": "Issue Hook", "note": "Note Hook", "push": "Push Hook"}


def event_kind(payload: Mapping[str, Any]) -> str:
    kind = dig(payload, "object_kind", required=True)
    if kind in ("issue", "work_item"):
        return f"issue.{dig(payload, 'object_attributes', 'action', required=True)}"
    if kind == "note":
        noteable = vocab_key(dig(payload, "object_attributes", "noteable_type") or "")
        return "note.issue" if noteable in ("issue", "workitem") else f"note.{noteable}"
    return str(kind)


def guess_hook(body: bytes) -> str:
    payload = json_object(body)
    if payload is None:
        return "Issue Hook"
    kind = str(payload.get("object_kind"))
    name = HOOK_NAMES.get(kind, f"{kind.replace('_', ' ').title()} Hook")
    confidential = dig(payload, "object_attributes", "confidential") is True
    return f"Confidential {name}" if confidential and kind in ("issue", "work_item") else name


def _is_signing_key(secret: str) -> bool:
    """A ``whsec_<base64>`` value, usable as a Standard Webhooks key (a secret token merely starting with
    ``whsec_`` is compared as a token)."""
    if not secret.startswith("whsec_"):
        return False
    try:
        standard_webhooks_key(secret)
    except ValueError:
        return False
    return True


class GitlabIntegration(DeliveryHeaderMixin, StandardWebhooksMixin, Integration):
    slug = "gitlab"
    Config: ClassVar[type[Config]] = Config
    event_kinds = frozenset(EVENT_PARSERS)
    #: only the signing-token scheme carries a timestamp; it is checked against the replay window
    uses_timestamp: ClassVar[bool] = True
    config: Config
    #: the delivery id, in order of preference (see the module docstring)
    delivery_headers = ("idempotency-key", "x-gitlab-event-uuid", "webhook-id")

    @property
    def key(self) -> bytes:
        token = self.config.signing_token or self.config.secret
        return standard_webhooks_key(token.get_secret_value())

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """See the module docstring: the signing token when configured, else the secret token when sent,
        else a ``whsec_`` secret as the signing key; anything else needs ``X-Gitlab-Token``."""
        secret = self.config.secret.get_secret_value()
        if self.config.signing_token is not None:
            StandardWebhooksMixin.verify(self, headers, body)
            return
        if not headers.get("x-gitlab-token") and headers.get("webhook-signature") and _is_signing_key(secret):
            StandardWebhooksMixin.verify(self, headers, body)  # key: the decoded whsec_ secret
            return
        check_digest(secret, require_header(headers, "x-gitlab-token"))

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        payload = load_object(body)
        return dispatch(EVENT_PARSERS, event_kind(payload), payload, self.config)

    def sign(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        delivery_id: str | None = None,
        event: str | None = None,
        scheme: str | None = None,
    ) -> dict[str, str]:
        """GitLab's headers for ``body``. ``scheme`` is "token" or "signature"; by default the signing
        token is used when configured, else the secret token."""
        event_id = delivery_id or delivery_guid(body)
        headers = {
            "x-gitlab-event": event or guess_hook(body),
            "x-gitlab-event-uuid": event_id,
            "idempotency-key": event_id,
            "x-gitlab-instance": "https://gitlab.example.com",
            "content-type": "application/json",
        }
        if (scheme or ("signature" if self.config.signing_token else "token")) == "token":
            headers["x-gitlab-token"] = self.config.secret.get_secret_value()
            return headers
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers.update(
            {
                "webhook-id": event_id,
                "webhook-timestamp": ts,
                "webhook-signature": standard_webhooks_signature(self.key, event_id, ts, body),
            }
        )
        return headers
