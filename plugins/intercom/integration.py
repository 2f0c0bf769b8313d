"""Intercom integration: ``notification_event`` webhooks of a Developer Hub app.

Signature: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(app client secret, raw body)>``; no timestamp header, so there is
no replay window beyond the inbox's idempotency. Delivery id: the body's ``id`` (``notif_...``), the same on every
retry. The topic is the body's ``topic``; a new subscription first receives ``ping`` (answered 202 "ignored").

Envelope: ``{"type": "notification_event", "topic", "id", "created_at" (unix s), "data": {"item": {...}}}``.
Conversations arrive in two shapes: API 1.x (``user``, ``assignee``, ``conversation_message``) and 2.x
(``source``, ``contacts.contacts[]``, ``admin_assignee_id``, ``title``, ``priority``); both are read. Ticket topics
carry the ticket itself, or (``ticket.*.replied``, ``ticket.note.created``) ``{"ticket": ..., "ticket_part": ...}``.
Conversation and ticket ids share one id space (a ticket is a conversation), so ``external_id`` is ``item.id`` for
both; a ticket's human number (``ticket_id``) becomes ``display_id``. Bodies are HTML; times are unix seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from helpdesk_retain.events import Comment, CustomerEvent, Event, Person, Priority, Role, Status, TicketEvent
from helpdesk_retain.integrations import Integration, IntegrationConfig, PayloadError, dig, id_str, load_json, vocab_key
from helpdesk_retain.plugin_kit import (
    HUB_SHA1,
    HmacSignedMixin,
    call_parser,
    field_links,
    field_text,
    field_time,
    html_to_text,
    hub_signature,
    json_object,
    known_person,
    parser_for,
    requester_email,
    require_object,
    with_comments,
)

CONVERSATION_STATES: dict[str, Status] = {"open": "open", "snoozed": "on_hold", "closed": "solved"}
TICKET_STATES: dict[str, Status] = {
    "submitted": "new",
    "inprogress": "open",
    "waitingoncustomer": "pending",
    "resolved": "solved",
}
PRIORITIES: dict[str, Priority] = {"priority": "high", "notpriority": "normal"}
AUTHOR_ROLES: dict[str, Role] = {
    "admin": "agent",
    "team": "agent",
    "user": "customer",
    "lead": "customer",
    "contact": "customer",
    "bot": "system",
}
#: parts an admin writes for teammates only
NOTE_PARTS = frozenset({"note", "note_and_reopen"})
#: topics whose conversation is new: its first message is the description and the opening comment
OPENING_TOPICS = frozenset({"conversation.user.created", "conversation.admin.single.created"})
#: the status a topic implies when the item does not say (older payloads, minimal items)
TOPIC_STATUS: dict[str, Status] = {
    "conversation.admin.closed": "solved",
    "conversation.admin.snoozed": "on_hold",
    "conversation.admin.unsnoozed": "open",
    "conversation.admin.opened": "open",
    "ticket.closed": "solved",
}
TICKET_DEFAULT_ATTRIBUTES = frozenset({"_default_title_", "_default_description_"})


class IntercomConfig(IntegrationConfig):
    #: contact custom attribute holding the customer's plan (None: not read)
    plan_attribute: str | None = "plan"
    #: contact custom attribute holding the account status, e.g. synced from billing (None: not read)
    status_attribute: str | None = None
    #: values of ``status_attribute`` that mean the customer has cancelled (compared ignoring case and spaces)
    cancelled_values: tuple[str, ...] = ("cancelled", "canceled", "churned")


@dataclass(frozen=True)
class Notice:
    """One notification: its topic, its ``data.item``, when it happened and the source's config."""

    topic: str
    item: Mapping[str, Any]
    at: datetime
    config: IntercomConfig


def attributes(data: Any, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    if not isinstance(data, Mapping):
        return {}
    texts = {str(k): field_text(v) for k, v in data.items() if k not in skip}
    return {k: v for k, v in texts.items() if v is not None}


def tag_names(value: Any) -> tuple[str, ...] | None:
    """``{"type": "tag.list", "tags": [{"name": ...}]}`` (conversations) or ``{"data": [...]}`` (contacts)."""
    if isinstance(value, Mapping):
        value = value.get("tags", value.get("data"))
    if not isinstance(value, list):
        return None
    names = (t.get("name") if isinstance(t, Mapping) else t for t in value)
    return tuple(str(n) for n in names if n)


def time_of(data: Mapping[str, Any], key: str, where: str) -> datetime | None:
    """Intercom sends 0 for a time that is not set."""
    return None if data.get(key) == 0 else field_time(data, key, where)


def person(data: Any) -> Person | None:
    if not isinstance(data, Mapping):
        return None
    return known_person(data.get("email") or None, data.get("name") or None, id_str(data.get("id")))


def role_of(author: Any, where: str) -> Role:
    kind = author.get("type") if isinstance(author, Mapping) else None
    role = AUTHOR_ROLES.get(str(kind))
    if role is None:
        raise PayloadError(f"{where}.author.type: {kind!r} is not one of {sorted(AUTHOR_ROLES)}")
    return role


def part_comments(parts: Any, at: datetime, shared: bool, where: str) -> list[Comment]:
    """Parts that carry a message (a body); assignment and state parts without one are not comments."""
    comments = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, Mapping) or not part.get("body") or part.get("redacted"):
            continue
        author = part.get("author")
        comments.append(
            Comment(
                id=id_str(dig(part, "id", field=f"{where}.id", required=True)) or "",
                body=html_to_text(part["body"]),
                public=shared and part.get("part_type") not in NOTE_PARTS,
                author_role=role_of(author, where),
                author_email=(author.get("email") or None) if isinstance(author, Mapping) else None,
                created_at=time_of(part, "created_at", where) or at,
            )
        )
    return comments


# --- conversations -----------------------------------------------------------------------------------------------


def opening_message(conv: Mapping[str, Any]) -> Mapping[str, Any]:
    message = conv.get("source") or conv.get("conversation_message")
    return message if isinstance(message, Mapping) else {}


def conversation_requester(conv: Mapping[str, Any]) -> Person | None:
    """API 1.x ``user``; else the opening message's author if a customer wrote it; else the first contact."""
    author = opening_message(conv).get("author")
    if isinstance(author, Mapping) and AUTHOR_ROLES.get(str(author.get("type"))) != "customer":
        author = None
    return person(conv.get("user")) or person(author) or person(dig(conv, "contacts", "contacts", 0))


def opening_comment(event: TicketEvent, conv: Mapping[str, Any]) -> Comment:
    """The first message; API 1.x names its author by id only, so a customer's email comes from the requester."""
    message = opening_message(conv)
    author = message.get("author")
    role = role_of(author, "data.item.source")
    email = (author.get("email") or None) if isinstance(author, Mapping) else None
    if email is None:
        email = requester_email(event, role)
    return Comment(
        id=id_str(message.get("id")) or f"{event.external_id}:opening",
        body=html_to_text(message.get("body")),
        public=True,
        author_role=role,
        author_email=email,
        created_at=event.created_at or event.occurred_at,
    )


def channel_of(conv: Mapping[str, Any]) -> str | None:
    """API 2.x ``source.type`` (email, twitter, ...; Messenger chats are "conversation"); 1.x does not say."""
    source = conv.get("source")
    kind = source.get("type") if isinstance(source, Mapping) else None
    if not kind:
        return None
    return "messenger" if kind == "conversation" else str(kind)


def conversation_event(n: Notice) -> TicketEvent:
    conv = n.item
    conv_id = id_str(dig(conv, "id", field="data.item.id", required=True)) or ""
    fields = attributes(conv.get("custom_attributes"))
    assignee = conv.get("assignee")
    return TicketEvent(
        kind="ticket.updated",
        external_id=conv_id,
        occurred_at=n.at,
        subject=html_to_text(conv.get("title") or opening_message(conv).get("subject")) or None,
        status=CONVERSATION_STATES.get(vocab_key(conv.get("state") or "")) or TOPIC_STATUS.get(n.topic),
        priority=PRIORITIES.get(vocab_key(conv.get("priority") or "")),
        channel=channel_of(conv),
        tags=tag_names(conv.get("tags")),
        created_at=time_of(conv, "created_at", "data.item"),
        updated_at=time_of(conv, "updated_at", "data.item"),
        requester=conversation_requester(conv),
        assignee_email=(assignee.get("email") or None) if isinstance(assignee, Mapping) else None,
        custom_fields=fields,
        links=field_links(fields, n.config.link_fields),
        url=dig(conv, "links", "conversation_web"),
    )


def parse_conversation(n: Notice) -> list[Event]:
    event = conversation_event(n)
    parts = dig(n.item, "conversation_parts", "conversation_parts")
    comments = part_comments(parts, n.at, True, "data.item.conversation_parts[]")
    if n.topic in OPENING_TOPICS:
        event = replace(event, kind="ticket.created")
        if opening_message(n.item):
            opening = opening_comment(event, n.item)
            event = replace(event, description=opening.body or None)
            comments.insert(0, opening)
    return with_comments(event, comments)


# --- tickets -----------------------------------------------------------------------------------------------------


def ticket_state(ticket: Mapping[str, Any], topic: str) -> Status | None:
    """``ticket_state`` is an object with ``category`` (current API) or the category itself (older payloads)."""
    state = ticket.get("ticket_state")
    category = state.get("category") if isinstance(state, Mapping) else state
    return TICKET_STATES.get(vocab_key(category or "")) or TOPIC_STATUS.get(topic)


def ticket_event(n: Notice, ticket: Mapping[str, Any], where: str) -> TicketEvent:
    attrs = ticket.get("ticket_attributes") if isinstance(ticket.get("ticket_attributes"), Mapping) else {}
    fields = attributes(attrs, TICKET_DEFAULT_ATTRIBUTES)
    return TicketEvent(
        kind="ticket.created" if n.topic == "ticket.created" else "ticket.updated",
        external_id=id_str(dig(ticket, "id", field=f"{where}.id", required=True)) or "",
        occurred_at=n.at,
        subject=field_text(attrs.get("_default_title_")),
        description=field_text(attrs.get("_default_description_")) if n.topic == "ticket.created" else None,
        status=ticket_state(ticket, n.topic),
        channel=ticket.get("channel") or None,
        type=dig(ticket, "ticket_type", "name"),
        tags=tag_names(ticket.get("tags")),
        created_at=time_of(ticket, "created_at", where),
        updated_at=time_of(ticket, "updated_at", where),
        requester=person(dig(ticket, "contacts", "contacts", 0)),
        custom_fields=fields,
        links=field_links(fields, n.config.link_fields),
        display_id=id_str(ticket.get("ticket_id")),
    )


def parse_ticket(n: Notice) -> list[Event]:
    """Back-office tickets (``is_shared: false``) are never seen by the customer: their replies are not public."""
    if isinstance(n.item.get("ticket"), Mapping):  # ticket_ticket_part: the ticket plus the new part
        ticket, where, parts = n.item["ticket"], "data.item.ticket", [n.item.get("ticket_part")]
        parts_where = "data.item.ticket_part"
    else:
        ticket, where, parts = n.item, "data.item", dig(n.item, "ticket_parts", "ticket_parts")
        parts_where = "data.item.ticket_parts[]"
    event = ticket_event(n, ticket, where)
    shared = ticket.get("is_shared") is not False
    return with_comments(event, part_comments(parts, n.at, shared, parts_where))


# --- contacts ----------------------------------------------------------------------------------------------------


def contact_status(attrs: Mapping[str, Any], config: IntercomConfig) -> Literal["active", "cancelled"] | None:
    value = field_text(attrs.get(config.status_attribute)) if config.status_attribute else None
    if value is None:
        return None
    return "cancelled" if vocab_key(value) in {vocab_key(v) for v in config.cancelled_values} else "active"


def parse_contact(n: Notice) -> list[Event]:
    contact = n.item
    attrs = contact.get("custom_attributes") if isinstance(contact.get("custom_attributes"), Mapping) else {}
    plan = field_text(attrs.get(n.config.plan_attribute)) if n.config.plan_attribute else None
    return [
        CustomerEvent(
            occurred_at=time_of(contact, "updated_at", "data.item") or n.at,
            email=contact.get("email") or None,
            external_id=id_str(dig(contact, "id", field="data.item.id", required=True)),
            name=contact.get("name") or None,
            status=contact_status(attrs, n.config),
            plan=plan,
        )
    ]


#: the event table (Intercom topics): dispatcher and documentation of what this plugin understands
EVENT_PARSERS: dict[str, Callable[[Notice], list[Event]]] = {
    "conversation.user.created": parse_conversation,
    "conversation.user.replied": parse_conversation,
    "conversation.admin.single.created": parse_conversation,
    "conversation.admin.replied": parse_conversation,
    "conversation.admin.noted": parse_conversation,
    "conversation.admin.assigned": parse_conversation,
    "conversation.admin.closed": parse_conversation,
    "conversation.admin.snoozed": parse_conversation,
    "conversation.admin.unsnoozed": parse_conversation,
    "conversation.admin.opened": parse_conversation,
    "conversation.operator.replied": parse_conversation,
    "conversation.priority.updated": parse_conversation,
    "ticket.created": parse_ticket,
    "ticket.state.updated": parse_ticket,
    "ticket.attribute.updated": parse_ticket,
    "ticket.admin.assigned": parse_ticket,
    "ticket.closed": parse_ticket,
    "ticket.admin.replied": parse_ticket,
    "ticket.contact.replied": parse_ticket,
    "ticket.note.created": parse_ticket,
    "contact.user.created": parse_contact,
    "contact.user.updated": parse_contact,
    "contact.lead.created": parse_contact,
    "contact.lead.updated": parse_contact,
}


def notice(payload: Any, config: IntercomConfig) -> tuple[Notice, Callable[[Notice], list[Event]]]:
    topic = str(dig(require_object(payload), "topic", required=True))
    parser = parser_for(EVENT_PARSERS, topic, "topic")  # ping, and every topic this plugin does not use is ignored
    item = dig(payload, "data", "item", field="data.item", required=True)
    if not isinstance(item, Mapping):
        raise PayloadError("data.item: expected an object")
    at = time_of(payload, "created_at", "notification") or time_of(item, "updated_at", "data.item")
    if at is None:
        raise PayloadError("missing field: created_at")
    return Notice(topic, item, at, config), parser


class IntercomIntegration(HmacSignedMixin, Integration):
    slug = "intercom"
    Config = IntercomConfig
    event_kinds = frozenset(EVENT_PARSERS)
    signature = HUB_SHA1

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        return id_str(dig(json_object(body), "id"))

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        n, parser = notice(load_json(body), self.config)  # type: ignore[arg-type]
        return call_parser(n.topic, parser, n)

    def sign(self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None) -> dict[str, str]:
        """Intercom's headers; the delivery id travels in the body (``id``), so ``delivery_id`` is not used."""
        return {
            "X-Hub-Signature": hub_signature(self.secret, body),
            "Content-Type": "application/json",
            "User-Agent": "Intercom-Webhooks",
        }
