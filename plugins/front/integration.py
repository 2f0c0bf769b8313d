"""Front integration: application webhooks, and legacy rule webhooks for teams that still use them.

Which one a delivery is follows from its headers:

- Application webhook: ``X-Front-Request-Timestamp`` (ms) is present and ``X-Front-Signature`` is
  ``base64(HMAC-SHA256(app signing key, timestamp + ":" + raw body))``; the timestamp must lie in the replay window.
  The body is an envelope ``{"type", "authorization": {"id": "cmp_..."}, "payload": {event}}``.
  Saving the webhook in Front sends ``X-Front-Challenge``: the value is echoed with 200 (``Challenge``).
- Rule webhook: no timestamp header; ``X-Front-Signature`` is ``base64(HMAC-SHA1(API secret, raw body))`` and the
  body is the event itself. Rules may send only an "event preview" (ids and ``_links``): it is accepted, and the
  comment it yields has an empty body.

Delivery id: the event's ``id`` (``evt_...``). Event types are Front's event types (``inbound``, ``out_reply``,
``archive``, ...); an envelope without ``payload.type`` names the application event (``inbound_received``), which
``APP_EVENT_TYPES`` translates. The ticket is the conversation (``cnv_...``); times are epoch seconds, often floats.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from helpdesk_retain.events import Comment, Event, Person, Priority, Role, Status, TicketEvent
from helpdesk_retain.integrations import (
    Challenge,
    Integration,
    IntegrationConfig,
    PayloadError,
    SignatureError,
    UnsupportedEvent,
    check_digest,
    dig,
    hmac_digest,
    id_str,
    load_json,
    parse_time,
    require_header,
    vocab_key,
)
from helpdesk_retain.plugin_kit import (
    call_parser,
    comment_snapshot,
    field_links,
    field_text,
    field_time,
    html_to_text,
    json_object,
    requester_email,
    require_object,
)

#: conversation.status_category (ticketing-enabled workspaces) -> normalized status; read before the legacy status
STATUS_CATEGORIES: dict[str, Status] = {"open": "open", "waiting": "pending", "resolved": "solved"}
#: legacy statuses of a conversation that left the inbox: they win over status_category
LEFT_INBOX: dict[str, Status] = {"archived": "solved", "deleted": "closed", "trashed": "closed", "spam": "closed"}
#: conversation.status (legacy) -> normalized status, used when status_category is absent
STATUSES: dict[str, Status] = {
    "unassigned": "open",
    "assigned": "open",
    "open": "open",
    "archived": "solved",
    "resolved": "solved",
    "deleted": "closed",
    "trashed": "closed",
    "spam": "closed",
    "snoozed": "on_hold",
    "waiting": "pending",
}
#: the status an event implies when its conversation does not say (event previews)
EVENT_STATUS: dict[str, Status] = {"archive": "solved", "reopen": "open", "trash": "closed", "restore": "open"}
MESSAGE_ROLES: dict[str, Role] = {"inbound": "customer", "outbound": "agent", "out_reply": "agent"}
#: application webhook event names (envelope ``type``) -> Front event types, used when ``payload.type`` is absent
APP_EVENT_TYPES = {
    "inbound_received": "inbound",
    "outbound_sent": "outbound",
    "outbound_reply_sent": "out_reply",
    "new_comment_added": "comment",
    "teammate_mentioned": "mention",
    "assignee_changed": "assign",
    "conversation_archived": "archive",
    "conversation_reopened": "reopen",
    "conversation_deleted": "trash",
    "conversation_restored": "restore",
    "conversation_snooze_expired": "reminder",
    "conversation_moved": "move",
    "tag_added": "tag",
    "tag_removed": "untag",
    "link_added": "link_added",
    "delete": "trash",  # shorthand some tools use for Front's "trash"
}
PRIORITY_RANK = ("urgent", "high", "normal", "low")
#: a new conversation's first message and the conversation itself are created within this many seconds
OPENING_WINDOW_SECONDS = 60


class FrontConfig(IntegrationConfig):
    #: the company API secret that signs rule webhooks; default: ``secret`` (the app signing key)
    rule_secret: SecretStr | None = None
    #: accept legacy rule webhooks (no timestamp, so no replay window)
    accept_rule_webhooks: bool = True
    #: Front has no priority field: tag name -> priority (the highest matching tag wins, "normal" without one)
    priority_tags: dict[str, Priority] = {"urgent": "urgent"}


@dataclass(frozen=True)
class Notice:
    """One Front event: its type, the event object, where it sits in the body, when it happened, the config."""

    kind: str
    event: Mapping[str, Any]
    where: str
    at: datetime
    config: FrontConfig


def app_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac_digest(hashlib.sha256, secret, timestamp.encode() + b":" + body, "base64")


def rule_signature(secret: bytes, body: bytes) -> str:
    return hmac_digest(hashlib.sha1, secret, body, "base64")


# --- the conversation --------------------------------------------------------------------------------------------


def tag_names(conv: Mapping[str, Any]) -> tuple[str, ...] | None:
    tags = conv.get("tags")
    if not isinstance(tags, list):
        return None  # an event preview does not say
    return tuple(str(t.get("name")) for t in tags if isinstance(t, Mapping) and t.get("name"))


def tag_priority(tags: tuple[str, ...] | None, config: FrontConfig) -> Priority | None:
    if tags is None or not config.priority_tags:
        return None
    table = {vocab_key(name): priority for name, priority in config.priority_tags.items()}
    found = {table[key] for key in map(vocab_key, tags) if key in table}
    return next((p for p in PRIORITY_RANK if p in found), "normal")  # type: ignore[return-value]


def recipient(conv: Mapping[str, Any]) -> Person | None:
    """The conversation's main contact: ``recipient.handle`` (an email, or a phone or social handle)."""
    rec = conv.get("recipient")
    if not isinstance(rec, Mapping) or not rec.get("handle"):
        return None
    handle = str(rec["handle"])
    contact_url = dig(rec, "_links", "related", "contact")
    contact_id = str(contact_url).rstrip("/").rsplit("/", 1)[-1] if contact_url else None
    return Person(email=handle if "@" in handle else None, external_id=contact_id or handle)


def conversation_links(n: Notice, conv: Mapping[str, Any], fields: Mapping[str, str]) -> tuple[str, ...]:
    """Front "links" on the conversation (and the one a ``link_added`` event adds), plus configured fields."""
    links = [link.get("external_url") for link in conv.get("links") or () if isinstance(link, Mapping)]
    if n.kind == "link_added":
        links.append(dig(n.event, "target", "data", "external_url"))
    return tuple(dict.fromkeys([str(u) for u in links if u] + list(field_links(fields, n.config.link_fields))))


def conversation_status(n: Notice, conv: Mapping[str, Any]) -> Status | None:
    """An archived or deleted conversation by its legacy status; else the ticket status category (``waiting`` on
    an ``assigned`` conversation is pending), else the legacy status, else what the event implies (previews)."""
    legacy = vocab_key(conv.get("status") or "")
    category = STATUS_CATEGORIES.get(vocab_key(conv.get("status_category") or ""))
    return LEFT_INBOX.get(legacy) or category or STATUSES.get(legacy) or EVENT_STATUS.get(n.kind)


def conversation_event(n: Notice) -> TicketEvent:
    conv = dig(n.event, "conversation", field=f"{n.where}conversation", required=True)
    if not isinstance(conv, Mapping):
        raise PayloadError(f"{n.where}conversation: expected an object")
    conv_id = id_str(dig(conv, "id", field=f"{n.where}conversation.id", required=True)) or ""
    raw = conv.get("custom_fields")
    fields = {str(k): t for k, v in raw.items() if (t := field_text(v)) is not None} if isinstance(raw, Mapping) else {}
    tags = tag_names(conv)
    return TicketEvent(
        kind="ticket.updated",
        external_id=conv_id,
        occurred_at=n.at,
        subject=conv.get("subject") or None,
        status=conversation_status(n, conv),
        priority=tag_priority(tags, n.config),
        channel=dig(conv, "last_message", "type"),
        tags=tags,
        created_at=field_time(conv, "created_at", f"{n.where}conversation"),
        requester=recipient(conv),
        assignee_email=dig(conv, "assignee", "email") or None,
        custom_fields=fields,
        links=conversation_links(n, conv, fields),
        url=f"https://app.frontapp.com/open/{conv_id}",
    )


# --- parsers -----------------------------------------------------------------------------------------------------


def target(n: Notice) -> Mapping[str, Any]:
    data = dig(n.event, "target", "data", field=f"{n.where}target.data", required=True)
    if not isinstance(data, Mapping):
        raise PayloadError(f"{n.where}target.data: expected an object")
    dig(data, "id", field=f"{n.where}target.data.id", required=True)
    return data


def sender_handle(message: Mapping[str, Any]) -> str | None:
    sender = next(
        (r for r in message.get("recipients") or () if isinstance(r, Mapping) and r.get("role") == "from"), {}
    )
    handle = sender.get("handle")
    return str(handle) if handle and "@" in str(handle) else None


def message_comment(n: Notice, message: Mapping[str, Any], event: TicketEvent) -> Comment:
    role = MESSAGE_ROLES[n.kind]
    author = dig(message, "author", "email") if role == "agent" else sender_handle(message)
    if author is None:
        author = requester_email(event, role)
    return Comment(
        id=str(message["id"]),
        body=str(message.get("text") or "").strip() or html_to_text(message.get("body")) or message.get("blurb") or "",
        public=True,
        author_role=role,
        author_email=author,
        created_at=field_time(message, "created_at", f"{n.where}target.data") or n.at,
    )


def opens_conversation(n: Notice, event: TicketEvent, comment: Comment) -> bool:
    """Front has no "conversation created" event: a new message created with its conversation opens it."""
    if n.kind == "out_reply" or event.created_at is None:
        return False
    return abs((comment.created_at - event.created_at).total_seconds()) <= OPENING_WINDOW_SECONDS


def parse_message(n: Notice) -> list[Event]:
    """inbound -> customer, public; outbound and out_reply -> agent, public."""
    message = target(n)
    event = conversation_event(n)
    event = replace(event, channel=message.get("type") or event.channel)
    comment = message_comment(n, message, event)
    if opens_conversation(n, event, comment):  # Front may stamp the conversation a few seconds after its message
        created = min(comment.created_at, event.created_at or comment.created_at)
        event = replace(event, kind="ticket.created", description=comment.body or None, created_at=created)
    return [event, comment_snapshot(event, comment)]


def parse_comment(n: Notice) -> list[Event]:
    """comment and mention -> agent, internal. A mention repeats its comment's id, so it is logged once."""
    note = target(n)
    event = conversation_event(n)
    comment = Comment(
        id=str(note["id"]),
        body=str(note.get("body") or "").strip(),
        public=False,
        author_role="agent",
        author_email=dig(note, "author", "email"),
        created_at=field_time(note, "posted_at", f"{n.where}target.data") or n.at,
    )
    return [event, comment_snapshot(event, comment)]


def parse_conversation(n: Notice) -> list[Event]:
    """Status, assignee, tags and links as the conversation shows them after the event."""
    return [conversation_event(n)]


#: the event table (Front event types): dispatcher and documentation of what this plugin understands
EVENT_PARSERS: dict[str, Callable[[Notice], list[Event]]] = {
    "inbound": parse_message,
    "outbound": parse_message,
    "out_reply": parse_message,
    "comment": parse_comment,
    "mention": parse_comment,
    "assign": parse_conversation,
    "unassign": parse_conversation,
    "archive": parse_conversation,
    "reopen": parse_conversation,
    "trash": parse_conversation,
    "restore": parse_conversation,
    "tag": parse_conversation,
    "untag": parse_conversation,
    "move": parse_conversation,
    "reminder": parse_conversation,
    "link_added": parse_conversation,
}


def notice(body: Any, config: FrontConfig) -> Notice:
    require_object(body)
    wrapped = isinstance(body.get("payload"), Mapping)
    event, where = (body["payload"], "payload.") if wrapped else (body, "")
    raw = event.get("type") or body.get("type")
    kind = APP_EVENT_TYPES.get(str(raw), str(raw))
    if kind not in EVENT_PARSERS:  # "sync" without a challenge, and every type this plugin does not use
        raise UnsupportedEvent(f"event type {raw!r}")
    at = parse_time(dig(event, "emitted_at", field=f"{where}emitted_at", required=True), f"{where}emitted_at")
    return Notice(kind, event, where, at, config)


class FrontIntegration(Integration):
    slug = "front"
    Config = FrontConfig
    event_kinds = frozenset(EVENT_PARSERS)
    uses_timestamp = True

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        signature = require_header(headers, "X-Front-Signature")
        timestamp = headers.get("X-Front-Request-Timestamp")
        config: FrontConfig = self.config  # type: ignore[assignment]
        if timestamp:
            try:
                self.check_timestamp(int(timestamp) / 1000)
            except ValueError:
                raise SignatureError("X-Front-Request-Timestamp is not an integer") from None
            check_digest(app_signature(self.secret, timestamp, body), signature)
        elif config.accept_rule_webhooks:
            key = config.rule_secret.get_secret_value().encode() if config.rule_secret else self.secret
            check_digest(rule_signature(key, body), signature)
        else:
            raise SignatureError("missing header X-Front-Request-Timestamp (rule webhooks are not accepted)")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        data = json_object(body) or {}
        event = data["payload"] if isinstance(data.get("payload"), Mapping) else data
        return id_str(event.get("id"))

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        challenge = headers.get("X-Front-Challenge")
        if challenge:  # sent (signed) when the webhook is saved in Front; answered before anything is stored
            raise Challenge(challenge)
        n = notice(load_json(body), self.config)  # type: ignore[arg-type]
        return call_parser(n.kind, EVENT_PARSERS[n.kind], n)

    def sign(self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None) -> dict[str, str]:
        """Application webhook headers; ``timestamp`` in seconds or ms (Front sends ms). The id is in the body."""
        ts = int(time.time() * 1000) if timestamp is None else timestamp if timestamp > 10**11 else timestamp * 1000
        return {
            "X-Front-Signature": app_signature(self.secret, str(ts), body),
            "X-Front-Request-Timestamp": str(ts),
            "Content-Type": "application/json",
        }
