"""Zendesk integration (webhook-sources.md "Zendesk"; set-up and mapping in this folder's README).

Signature: ``X-Zendesk-Webhook-Signature`` is base64 HMAC-SHA256 over the exact value of
``X-Zendesk-Webhook-Signature-Timestamp`` (ISO-8601) followed by the raw body, no separator. The signing
secret is used as its UTF-8 text, never base64-decoded although it looks like base64. The timestamp must
lie in the replay window. Delivery id: ``X-Zendesk-Webhook-Invocation-Id``, else the event body ``id``.

Two body shapes reach one endpoint (each Zendesk webhook uses one of them):

* event subscriptions: ``{"type": "zen:event-type:ticket.status_changed", "detail": {...}, "event": {...}}``;
* trigger webhooks: the README template, nested (``{"ticket": {"id": ...}}``), flat with dotted keys
  (``{"ticket.id": ...}``) or the common underscore forms (``ticket_id``, ``ticketId``). Values are rendered
  placeholder strings. An ``"event"`` key names the kind; without it a ticket whose created and updated
  times are equal counts as created, any other as updated.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import Headers

from helpdesk_retain.events import Comment, CustomerEvent, Event, Person, Priority, Role, Status, TicketEvent, utcnow
from helpdesk_retain.integrations import (
    Integration,
    IntegrationConfig,
    PayloadError,
    SignatureError,
    UnsupportedEvent,
    body_hash,
    dig,
    hmac_digest,
    id_str,
    parse_time,
    require_header,
    vocab_key,
)
from helpdesk_retain.plugin_kit import (
    comment_only,
    content_id,
    dispatch,
    json_object,
    known_person,
    lenient_time,
    link_tokens,
    load_object,
    matches_one_of,
    scalar_text,
    vocab,
    vocab_lookup,
)

SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION = "X-Zendesk-Webhook-Invocation-Id"
EVENT_PREFIX = "zen:event-type:"
#: Zendesk signs the test requests its webhook builder sends before the webhook is saved with this secret
TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="

# Keys are vocab_key() forms: trigger placeholders render "Open", "On-hold"; events send "OPEN", "HOLD".
STATUSES: dict[str, Status] = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "on_hold",
    "onhold": "on_hold",
    "solved": "solved",
    "closed": "closed",
    "deleted": "closed",
    "archived": "closed",
    "scrubbed": "closed",
}
PRIORITIES: dict[str, Priority] = {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"}
CHANNELS = {"mail": "email", "webform": "web", "webwidget": "web", "webservice": "api", "voice": "phone"}
#: what an unset priority or ticket type renders as in a trigger body
UNSET = frozenset({"", "-"})

#: trigger-body field -> the paths it may come under (README template first, then common variants)
TRIGGER_PATHS: dict[str, tuple[str, ...]] = {
    "id": ("ticket.id", "ticket_id", "ticketId", "id"),
    "subject": ("ticket.title", "ticket.subject", "ticket_title", "title", "subject"),
    "description": ("ticket.description", "ticket_description", "description"),
    "status": ("ticket.status", "ticket_status", "status"),
    "priority": ("ticket.priority", "ticket_priority", "priority"),
    "type": ("ticket.ticket_type", "ticket.type", "ticket_type", "type"),
    "channel": ("ticket.via", "ticket_via", "via", "channel"),
    "tags": ("ticket.tags", "ticket_tags", "tags"),
    "link": ("ticket.link", "ticket_link", "link", "ticket.url", "ticket_url", "url"),
    "created_at": ("ticket.created_at_with_timestamp", "ticket.created_at", "created_at", "createdAt"),
    "updated_at": ("ticket.updated_at_with_timestamp", "ticket.updated_at", "updated_at", "updatedAt"),
    "requester_email": ("ticket.requester.email", "requester.email", "requester_email", "requester"),
    "requester_name": ("ticket.requester.name", "requester.name", "requester_name", "requester_full_name"),
    "requester_id": ("ticket.requester.id", "requester.id", "requester_id"),
    "assignee_email": ("ticket.assignee.email", "assignee.email", "assignee_email", "assignee"),
    "latest_comment": ("ticket.latest_comment", "latest_comment"),
    "latest_public_comment": ("ticket.latest_public_comment", "latest_public_comment"),
    "comment_id": ("comment.id",),
    "comment_public": ("comment.public", "comment.is_public"),
    "comment_created_at": ("comment.created_at",),
    "user_email": ("current_user.email",),
    "user_role": ("current_user.role",),
}
FIELD_KEY = re.compile(r"^(?:ticket[._])?ticket_field_(option_title_)?(\d+)$")


class ZendeskConfig(IntegrationConfig):
    """Plugin keys of a ``[sources.<name>]`` table with ``plugin = "zendesk"``; all optional."""

    #: builds agent links (https://<subdomain>.zendesk.com/agent/tickets/<id>) for event-subscription bodies
    subdomain: str | None = None
    #: ticket field id -> the name its value is stored under in custom_fields ({"360001234567" = "save_amount"})
    field_names: dict[str, str] = {}
    #: extra status names (localized or custom) -> normalized status, e.g. {"Offen" = "open"}
    status_map: dict[str, Status] = {}
    #: also accept test requests the webhook builder signs with Zendesk's published test secret (set-up only)
    accept_test_secret: bool = False


def zendesk_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac_digest(hashlib.sha256, secret, timestamp.encode() + body, "base64")


def paths(data: Mapping[str, Any]) -> dict[str, Any]:
    """Every value in ``data`` under its dotted path, whether the body nests it, keys it flat with dots, or mixes
    both (``{"ticket.requester": {"email": ...}}``), so that each of TRIGGER_PATHS is one look-up. When two
    spellings give one path a value, the longer literal key wins (``"ticket.id"`` over ``ticket`` -> ``id``);
    None counts as no value."""
    found: dict[str, Any] = {}
    _add_paths(data, "", found)
    return found


def _add_paths(data: Mapping[str, Any], prefix: str, found: dict[str, Any]) -> None:
    keys = list(data)
    if any("." in key for key in keys):
        keys.sort(key=lambda key: key.count("."))  # fewer dots first: a longer literal key overwrites
    for key in keys:
        value = data[key]
        if value is not None:
            found[prefix + key] = value
            if isinstance(value, dict):  # JSON objects are dicts
                _add_paths(value, f"{prefix}{key}.", found)


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(str(value).lower())


def _email(value: str | None) -> str | None:
    return value if value and "@" in value else None


def _lower(value: Any) -> str | None:
    text = scalar_text(value)
    return None if text is None or text in UNSET else text.lower()


def _status(value: Any, extra: Mapping[str, Status], field: str) -> Status | None:
    text = scalar_text(value)
    if text is None:
        return None
    found = (vocab_lookup(text, extra) if extra else None) or STATUSES.get(vocab(text))
    if found is None:
        raise PayloadError(f"{field}: unknown status {text!r} (map it with status_map)")
    return found


def _priority(value: Any, field: str) -> Priority | None:
    text = scalar_text(value)
    if text is None or text in UNSET:
        return None
    priority = PRIORITIES.get(vocab(text))
    if priority is None:
        raise PayloadError(f"{field}: unknown priority {text!r}")
    return priority


def _channel(value: Any) -> str | None:
    text = scalar_text(value)
    if text is None or text in UNSET:
        return None
    return CHANNELS.get(vocab(text), text.lower().replace(" ", "_"))


def _strip_header(text: str | None) -> str | None:
    """``{{ticket.description}}`` starts with a line of dashes and "Author Name, Feb 3, 2025, 19:59"."""
    if not text or not text.startswith("---"):
        return text
    lines = text.splitlines()[1:]
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and "," in lines[0] and re.search(r"\d{1,2}:\d{2}", lines[0]):
        lines.pop(0)
    return "\n".join(lines).strip() or None


def _same(a: str | None, b: str | None) -> bool:
    """Equal texts, ignoring how whitespace was rendered."""
    return a is not None and b is not None and a.split() == b.split()


def _links(fields: Mapping[str, str], config: ZendeskConfig) -> tuple[str, ...]:
    """Tracker URLs or keys in the configured link fields (by name or by Zendesk field id)."""
    wanted = set(config.link_fields) | {config.field_names.get(f, f) for f in config.link_fields}
    return link_tokens(value for name, value in fields.items() if name in wanted)


def _field_value(value: Any) -> str | None:
    if isinstance(value, list):  # multi-select fields
        return ", ".join(str(v) for v in value)
    return None if isinstance(value, Mapping) else ("" if value is None else str(value).strip())


class TriggerDelivery:
    """A trigger webhook body rendered from the README template, or a common variant of it."""

    def __init__(self, payload: Mapping[str, Any], config: ZendeskConfig) -> None:
        self.payload, self.config = payload, config
        self.paths = paths(payload)

    def get(self, name: str) -> str | None:
        for path in TRIGGER_PATHS[name]:
            value = self.paths.get(path)
            if value is not None and (text := scalar_text(value)) is not None:  # most paths are missing
                return text
        return None

    def time(self, name: str) -> datetime | None:
        return next((t for p in TRIGGER_PATHS[name] if (t := lenient_time(self.paths.get(p))) is not None), None)

    def kind(self) -> str:
        explicit = scalar_text(self.payload.get("event"))
        if explicit:
            return explicit.removeprefix(EVENT_PREFIX)
        created, updated = self.time("created_at"), self.time("updated_at")
        return "ticket.created" if created is not None and created == updated else "ticket.updated"

    def ticket_id(self) -> str:
        ticket_id = self.get("id")
        if ticket_id is None:
            raise PayloadError("missing field: ticket.id")
        return ticket_id

    def occurred_at(self) -> datetime:
        return self.time("updated_at") or utcnow()

    def ticket(self) -> TicketEvent:
        ticket_id = self.ticket_id()
        updated, fields = self.time("updated_at"), self.custom_fields()
        link = self.get("link")
        email, requester_id = _email(self.get("requester_email")), self.get("requester_id")
        return TicketEvent(
            kind="ticket.updated",
            external_id=ticket_id,
            occurred_at=updated or utcnow(),
            subject=self.get("subject"),
            description=_strip_header(self.get("description")),
            status=_status(self.get("status"), self.config.status_map, "ticket.status"),
            priority=_priority(self.get("priority"), "ticket.priority"),
            channel=_channel(self.get("channel")),
            type=_lower(self.get("type")),
            tags=self.tags(),
            created_at=self.time("created_at"),
            updated_at=updated,
            requester=known_person(email, self.get("requester_name"), requester_id),
            assignee_email=_email(self.get("assignee_email")),
            custom_fields=fields,
            links=_links(fields, self.config),
            display_id=ticket_id,
            url=link if not link or link.startswith(("https://", "http://")) else "https://" + link,
        )

    def tags(self) -> tuple[str, ...] | None:
        value = next((v for p in TRIGGER_PATHS["tags"] if (v := self.paths.get(p)) is not None), None)
        if isinstance(value, list):
            return tuple(str(t).strip() for t in value if str(t).strip())
        return tuple(str(value).split()) if value is not None else None  # {{ticket.tags}}: space-separated

    def custom_fields(self) -> dict[str, str]:
        """``ticket.custom_fields`` (names chosen in the template) and ``ticket_field_<id>`` keys anywhere."""
        found: dict[str, str] = {}
        for container in (self.payload, self.paths.get("ticket")):
            for key, value in container.items() if isinstance(container, Mapping) else ():
                match = FIELD_KEY.match(key)
                name = self.config.field_names.get(match[2], match[2]) if match else None
                text = _field_value(value)
                if name and text is not None and not (match and match[1] and name in found):
                    found[name] = text
        named = self.paths.get("ticket.custom_fields") or self.paths.get("custom_fields")
        for key, value in named.items() if isinstance(named, Mapping) else ():
            if (text := _field_value(value)) is not None:
                found[self.config.field_names.get(str(key), str(key))] = text
        return found

    def comment(self) -> Comment | None:
        """The latest comment, or None when there is none or it is the requester's opening message, which
        the first updates after creation still carry (it is the description, not a reply by whoever updated)."""
        public_text = _strip_header(self.get("latest_public_comment"))
        any_text = _strip_header(self.get("latest_comment"))
        if not public_text and not any_text:
            return None
        public = _bool(self.get("comment_public"))
        if public is None:  # an internal note is the latest comment but not the latest public one
            public = _same(any_text, public_text) if public_text and any_text else True
        body = (public_text if public and public_text else any_text) or public_text or ""
        if _same(body, _strip_header(self.get("description"))):
            return None
        return Comment(
            id=self.get("comment_id") or content_id("zd-", self.get("id") or "", body),
            body=body,
            public=public,
            author_role=self.author_role(),
            created_at=self.time("comment_created_at") or self.time("updated_at") or utcnow(),
            author_email=_email(self.get("user_email")),
        )

    def author_role(self) -> Role:
        """``{{current_user.role}}`` renders "End-user" for customers; without it, compare emails."""
        role = self.get("user_role")
        if role:
            return "customer" if vocab(role) == "enduser" else "agent"
        email, requester = self.get("user_email"), self.get("requester_email")
        if email and requester:
            return "customer" if email.lower() == requester.lower() else "agent"
        return "system"

    def customer(self) -> CustomerEvent:
        raise UnsupportedEvent("trigger webhooks carry no customer events")


class EventDelivery:
    """An event-subscription body (``zen:event-type:*``) as Zendesk sends it."""

    def __init__(self, payload: Mapping[str, Any], config: ZendeskConfig) -> None:
        self.payload, self.config = payload, config
        self.detail = payload.get("detail") if isinstance(payload.get("detail"), Mapping) else {}
        self.event = payload.get("event") if isinstance(payload.get("event"), Mapping) else {}
        self.at = lenient_time(payload.get("time")) or lenient_time(self.detail.get("updated_at")) or utcnow()

    def kind(self) -> str:
        return str(self.payload["type"]).removeprefix(EVENT_PREFIX)

    def subject_id(self, prefix: str) -> str | None:
        subject = str(self.payload.get("subject") or "")
        return id_str(self.detail.get("id")) or (subject.removeprefix(prefix) if subject.startswith(prefix) else None)

    def current(self, field: str) -> Any:
        """``event.current`` of a ``<field>_changed`` event: a bare value or an object keyed by the field."""
        if self.kind() != f"ticket.{field}_changed":
            return None
        current = self.event.get("current")
        return current.get(field) if isinstance(current, Mapping) else current

    def ticket_id(self) -> str:
        ticket_id = self.subject_id("zen:ticket:")
        if not ticket_id:
            raise PayloadError("missing field: detail.id")
        return ticket_id

    def occurred_at(self) -> datetime:
        return self.at

    def ticket(self) -> TicketEvent:
        d, ticket_id = self.detail, self.ticket_id()
        tags, fields, requester_id = d.get("tags"), self.custom_fields(), id_str(d.get("requester_id"))
        return TicketEvent(
            kind="ticket.updated",
            external_id=ticket_id,
            occurred_at=self.at,
            subject=scalar_text(d.get("subject")),
            description=scalar_text(d.get("description")) or scalar_text(self.current("description")),
            status=_status(d.get("status") or self.current("status"), self.config.status_map, "detail.status"),
            priority=_priority(d.get("priority") or self.current("priority"), "detail.priority"),
            channel=_channel(dig(d, "via", "channel")),
            type=_lower(d.get("type")),
            tags=tuple(str(t) for t in tags) if isinstance(tags, list) else None,
            created_at=lenient_time(d.get("created_at")),
            updated_at=lenient_time(d.get("updated_at")),
            requester=Person(external_id=requester_id) if requester_id else None,
            custom_fields=fields,
            links=_links(fields, self.config),
            display_id=ticket_id,
            url=f"https://{self.config.subdomain}.zendesk.com/agent/tickets/{ticket_id}"
            if self.config.subdomain
            else None,
        )

    def custom_fields(self) -> dict[str, str]:
        field, current = self.event.get("custom_field"), self.event.get("current")
        if not isinstance(field, Mapping):
            return {}
        field_id = id_str(field.get("id")) or ""
        name = self.config.field_names.get(field_id) or scalar_text(field.get("title")) or field_id
        value = _field_value(current.get("value") if isinstance(current, Mapping) else current)
        return {name: value} if name and value is not None else {}

    def comment(self) -> Comment | None:
        c = self.event.get("comment")
        if not isinstance(c, Mapping):
            return None
        author = c.get("author") if isinstance(c.get("author"), Mapping) else {}
        return Comment(
            id=id_str(dig(c, "id", field="event.comment.id", required=True)) or "",
            body=str(dig(c, "body", field="event.comment.body", required=True)),
            public=_bool(c.get("is_public", c.get("public"))) is not False,
            author_role=self.author_role(author),
            created_at=lenient_time(c.get("created_at")) or self.at,
            author_email=_email(scalar_text(author.get("email"))),
        )

    def author_role(self, author: Mapping[str, Any]) -> Role:
        staff = _bool(author.get("is_staff"))
        if staff is not None:
            return "agent" if staff else "customer"
        author_id = id_str(author.get("id"))
        return "customer" if author_id and author_id == id_str(self.detail.get("requester_id")) else "system"

    def customer(self) -> CustomerEvent:
        user_id = self.subject_id("zen:user:")
        if not user_id:
            raise PayloadError("missing field: detail.id")
        if vocab_key(self.detail.get("role") or "end-user") != "enduser":
            raise UnsupportedEvent(f"user {user_id} is staff, not a customer")
        return CustomerEvent(
            occurred_at=lenient_time(self.detail.get("updated_at")) or self.at,
            email=_email(scalar_text(self.detail.get("email"))),
            external_id=user_id,
            name=scalar_text(self.detail.get("name")),
        )


Delivery = TriggerDelivery | EventDelivery


def with_comment(ticket: TicketEvent, comment: Comment | None) -> list[Event]:
    """The ticket's fields, then its new comment as its own event (so the log has both rows)."""
    return [ticket] if comment is None else [ticket, comment_only(ticket, comment)]


def parse_created(d: Delivery) -> list[Event]:
    return [replace(d.ticket(), kind="ticket.created")]


def parse_updated(d: Delivery) -> list[Event]:
    return with_comment(d.ticket(), d.comment())


def parse_comment_added(d: Delivery) -> list[Event]:
    comment = d.comment()
    if comment is None:
        raise PayloadError("missing field: event.comment")
    return with_comment(d.ticket(), comment)


def parse_changed(d: Delivery) -> list[Event]:
    """``detail`` is the ticket after the change, so one snapshot serves every ``*_changed`` event."""
    return [d.ticket()]


def parse_removed(d: Delivery) -> list[Event]:
    """Spam, soft-deleted, merged into another ticket: the ticket as sent, closed (it is no longer a live ticket)."""
    return [replace(d.ticket(), status="closed")]


def parse_purged(d: Delivery) -> list[Event]:
    """A permanently deleted ticket's data is scrubbed: only its id and that it is closed are kept; what the body
    says of its fields would overwrite the stored ones with placeholders."""
    return [TicketEvent(kind="ticket.updated", external_id=d.ticket_id(), occurred_at=d.occurred_at(), status="closed")]


def parse_user_created(d: Delivery) -> list[Event]:
    return [d.customer()]


#: the event table: dispatcher and documentation of what this plugin understands
EVENT_PARSERS: dict[str, Callable[[Delivery], list[Event]]] = {
    "ticket.created": parse_created,  # trigger "event": "ticket.created", or zen:event-type:ticket.created
    "ticket.updated": parse_updated,  # trigger "event": "ticket.updated" (+ its latest comment)
    "ticket.comment_added": parse_comment_added,
    "ticket.status_changed": parse_changed,
    "ticket.priority_changed": parse_changed,
    "ticket.tags_changed": parse_changed,
    "ticket.subject_changed": parse_changed,
    "ticket.type_changed": parse_changed,
    "ticket.custom_field_changed": parse_changed,
    "ticket.custom_status_changed": parse_changed,  # detail.status is the custom status's category
    "ticket.description_changed": parse_changed,
    "ticket.agent_assignment_changed": parse_changed,  # only ids: the snapshot of the other fields
    "ticket.marked_as_spam": parse_removed,
    "ticket.soft_deleted": parse_removed,
    "ticket.merged": parse_removed,  # the ticket merged into another one
    "ticket.permanently_deleted": parse_purged,
    # ticket.comment_made_private is not handled: core keeps a logged comment as first stored (the log is
    # append-only, keyed by comment id), so a redelivery of the comment with public=false would change nothing
    "user.created": parse_user_created,
}


def _is_event(payload: Mapping[str, Any]) -> bool:
    return str(payload.get("type") or "").startswith(EVENT_PREFIX)


class ZendeskIntegration(Integration):
    slug = "zendesk"
    Config = ZendeskConfig
    event_kinds = frozenset(EVENT_PARSERS)
    uses_timestamp = True
    config: ZendeskConfig

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        h = Headers(headers)
        given = require_header(h, SIGNATURE).strip().encode()
        timestamp = require_header(h, TIMESTAMP)
        secrets = [self.secret, TEST_SECRET.encode()] if self.config.accept_test_secret else [self.secret]
        if not matches_one_of(given, (zendesk_signature(s, timestamp, body).encode() for s in secrets)):
            raise SignatureError("signature mismatch")
        try:
            signed_at = parse_time(timestamp, TIMESTAMP)
        except PayloadError as exc:
            raise SignatureError(str(exc)) from None
        self.check_timestamp(signed_at.timestamp())

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        invocation = Headers(headers).get(INVOCATION)
        if invocation:
            return invocation
        payload = json_object(body)
        return id_str(payload.get("id")) if payload is not None and _is_event(payload) else None

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        payload = load_object(body)
        delivery = EventDelivery(payload, self.config) if _is_event(payload) else TriggerDelivery(payload, self.config)
        return dispatch(EVENT_PARSERS, delivery.kind(), delivery)

    def sign(self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None) -> dict[str, str]:
        signed_at = datetime.fromtimestamp(time.time() if timestamp is None else timestamp, UTC)
        stamp = signed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            SIGNATURE: zendesk_signature(self.secret, stamp, body),
            TIMESTAMP: stamp,
            INVOCATION: delivery_id or "inv_" + body_hash(body)[:24],
            "X-Zendesk-Webhook-Id": "01HZTESTWEBHOOK0000000000",
            "User-Agent": "Zendesk Webhook",
            "Content-Type": "application/json",
        }
