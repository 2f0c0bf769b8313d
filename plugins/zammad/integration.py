"""Zammad integration: trigger webhooks carrying ``ticket`` and (usually) ``article``.

Signature: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(token, raw body)>``. Zammad signs only when the webhook has an
"HMAC SHA1 Signature Token"; helpdesk-retain requires one (the source ``secret``), so an unsigned delivery is 401.
Delivery id: ``X-Zammad-Delivery`` (random per job, stable across that job's five attempts); without it the inbox
keys on a hash of the body. ``X-Zammad-Trigger`` only names the trigger.

Zammad sends no event type: one trigger, one webhook. ``event_kind`` reads the kind from the payload: an article
that is the ticket's first opens the ticket (``ticket.created``), any other article is ``article.created``, and a
payload without an article is ``ticket.created`` when ``created_at == updated_at``, else ``ticket.updated``.
The default payload renders ``state`` as a name and ``priority``, ``customer``, ``owner`` as objects; custom
payloads render ``#{...}`` variables as strings. Both are accepted wherever a value may be either.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from helpdesk_retain.events import Comment, Event, Person, Priority, Role, Status, TicketEvent
from helpdesk_retain.integrations import (
    Integration,
    IntegrationConfig,
    PayloadError,
    UnsupportedEvent,
    dig,
    id_str,
    vocab_key,
)
from helpdesk_retain.plugin_kit import (
    HUB_SHA1,
    MALFORMED,
    DeliveryHeaderMixin,
    HmacSignedMixin,
    comment_snapshot,
    dispatch,
    field_links,
    field_text,
    field_time,
    html_to_text,
    hub_signature,
    known_person,
    load_object,
    vocab_lookup,
)

log = logging.getLogger(__name__)

#: Zammad's default states (names compared with ``vocab_key``); custom states come from ``state_map``
STATES: dict[str, Status] = {
    "new": "new",
    "open": "open",
    "pendingreminder": "on_hold",
    "pendingclose": "pending",
    "closed": "solved",
    "merged": "closed",
}
#: Zammad's default priorities; "4 urgent"-style custom names fall back to the word after the number
PRIORITIES: dict[str, Priority] = {"1low": "low", "2normal": "normal", "3high": "high"}
PRIORITY_WORDS = frozenset({"low", "normal", "high", "urgent"})
SENDERS: dict[str, Role] = {"customer": "customer", "agent": "agent", "system": "system"}

#: ticket attributes Zammad itself defines; every other scalar attribute is a custom attribute
STANDARD_ATTRIBUTES = frozenset(
    {
        "id", "number", "title", "state", "priority", "group", "organization", "owner", "customer", "created_by",
        "updated_by", "note", "type", "create_article_type", "create_article_sender", "article_count",
        "pending_time", "time_unit", "preferences", "tags", "mentions", "url",
    }
)  # fmt: skip
STANDARD_SUFFIXES = ("_id", "_ids", "_at", "_in_min")


class ZammadConfig(IntegrationConfig):
    #: e.g. "https://support.example.com": ticket URLs become <base_url>/#ticket/zoom/<id>
    base_url: str | None = None
    #: custom state name -> normalized status (merged over the defaults)
    state_map: dict[str, Status] = {}
    #: custom priority name -> normalized priority (merged over the defaults)
    priority_map: dict[str, Priority] = {}
    #: custom attributes whose values count as tags: Zammad's webhooks carry no tags (a checkbox adds its own name)
    tag_attributes: tuple[str, ...] = ()


# --- values that may be objects or strings ----------------------------------------------------------------------


def unset(value: Any) -> bool:
    """Empty, Zammad's "-" for a missing value, or a placeholder Zammad left unresolved (``#{ticket.tags}``)."""
    if value is None:
        return True
    text = str(value).strip()
    return text in ("", "-") or (text.startswith("#{") and text.endswith("}"))


def name_of(value: Any) -> str | None:
    """``{"name": "open"}`` or ``"open"`` -> ``"open"``; unset -> None."""
    if isinstance(value, Mapping):
        value = value.get("name")
    if isinstance(value, Mapping | list) or unset(value):
        return None
    return str(value).strip()


def email_of(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("email")
    return value.strip() if isinstance(value, str) and "@" in value else None


def truthy(value: Any) -> bool:
    """Custom payloads render ``#{article.internal}`` as the text "true" / "false"."""
    return value.strip().lower() in ("true", "1", "yes") if isinstance(value, str) else bool(value)


# --- ticket ------------------------------------------------------------------------------------------------------


def map_state(name: str | None, config: ZammadConfig) -> Status | None:
    if name is None:
        return None
    status = vocab_lookup(name, config.state_map, STATES)
    if status is None:
        log.warning("unmapped Zammad state %r: add it to state_map", name)
    return status


def map_priority(name: str | None, config: ZammadConfig) -> Priority | None:
    if name is None:
        return None
    bare = vocab_key(name).lstrip("0123456789")  # "4 urgent" -> "urgent"
    found = vocab_lookup(name, config.priority_map, PRIORITIES) or (bare if bare in PRIORITY_WORDS else None)
    if found is None:
        log.warning("unmapped Zammad priority %r: add it to priority_map", name)
    return found  # type: ignore[return-value]


def customer(value: Any) -> Person | None:
    if isinstance(value, str):  # a custom payload's #{ticket.customer.email} (or login)
        if unset(value):
            return None
        value = value.strip()
        return Person(email=value) if "@" in value else Person(external_id=value)
    if not isinstance(value, Mapping):
        return None
    name = " ".join(str(p) for p in (value.get("firstname"), value.get("lastname")) if p) or None
    return known_person(email_of(value), name, id_str(value.get("id")))


def tag_list(value: Any) -> tuple[str, ...] | None:
    """A list, or "a, b" text; None when unset."""
    if isinstance(value, str) and not unset(value):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = [name_of(v) for v in value]
    else:
        return None
    return tuple(t.strip() for t in items if t and t.strip())


def ticket_tags(ticket: Mapping[str, Any], config: ZammadConfig) -> tuple[str, ...] | None:
    """``ticket.tags`` if a payload has them, plus the values of the configured ``tag_attributes``."""
    tags = list(tag_list(ticket.get("tags")) or ())
    for name in config.tag_attributes:
        value = ticket.get(name)
        tags.extend([name] if value is True else tag_list(value) or ())
    if tag_list(ticket.get("tags")) is None and not any(name in ticket for name in config.tag_attributes):
        return None  # the delivery does not say
    return tuple(dict.fromkeys(tags))


def custom_fields(ticket: Mapping[str, Any]) -> dict[str, str]:
    fields = {}
    for key, value in ticket.items():
        if key in STANDARD_ATTRIBUTES or key.endswith(STANDARD_SUFFIXES):
            continue
        text = field_text(value, unset)  # a multi-select is joined; "-" and unresolved placeholders are no value
        if text is not None:
            fields[key] = text
    return fields


def ticket_event(kind: str, ticket: Mapping[str, Any], config: ZammadConfig, occurred_at: datetime) -> TicketEvent:
    external_id = id_str(dig(ticket, "id", field="ticket.id", required=True)) or ""
    fields = custom_fields(ticket)
    base_url = (config.base_url or "").rstrip("/")
    return TicketEvent(
        kind=kind,  # type: ignore[arg-type]
        external_id=external_id,
        occurred_at=occurred_at,
        subject=name_of(ticket.get("title")),
        status=map_state(name_of(ticket.get("state")), config),
        priority=map_priority(name_of(ticket.get("priority")), config),
        channel=name_of(ticket.get("create_article_type")),
        type=name_of(ticket.get("type")),
        tags=ticket_tags(ticket, config),
        created_at=field_time(ticket, "created_at", "ticket"),
        updated_at=field_time(ticket, "updated_at", "ticket"),
        requester=customer(ticket.get("customer")),
        assignee_email=email_of(ticket.get("owner")),
        custom_fields=fields,
        links=field_links(fields, config.link_fields),
        display_id=id_str(ticket.get("number")),
        url=f"{base_url}/#ticket/zoom/{external_id}" if base_url else name_of(ticket.get("url")),
    )


# --- article -----------------------------------------------------------------------------------------------------


def article_text(article: Mapping[str, Any]) -> str:
    body = article.get("body")
    if body in (None, ""):
        body = article.get("body_as_text") or ""
    body = str(body)
    return html_to_text(body) if "html" in str(article.get("content_type") or "").lower() else body.strip()


def article_author(article: Mapping[str, Any]) -> str | None:
    address = parseaddr(str(article.get("from") or ""))[1]
    return email_of(article.get("created_by")) or (address if "@" in address else None)


def article_comment(article: Mapping[str, Any], fallback_at: datetime) -> Comment:
    article_id = id_str(dig(article, "id", field="article.id", required=True)) or ""
    sender = name_of(dig(article, "sender", field="article.sender", required=True))
    role = SENDERS.get(vocab_key(sender or ""))
    if role is None:
        raise PayloadError(f"article.sender: {sender!r} is not one of Customer, Agent, System")
    return Comment(
        id=article_id,
        body=article_text(article),
        public=not truthy(article.get("internal")),
        author_role=role,
        author_email=article_author(article),
        created_at=field_time(article, "created_at", "article") or fallback_at,
    )


# --- dispatch ----------------------------------------------------------------------------------------------------


def parts(payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    """The ticket object (required) and the article (None when the trigger ran without one)."""
    ticket = payload.get("ticket")
    if ticket is None:
        raise UnsupportedEvent("no ticket object: not a Zammad ticket trigger payload")
    if not isinstance(ticket, Mapping):
        raise PayloadError("ticket: expected an object (use the default payload or a nested custom payload)")
    article = payload.get("article")
    has_article = isinstance(article, Mapping) and not unset(article.get("id"))
    return ticket, article if has_article else None  # type: ignore[return-value]


def article_ids(value: Any) -> list[int]:
    """``ticket.article_ids``: a list in the default payload, text ("201, 202") in a custom one; unset -> [].
    Any other JSON type is a PayloadError (answered 422), never a crash."""
    if isinstance(value, list):
        return [int(i) for i in value if isinstance(i, int | str) and str(i).strip().isdecimal()]
    if isinstance(value, str):
        return [] if unset(value) else [int(i) for i in re.findall(r"\d+", value)]
    if value is None:
        return []
    raise PayloadError(f"ticket.article_ids: expected a list of article ids, got {type(value).__name__}")


def is_first_article(ticket: Mapping[str, Any], article: Mapping[str, Any]) -> bool:
    ids = article_ids(ticket.get("article_ids"))
    if ids:
        return id_str(article.get("id")) == str(min(ids))
    return str(ticket.get("article_count")) == "1"


def event_kind(payload: Mapping[str, Any]) -> str:
    ticket, article = parts(payload)
    if article is not None:
        return "ticket.created" if is_first_article(ticket, article) else "article.created"
    created, updated = ticket.get("created_at"), ticket.get("updated_at")
    return "ticket.created" if created and created == updated else "ticket.updated"


def occurred_at(ticket: Mapping[str, Any], article: Mapping[str, Any] | None) -> datetime:
    at = field_time(article, "created_at", "article") if article else None
    at = at or field_time(ticket, "updated_at", "ticket") or field_time(ticket, "created_at", "ticket")
    if at is None:
        raise PayloadError("missing field: ticket.updated_at")
    return at


def parse_created(payload: Mapping[str, Any], config: ZammadConfig) -> list[Event]:
    """A new ticket; its first article is both the description and the opening comment."""
    ticket, article = parts(payload)
    at = occurred_at(ticket, article)
    event = ticket_event("ticket.created", ticket, config, at)
    if article is None:
        return [event]
    comment = article_comment(article, at)
    return [replace(event, description=comment.body), comment_snapshot(event, comment)]


def parse_updated(payload: Mapping[str, Any], config: ZammadConfig) -> list[Event]:
    ticket, article = parts(payload)
    return [ticket_event("ticket.updated", ticket, config, occurred_at(ticket, article))]


def parse_article(payload: Mapping[str, Any], config: ZammadConfig) -> list[Event]:
    """A further article: the ticket's new state (kept in the log) and the comment."""
    ticket, article = parts(payload)
    at = occurred_at(ticket, article)
    event = ticket_event("ticket.updated", ticket, config, at)
    return [event, comment_snapshot(event, article_comment(article or {}, at))]


#: the event table: dispatcher and documentation of what this plugin understands
EVENT_PARSERS: dict[str, Callable[[Mapping[str, Any], ZammadConfig], list[Event]]] = {
    "ticket.created": parse_created,
    "ticket.updated": parse_updated,
    "article.created": parse_article,
}


class ZammadIntegration(HmacSignedMixin, DeliveryHeaderMixin, Integration):
    slug = "zammad"
    Config = ZammadConfig
    event_kinds = frozenset(EVENT_PARSERS)
    signature = HUB_SHA1
    delivery_headers = ("X-Zammad-Delivery",)

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        payload = load_object(body)
        try:  # the kind is read from the payload before the parser's own guard (``dispatch``) applies
            kind = event_kind(payload)
        except MALFORMED as exc:
            raise PayloadError(f"malformed payload: {exc}") from exc
        return dispatch(EVENT_PARSERS, kind, payload, self.config)

    def sign(self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None) -> dict[str, str]:
        """Zammad's headers; the delivery id defaults to a uuid derived from the body (Zammad's is random)."""
        return {
            "X-Hub-Signature": hub_signature(self.secret, body),
            "X-Zammad-Delivery": delivery_id or str(uuid.UUID(bytes=hashlib.sha256(body).digest()[:16])),
            "X-Zammad-Trigger": "helpdesk-retain",
            "User-Agent": "Zammad User Agent",
            "Content-Type": "application/json",
        }
