"""Jira Cloud integration: issue state changes from admin webhooks (Jira settings > System > WebHooks).

Signature: ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` keyed with the webhook
secret's UTF-8 bytes (note: not ``X-Hub-Signature-256``). Jira signs only when a secret is set; this
plugin requires it. ``X-Atlassian-Webhook-Identifier`` is unchanged across retries: the delivery id.

Events come from the body's ``webhookEvent`` without its ``jira:`` prefix. Issue ids are the issue
key (``APP-12``); ``external_id`` is the numeric ``issue.id``, which survives a move between projects.
``comment_created`` / ``comment_updated`` carry the ticket URLs of the comment and are never a transition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from helpdesk_retain.events import Event, IssueEvent, IssueState
from helpdesk_retain.integrations import (
    Integration,
    PayloadError,
    UnsupportedEvent,
    dig,
    id_str,
    parse_time,
    vocab_key,
)
from helpdesk_retain.plugin_kit import DeliveryHeaderMixin, HmacScheme, HmacSignedMixin, load_object, require_object
from helpdesk_retain.tracker_kit import (
    Parser,
    TrackerConfig,
    bug_flag,
    delivery_guid,
    dispatch,
    matches_any,
    ticket_links,
)


class Config(TrackerConfig):
    #: issue types that are bugs (``issuetype.name``)
    bug_issue_types: tuple[str, ...] = ("Bug",)
    #: resolutions (or done-category status names) that mean closed without a fix; names vary by site
    wontfix_resolutions: tuple[str, ...] = (
        "Won't Do",
        "Won't Fix",
        "Duplicate",
        "Cannot Reproduce",
        "Incomplete",
        "Declined",
    )


STATE_FIELDS = frozenset({"status", "resolution"})


def _changes(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = dig(payload, "changelog", "items")
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _changed(item: Mapping[str, Any]) -> str:
    return vocab_key(item.get("fieldId") or item.get("field") or "")


def issue_state(fields: Mapping[str, Any], changes: list[Mapping[str, Any]], config: Config) -> IssueState:
    """Resolved when the status category is ``done`` (or, without a category, a resolution is set),
    or when this delivery sets a resolution; then won't-fix by resolution or status name, else fixed.
    A status category other than ``done`` is open, even if a sloppy workflow left the resolution set."""
    status = fields.get("status") if isinstance(fields.get("status"), Mapping) else None
    resolution = dig(fields, "resolution", "name")
    set_now = [c for c in changes if _changed(c) == "resolution"]
    if set_now:
        resolution = set_now[-1].get("toString") or None
    category = vocab_key(dig(status, "statusCategory", "key") or "") if status else ""
    if set_now and resolution:
        done = True
    elif category:
        done = category == "done"
    elif status is None and "resolution" not in fields:
        raise PayloadError("missing field: issue.fields.status")
    else:
        done = resolution is not None
    if not done:
        return "open"
    names = [resolution, status.get("name") if status else None]
    return "wontfix" if matches_any(names, config.wontfix_resolutions) else "fixed"


def _browse_url(issue: Mapping[str, Any], key: str) -> str | None:
    """``https://acme.atlassian.net/rest/api/2/issue/10000`` -> ``https://acme.atlassian.net/browse/KEY``."""
    api = issue.get("self")
    if not isinstance(api, str) or "/rest/" not in api:
        return None
    return f"{api.split('/rest/', 1)[0]}/browse/{key}"


def _fields(payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], str, Mapping[str, Any]]:
    issue = require_object(dig(payload, "issue", required=True), "issue")
    key = str(dig(issue, "key", field="issue.key", required=True))
    return issue, key, require_object(dig(issue, "fields", field="issue.fields", required=True), "issue.fields")


def issue_event(
    payload: Mapping[str, Any],
    config: Config,
    *,
    transition: bool,
    state: IssueState | None = None,
    times: tuple[object, ...] = (),
) -> IssueEvent:
    """The issue as the delivery shows it. ``state`` overrides the one read from the fields; ``times`` are
    fallbacks for ``occurred_at`` after the body ``timestamp`` (``issue.fields.updated`` comes last)."""
    issue, key, fields = _fields(payload)
    when = next((t for t in (payload.get("timestamp"), *times, fields.get("updated")) if t), None)
    if when is None:
        raise PayloadError("missing field: timestamp (or issue.fields.updated)")
    issue_type = dig(fields, "issuetype", "name")
    return IssueEvent(
        tracker="jira",
        issue=key,
        state=state or issue_state(fields, _changes(payload), config),
        occurred_at=parse_time(when, "timestamp"),
        transition=transition,
        url=_browse_url(issue, key),
        title=fields.get("summary"),
        is_bug=bug_flag(None if issue_type is None else [issue_type], config.bug_issue_types),
        external_id=id_str(issue.get("id")),
        links=ticket_links(fields.get("description"), dig(payload, "comment", "body")),
    )


def parse_created(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """A new issue: its first state is a transition (from nothing)."""
    return [issue_event(payload, config, transition=True)]


def parse_updated(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """An update: a transition only when ``changelog.items`` changes the status or the resolution.
    Comments arrive here too (``issue_event_type_name: issue_commented``, with ``comment``)."""
    moved = any(_changed(c) in STATE_FIELDS for c in _changes(payload))
    return [issue_event(payload, config, transition=moved)]


def parse_comment(payload: Mapping[str, Any], config: Config) -> list[Event]:
    """``comment_created`` / ``comment_updated``: the ticket URLs of the comment (its new body when edited)
    and the issue's state as it stands, never a transition.

    The event's issue is trimmed (key, id, summary, status; no resolution). An issue in the done category
    could then be fixed or won't-fix, and core applies a state that differs from the stored one even
    without a transition (a stored won't-fix would become fixed and remind agents). So unless the status
    name itself says won't-fix, such a delivery is ignored; the same comment reaches core again through
    ``jira:issue_updated`` (``issue_commented``) with the whole issue while Jira still sends it there."""
    dig(payload, "comment", "body", required=True)
    _, _, fields = _fields(payload)
    state = issue_state(fields, [], config)  # PayloadError when neither status nor resolution is given
    category = vocab_key(dig(fields, "status", "statusCategory", "key") or "")
    if "resolution" not in fields and (not category or (category == "done" and state != "wontfix")):
        raise UnsupportedEvent("comment event without the issue's resolution: its state cannot be told")
    times = (dig(payload, "comment", "updated"), dig(payload, "comment", "created"))
    return [issue_event(payload, config, transition=False, state=state, times=times)]


#: the event table, keyed by ``webhookEvent`` without ``jira:``. ``jira:issue_deleted`` and
#: ``comment_deleted`` (its links stay: a link is never taken back) are ignored.
EVENT_PARSERS: dict[str, Parser[Config]] = {
    "issue_created": parse_created,
    "issue_updated": parse_updated,
    "comment_created": parse_comment,
    "comment_updated": parse_comment,
}


class JiraIntegration(HmacSignedMixin, DeliveryHeaderMixin, Integration):
    slug = "jira"
    Config: ClassVar[type[Config]] = Config
    event_kinds = frozenset(EVENT_PARSERS)
    config: Config
    signature = HmacScheme("x-hub-signature", hashlib.sha256, "hex", "sha256=")  # not X-Hub-Signature-256
    delivery_headers = ("x-atlassian-webhook-identifier",)

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        payload = load_object(body)
        kind = str(dig(payload, "webhookEvent", required=True)).removeprefix("jira:")
        return dispatch(EVENT_PARSERS, kind, payload, self.config)

    def sign(
        self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None, event: str | None = None
    ) -> dict[str, str]:
        """Jira's headers for ``body``. Jira signs no time and names the event in the body, so
        ``timestamp`` and ``event`` are unused."""
        return {
            self.signature.header: self.signature.sign(self.secret, body),
            "x-atlassian-webhook-identifier": delivery_id or delivery_guid(body),
            "x-atlassian-webhook-flow": "Primary",
            "content-type": "application/json",
        }
