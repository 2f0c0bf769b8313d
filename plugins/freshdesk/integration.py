"""Freshdesk integration (webhook-sources.md "Freshdesk"; set-up and mapping in this folder's README).

Authentication: Freshdesk signs nothing. The automation rule's "Trigger webhook" action sends the source
secret either as the HTTP Basic password (its "Requires authentication" option; any user name, and in its
"API key" mode the key travels as the user name, so that position counts too) or in an ``X-Webhook-Secret``
custom header. Compared in constant time; missing or wrong is a SignatureError.

Body: the README template ("Advanced" JSON), optionally wrapped in ``freshdesk_webhook``; parsed as JSON
whatever the Content-Type says. ``triggered_event`` is NOT JSON: ``{ticket_action:created}``,
``{status:{from:2,to:3}}`` (numbers, or names in some accounts), ``{note_type:public}``. An explicit
``"event"`` key (the README's per-rule templates) wins over it; a body with neither is a ticket snapshot.

Delivery id: Freshdesk sends none, so a composite of ticket id, event kind and the template's updated time,
or the body hash when the template has no time (a byte-identical body is a duplicate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import Authorization, Headers

from helpdesk_retain.events import Comment, Event, Priority, Role, Status, TicketEvent, utcnow
from helpdesk_retain.integrations import (
    Integration,
    IntegrationConfig,
    PayloadError,
    SignatureError,
    body_hash,
    id_str,
    load_json,
    vocab_key,
)
from helpdesk_retain.plugin_kit import (
    comment_only,
    content_id,
    dispatch,
    html_to_text,
    known_person,
    lenient_time,
    link_tokens,
    matches_one_of,
    requester_email,
    scalar_text,
    vocab,
    vocab_lookup,
)

SECRET_HEADER = "X-Webhook-Secret"
TRIGGERED = re.compile(r"^\{(\w+):(?:\{from:([^,{}]*),to:([^,{}]*)\}|([^{}]*))\}$")

# Freshdesk numbers its built-in statuses 2..5; 6 and up are per-account custom statuses (config).
STATUS_NUMBERS: dict[str, Status] = {"2": "open", "3": "pending", "4": "solved", "5": "closed"}
STATUS_NAMES: dict[str, Status] = {"open": "open", "pending": "pending", "resolved": "solved", "closed": "closed"}
PRIORITIES: dict[str, Priority] = {
    "1": "low",
    "2": "normal",
    "3": "high",
    "4": "urgent",
    "low": "low",
    "medium": "normal",
    "high": "high",
    "urgent": "urgent",
}
# ticket sources by name or number (Freshdesk API numbering)
CHANNELS = {
    "1": "email",
    "2": "web",
    "3": "phone",
    "7": "chat",
    "9": "web",
    "10": "email",
    "email": "email",
    "outboundemail": "email",
    "portal": "web",
    "feedbackwidget": "web",
    "phone": "phone",
    "chat": "chat",
}
#: triggered_event forms -> event kind (the table below is keyed by kind)
TRIGGER_KINDS = {
    ("ticket_action", "created"): "ticket.created",
    ("ticket_action", "updated"): "ticket.updated",
    ("status", None): "status.changed",
    ("priority", None): "priority.changed",
    ("note_type", None): "note.created",
}

#: field -> keys it may come under: the README template's flat keys, then the nested "ticket.*" form
FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("ticket_id", "ticket.id"),
    "subject": ("ticket_subject", "ticket.subject"),
    "description": ("ticket_description", "ticket.description"),
    "status": ("ticket_status", "ticket.status"),
    "priority": ("ticket_priority", "ticket.priority"),
    "type": ("ticket_type", "ticket.ticket_type", "ticket.type"),
    "source": ("ticket_source", "ticket.source"),
    "tags": ("ticket_tags", "ticket.tags"),
    "url": ("ticket_url", "ticket.url"),
    "created_at": ("ticket_created_at", "ticket.created_at"),
    "updated_at": ("ticket_updated_at", "ticket.updated_at"),
    "requester_email": ("requester_email", "ticket.requester.email"),
    "requester_name": ("requester_name", "ticket.requester.name"),
    "requester_id": ("requester_id", "ticket.requester.id"),
    "agent_email": ("ticket_agent_email", "agent_email", "ticket.agent.email"),
    "public_comment": ("ticket_latest_public_comment", "latest_public_comment", "ticket.latest_public_comment"),
    "private_comment": ("ticket_latest_private_comment", "latest_private_comment", "ticket.latest_private_comment"),
}
#: FIELDS turned around: each key -> the field it gives and its place among that field's keys
FIELD_KEYS: dict[str, tuple[str, int]] = {key: (name, i) for name, keys in FIELDS.items() for i, key in enumerate(keys)}
#: the rank of a field no key has given yet (past any field's last key)
UNSEEN = max(len(keys) for keys in FIELDS.values())
#: the nested objects a dotted key of FIELDS goes through ("ticket", "ticket.requester", ...)
NESTED = frozenset(key.rsplit(".", n)[0] for key in FIELD_KEYS for n in range(1, key.count(".") + 1))
#: built-in statuses by number or name, keyed like vocabulary (custom ones come from the config)
STATUS_KEYS: dict[str, Status] = {vocab_key(k): v for table in (STATUS_NAMES, STATUS_NUMBERS) for k, v in table.items()}


class FreshdeskConfig(IntegrationConfig):
    """Plugin keys of a ``[sources.<name>]`` table with ``plugin = "freshdesk"``; all optional."""

    #: custom status (its name, or its number 6 and up) -> normalized status, e.g. {"Waiting on Customer" = "pending"}
    custom_statuses: dict[str, Status] = {}
    #: status of a custom status that custom_statuses does not name
    default_custom_status: Status = "pending"


def parse_triggered_event(text: str) -> tuple[str, str | tuple[str, str]] | None:
    """``{status:{from:4,to:6}}`` -> ("status", ("4", "6")); ``{note_type:public}`` -> ("note_type", "public")."""
    match = TRIGGERED.match(text.strip())
    if not match:
        return None
    key, old, new, value = match.groups()
    return (key, (old.strip(), new.strip())) if value is None else (key, value.strip())


def html_text(html: str | None) -> str | None:
    """Freshdesk sends descriptions and comments as HTML (inline images included); keep text and link URLs."""
    return html_to_text(html, links=True) if html else html


class BodyFields:
    """What one pass over a body finds: each field of FIELDS as text (the first non-empty value among the keys
    it may come under, in FIELDS' order), the tags as sent (the first value that is not null), and the custom
    fields. A dotted key is read as the body spells it, else through nested objects (``ticket.requester.email``)."""

    __slots__ = ("body", "custom", "ranks", "tags", "texts")

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body
        self.texts: dict[str, str] = {}
        self.ranks: dict[str, int] = {}  # field -> the place among its keys of the key its text came from
        self.tags: Any = None
        self.custom: dict[str, str] = {}
        for key, value in body.items():
            spot = FIELD_KEYS.get(key)
            if spot is None:
                if "cf_" in key:
                    self._custom(key, value)
                elif key in NESTED and "." not in key and isinstance(value, dict):  # JSON objects are dicts
                    self._nested(value, key)
                continue
            # _offer, with scalar_text's case of a string, inline: the body's own keys are the hot path
            name, rank = spot
            text = value.strip() if isinstance(value, str) else scalar_text(value)
            if name == "tags":
                self._offer(spot, value)
            elif text and rank < self.ranks.get(name, UNSEEN):
                self.texts[name], self.ranks[name] = text, rank
        ticket = body.get("ticket")
        for key, value in ticket.items() if isinstance(ticket, Mapping) else ():
            if "cf_" in key:
                self._custom(key, value)

    def _offer(self, spot: tuple[str, int], value: Any) -> None:
        name, rank = spot
        if name == "tags":
            if value is not None and rank < self.ranks.get(name, UNSEEN):
                self.tags, self.ranks[name] = value, rank
        elif (text := scalar_text(value)) is not None and rank < self.ranks.get(name, UNSEEN):
            self.texts[name], self.ranks[name] = text, rank

    def _nested(self, data: Mapping[str, Any], path: str) -> None:
        for key, value in data.items():
            if "." in key:  # only the body's own keys name a path with dots
                continue
            inner = f"{path}.{key}"
            if (spot := FIELD_KEYS.get(inner)) is not None and inner not in self.body:
                self._offer(spot, value)
            elif inner in NESTED and isinstance(value, dict):
                self._nested(value, inner)

    def _custom(self, key: str, value: Any) -> None:
        """``ticket_cf_<name>`` / ``cf_<name>`` keys (Freshdesk's field names), stored as ``<name>`` so core's
        defaults (``save_amount``, ...) and ``link_fields`` use the name an admin gave the field."""
        name = key.removeprefix("ticket_")
        if name.startswith("cf_") and not isinstance(value, Mapping | list):
            self.custom[name.removeprefix("cf_")] = "" if value is None else str(value).strip()


def unwrap(payload: Any) -> Mapping[str, Any]:
    inner = payload.get("freshdesk_webhook", payload) if isinstance(payload, Mapping) else None
    if not isinstance(inner, Mapping):
        raise PayloadError("body: expected a JSON object")
    return inner


@dataclass(slots=True)  # one per delivery, never changed; not frozen, which would double its (hot) construction
class Delivery:
    """One parsed body: its fields, event kind, ``triggered_event`` and what the parsers need besides."""

    fields: Mapping[str, Any]
    read: BodyFields
    kind: str
    trigger: tuple[str, str | tuple[str, str]] | None
    config: FreshdeskConfig
    body: bytes

    def get(self, name: str) -> str | None:
        return self.read.texts.get(name)

    def changed_to(self, key: str) -> str | None:
        """The new value a ``{key:{from:..,to:..}}`` trigger reports (only the first change is reported)."""
        if self.trigger and self.trigger[0] == key and isinstance(self.trigger[1], tuple):
            return self.trigger[1][1] or None
        return None

    def status(self) -> Status | None:
        """The rendered name when it is known (configured, or a built-in name or number), else the trigger's
        value when that is (a localized account renders "Resuelto" beside ``{status:{from:2,to:4}}``), else
        ``default_custom_status``: a custom status nobody configured."""
        name, number = self.get("status"), self.changed_to("status")
        if name is None and number is None:
            return None
        custom = self.config.custom_statuses
        for value in (name, number):
            if value and (found := (vocab_lookup(value, custom) if custom else None) or STATUS_KEYS.get(vocab(value))):
                return found
        return self.config.default_custom_status

    def priority(self) -> Priority | None:
        """The rendered name when it is a known one, else the trigger's built-in number (1..4), else unset: a
        priority label this plugin does not know (a localized account's "Baja") never rejects the delivery."""
        for value in (self.get("priority"), self.changed_to("priority")):
            if value and (priority := PRIORITIES.get(vocab(value))):
                return priority
        return None

    def tags(self) -> tuple[str, ...] | None:
        value = self.read.tags
        if isinstance(value, list):
            return tuple(str(t).strip() for t in value if str(t).strip())
        # {{ticket.tags}} renders comma-separated; a Freshdesk tag may contain spaces
        return tuple(t.strip() for t in str(value).split(",") if t.strip()) if value is not None else None

    def links(self, fields: Mapping[str, str]) -> tuple[str, ...]:
        if not self.config.link_fields:
            return ()
        wanted = {f.removeprefix("cf_") for f in self.config.link_fields}
        return link_tokens(value for name, value in fields.items() if name in wanted)

    def ticket(self, kind: str) -> TicketEvent:
        get = self.read.texts.get
        ticket_id = id_str(get("id"))
        if ticket_id is None:
            raise PayloadError("missing field: ticket_id")
        email, requester_id, fields = get("requester_email"), get("requester_id"), self.read.custom
        updated, ticket_type, source = lenient_time(get("updated_at")), get("type"), get("source")
        return TicketEvent(
            kind=kind,  # type: ignore[arg-type]
            external_id=ticket_id,
            occurred_at=updated or utcnow(),
            subject=get("subject"),
            description=html_text(get("description")),
            status=self.status(),
            priority=self.priority(),
            channel=CHANNELS.get(vocab(source), source.lower()) if source else None,
            type=ticket_type.lower().replace(" ", "_") if ticket_type else None,
            tags=self.tags(),
            created_at=lenient_time(get("created_at")),
            updated_at=updated,
            requester=known_person(email, get("requester_name"), requester_id),
            assignee_email=get("agent_email"),
            custom_fields=fields,
            links=self.links(fields),
            display_id=ticket_id,
            url=get("url"),
        )

    def comment(self, ticket: TicketEvent, role: Role, public: bool, body: str) -> TicketEvent:
        """The comment as its own event. No comment id is sent: a digest of ticket, kind and text (or, when
        the template sends no text, of the whole body) keeps a redelivery from adding it twice."""
        comment_id = content_id("fd-", ticket.external_id, self.kind, body or body_hash(self.body))
        # no placeholder names the author of a note or reply; only a customer's address is known
        author = requester_email(ticket, role)
        return comment_only(ticket, Comment(comment_id, body, public, role, ticket.occurred_at, author))


def parse_created(d: Delivery) -> list[Event]:
    return [d.ticket("ticket.created")]


def parse_updated(d: Delivery) -> list[Event]:
    """A snapshot; for ``status``/``priority`` triggers a known rendered name wins over the trigger's number."""
    return [d.ticket("ticket.updated")]


def parse_note(d: Delivery) -> list[Event]:
    """Notes are written by agents; ``{note_type:public}`` is visible to the requester."""
    public = (d.trigger[1] if d.trigger and d.trigger[0] == "note_type" else d.fields.get("note_type")) == "public"
    ticket = d.ticket("ticket.updated")
    body = html_text(d.get("public_comment" if public else "private_comment")) or ""
    return [ticket, d.comment(ticket, "agent", public, body)]


def _reply(d: Delivery, role: Role) -> list[Event]:
    body = html_text(d.get("public_comment"))
    if not body:
        raise PayloadError("missing field: ticket_latest_public_comment")
    ticket = d.ticket("ticket.updated")
    return [ticket, d.comment(ticket, role, True, body)]


def parse_customer_reply(d: Delivery) -> list[Event]:
    return _reply(d, "customer")


def parse_agent_reply(d: Delivery) -> list[Event]:
    return _reply(d, "agent")


#: the event table: dispatcher and documentation of what this plugin understands
EVENT_PARSERS: dict[str, Callable[[Delivery], list[Event]]] = {
    "ticket.created": parse_created,  # {ticket_action:created}
    "ticket.updated": parse_updated,  # no triggered_event: a snapshot
    "status.changed": parse_updated,  # {status:{from:..,to:..}}
    "priority.changed": parse_updated,  # {priority:{from:..,to:..}}
    "note.created": parse_note,  # {note_type:public|private}
    "customer.replied": parse_customer_reply,  # "event": "customer.replied" (README rule)
    "agent.replied": parse_agent_reply,  # "event": "agent.replied" (README rule)
}


def event_kind(fields: Mapping[str, Any]) -> tuple[str, tuple[str, str | tuple[str, str]] | None]:
    """The kind and the parsed ``triggered_event``; an unknown form gets its raw text as its kind."""
    raw = scalar_text(fields.get("triggered_event"))
    trigger = parse_triggered_event(raw) if raw else None
    explicit = scalar_text(fields.get("event"))
    if explicit:
        return explicit, trigger
    if raw is None:
        return "ticket.updated", None
    if trigger is None:
        return raw, None
    key, value = trigger
    kind = TRIGGER_KINDS.get((key, value if isinstance(value, str) else None)) or TRIGGER_KINDS.get((key, None))
    return kind or raw, trigger


class FreshdeskIntegration(Integration):
    slug = "freshdesk"
    Config = FreshdeskConfig
    event_kinds = frozenset(EVENT_PARSERS)
    config: FreshdeskConfig

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        h = Headers(headers)
        offered = [h.get(SECRET_HEADER)]
        auth = Authorization.from_header(h.get("Authorization"))
        if auth is not None and auth.type == "basic":
            offered += [auth.password, auth.username]
        offered = [o for o in offered if o]
        if not offered:
            raise SignatureError(f"missing {SECRET_HEADER} header or HTTP Basic credentials")
        if not matches_one_of(self.secret, (o.encode() for o in offered)):
            raise SignatureError("wrong webhook secret")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        try:
            fields = unwrap(load_json(body))
        except PayloadError:
            return None
        texts = BodyFields(fields).texts
        ticket_id = id_str(texts.get("id"))
        if ticket_id is None:
            return None
        updated = lenient_time(texts.get("updated_at"))
        stamp = updated.isoformat() if updated else "sha256-" + body_hash(body)[:40]
        return f"{ticket_id}:{event_kind(fields)[0]}:{stamp}"[:200]

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        fields = unwrap(load_json(body))
        kind, trigger = event_kind(fields)
        delivery = Delivery(fields, BodyFields(fields), kind, trigger, self.config, body)
        return dispatch(EVENT_PARSERS, kind, delivery)

    def sign(self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None) -> dict[str, str]:
        """Freshdesk's own "Requires authentication" option: Basic auth with the secret as the password."""
        auth = Authorization("basic", {"username": "freshdesk", "password": self.secret.decode()})
        return {"Authorization": auth.to_header(), "Content-Type": "application/json"}
