"""GitHub integration: issue state changes from repository or organization webhooks.

Signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`` keyed with the webhook
secret's UTF-8 bytes. The legacy SHA-1 ``X-Hub-Signature`` is never accepted on its own. The event
is the ``X-GitHub-Event`` header plus the body's ``action``; ``X-GitHub-Delivery`` (kept on
redelivery) is the delivery id. Form mode (``payload=<urlencoded JSON>``) is read too; the signature
then covers the form bytes as received.

Issue ids are normalized as ``owner/repo#number`` (``repository.full_name`` as GitHub spells it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs

from helpdesk_retain.events import Event, IssueEvent, IssueState
from helpdesk_retain.integrations import Integration, PayloadError, UnsupportedEvent, dig, id_str, load_json, parse_time
from helpdesk_retain.plugin_kit import DeliveryHeaderMixin, HmacScheme, HmacSignedMixin, require_object
from helpdesk_retain.tracker_kit import (
    LabelConfig,
    Parser,
    bug_flag,
    closed_state,
    delivery_guid,
    dispatch,
    names_of,
    ticket_links,
)


class Config(LabelConfig):
    """GitHub's keys; ``wontfix_labels`` decide only a close without ``state_reason`` (older clients, the API)."""


#: ``X-GitHub-Event`` values this plugin reads; anything else (ping, push, pull_request, ...) is ignored
HANDLED_EVENTS = frozenset({"issues", "issue_comment"})


def issue_state(issue: Mapping[str, Any], labels: list[str] | None, config: Config) -> IssueState:
    """open -> open; closed: ``state_reason`` completed -> fixed, not_planned / duplicate -> wontfix,
    null (older clients) -> fixed unless a won't-fix label is set."""
    state = dig(issue, "state", field="issue.state", required=True)
    if state == "open":
        return "open"
    if state != "closed":
        raise PayloadError(f"issue.state: {state!r} is not open or closed")
    reason = issue.get("state_reason")
    if reason == "completed":
        return "fixed"
    if reason in ("not_planned", "duplicate"):
        return "wontfix"
    return closed_state(labels, config)


def issue_event(payload: Mapping[str, Any], config: Config, *, transition: bool, comment: object = None) -> IssueEvent:
    issue = require_object(dig(payload, "issue", required=True), "issue")
    repo = dig(payload, "repository", "full_name", required=True)
    number = id_str(dig(issue, "number", field="issue.number", required=True))
    labels = names_of(issue.get("labels"), "name")
    return IssueEvent(
        tracker="github",
        issue=f"{repo}#{number}",
        state=issue_state(issue, labels, config),
        occurred_at=parse_time(dig(issue, "updated_at", field="issue.updated_at", required=True), "issue.updated_at"),
        transition=transition,
        url=issue.get("html_url"),
        title=issue.get("title"),
        is_bug=bug_flag(labels, config.bug_labels),
        external_id=id_str(issue.get("id")),
        links=ticket_links(issue.get("body"), comment),
    )


def parse_transition(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """opened / closed / reopened: the action itself is the state change."""
    return [issue_event(payload, config, transition=True)]


def parse_edit(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """edited / labeled / unlabeled: the state is reported, not changed (a later label may say won't-fix)."""
    return [issue_event(payload, config, transition=False)]


def parse_comment(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """A comment on an issue, new or edited: its state as it stands, plus ticket URLs from the comment
    (for ``edited``, its new body; ``changes.body.from`` is not read: a link is never taken back)."""
    if dig(payload, "issue", "pull_request") is not None:
        raise UnsupportedEvent("issue_comment on a pull request")
    body = dig(payload, "comment", "body", required=True)
    return [issue_event(payload, config, transition=False, comment=body)]


#: the event table, keyed ``<X-GitHub-Event>.<action>``: dispatcher and documentation
EVENT_PARSERS: dict[str, Parser[Config]] = {
    "issues.opened": parse_transition,
    "issues.closed": parse_transition,
    "issues.reopened": parse_transition,
    "issues.edited": parse_edit,
    "issues.labeled": parse_edit,
    "issues.unlabeled": parse_edit,
    "issue_comment.created": parse_comment,
    "issue_comment.edited": parse_comment,
}


def load_payload(headers: Mapping[str, str], body: bytes) -> Any:
    """JSON, or GitHub's form mode ``payload=<urlencoded JSON>`` (a JSON body labelled as form is JSON)."""
    form = "x-www-form-urlencoded" in (headers.get("content-type") or "").lower()
    if body.lstrip()[:1] in (b"{", b"[") or not (form or body.startswith(b"payload=")):
        return load_json(body)
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise PayloadError(f"form body is not UTF-8: {exc}") from exc
    if not fields.get("payload"):
        raise PayloadError("missing field: payload (form mode)")
    return load_json(fields["payload"][0].encode())


def guess_event(body: bytes) -> str:
    """The ``X-GitHub-Event`` GitHub would send with ``body`` (for ``sign`` when the caller gives none)."""
    try:
        payload = load_payload({}, body)
    except PayloadError:
        return "issues"
    if not isinstance(payload, Mapping):
        return "issues"
    if "zen" in payload and "hook_id" in payload:
        return "ping"
    if "comment" in payload and "issue" in payload:
        return "issue_comment"
    if "pull_request" in payload:
        return "pull_request"
    if "issue" not in payload and "ref" in payload and "commits" in payload:
        return "push"
    return "issues"


class GithubIntegration(HmacSignedMixin, DeliveryHeaderMixin, Integration):
    slug = "github"
    Config: ClassVar[type[Config]] = Config
    event_kinds = frozenset(EVENT_PARSERS)
    config: Config
    signature = HmacScheme("x-hub-signature-256", hashlib.sha256, "hex", "sha256=")
    delivery_headers = ("x-github-delivery",)

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        event = headers.get("x-github-event")
        if not event:
            raise PayloadError("missing header: X-GitHub-Event")
        if event not in HANDLED_EVENTS:
            raise UnsupportedEvent(f"event {event!r}")
        payload = require_object(load_payload(headers, body))
        action = dig(payload, "action", required=True)
        return dispatch(EVENT_PARSERS, f"{event}.{action}", payload, self.config)

    def sign(
        self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None, event: str | None = None
    ) -> dict[str, str]:
        """GitHub's headers for ``body``; ``timestamp`` is unused (GitHub signs no time)."""
        form = body.startswith(b"payload=")
        return {
            self.signature.header: self.signature.sign(self.secret, body),
            "x-github-event": event or guess_event(body),
            "x-github-delivery": delivery_id or delivery_guid(body),
            "content-type": "application/x-www-form-urlencoded" if form else "application/json",
            "user-agent": "GitHub-Hookshot/helpdesk-retain-test",
        }
