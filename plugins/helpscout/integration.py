"""Help Scout integration (webhook-sources.md "Help Scout"; set-up and mapping in this folder's README).

Signature: ``X-HelpScout-Signature`` is base64 HMAC-SHA1 of the raw body with the secret chosen when the
webhook was created (UTF-8, at most 40 characters). No timestamp. ``X-HelpScout-Event`` names the event
(``convo.customer.reply.created``, ``customer.updated``, ...); ``helpscout.test`` is the set-up ping.

Bodies are v2 resource objects: a conversation for ``convo.*`` (``convo.deleted`` sends only ``{id}``), a
customer for ``customer.*``. ``external_id`` is the conversation's internal ``id``, never the displayed
``number``. Thread bodies are HTML and come in ``_embedded.threads`` (newest first in the API, but the
newest is chosen by ``createdAt``); a thread's ``createdBy.type`` says who wrote it (``author_role``), and a
reply event takes the newest thread its side wrote. Without one the conversation's ``preview`` stands in.

Delivery id: Help Scout sends none, so event + conversation/customer id + body hash: a redelivered
byte-identical body is a duplicate, while two different events on one conversation never collide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import Headers

from helpdesk_retain.events import Comment, CustomerEvent, Event, Person, Role, Status, TicketEvent, utcnow
from helpdesk_retain.integrations import (
    Integration,
    IntegrationConfig,
    PayloadError,
    body_hash,
    check_digest,
    dig,
    hmac_digest,
    id_str,
    require_header,
)
from helpdesk_retain.plugin_kit import (
    call_parser,
    comment_only,
    content_id,
    html_to_text,
    json_object,
    link_tokens,
    load_object,
    optional_time,
    parser_for,
    requester_email,
    scalar_text,
    vocab,
)

SIGNATURE = "X-HelpScout-Signature"
EVENT = "X-HelpScout-Event"
STATUSES: dict[str, Status] = {
    "active": "open",
    "open": "open",
    "pending": "pending",
    "closed": "solved",
    "spam": "closed",
}
#: a thread's ``createdBy.type`` -> who wrote it (Help Scout calls its agents "users")
AUTHOR_ROLES: dict[str, Role] = {"user": "agent", "customer": "customer"}
#: who writes a thread of each type, when its ``createdBy`` does not say
THREAD_ROLES: dict[str, Role] = {
    "customer": "customer",
    "chat": "customer",
    "phone": "customer",
    "reply": "agent",
    "message": "agent",
    "note": "agent",
}
WEB_URL = "https://secure.helpscout.net/conversation/{id}/{number}"
#: sorts a thread without a time last
_NEVER = datetime.min.replace(tzinfo=UTC)


def helpscout_signature(secret: bytes, body: bytes) -> str:
    return hmac_digest(hashlib.sha1, secret, body, "base64")


def html_text(html: Any) -> str | None:
    """Thread bodies are HTML; keep the text and link URLs (core scans them for tracker links)."""
    return html_to_text(html, links=True) if isinstance(html, str) and html.strip() else None


def _name(person: Mapping[str, Any]) -> str | None:
    parts = (person.get(k) for k in ("first", "last", "firstName", "lastName"))
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip()) or scalar_text(person.get("name"))


def _status(value: Any) -> Status | None:
    text = scalar_text(value)
    if text is None:
        return None
    status = STATUSES.get(vocab(text))
    if status is None:
        raise PayloadError(f"status: unknown status {text!r}")
    return status


def _tags(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    names = (t.get("tag") or t.get("name") if isinstance(t, Mapping) else t for t in value)
    return tuple(str(n).strip() for n in names if n is not None and str(n).strip())


class HelpScoutConfig(IntegrationConfig):
    """Plugin keys of a ``[sources.<name>]`` table with ``plugin = "helpscout"``; all optional."""

    #: custom field name or id -> the name its value is stored under ({"Save amount" = "save_amount"})
    field_names: dict[str, str] = {}


def _fields(value: Any, names: Mapping[str, str]) -> list[tuple[str, set[str], str]]:
    """``customFields[]`` as (stored name, every name it answers to, value). ``text`` is the shown value (a
    dropdown's label), ``value`` the stored one; ``field_names`` renames by Help Scout name or id."""
    found = []
    for f in value if isinstance(value, list) else ():
        label, field_id = (scalar_text(f.get("name")), id_str(f.get("id"))) if isinstance(f, Mapping) else (None, None)
        name = names.get(label or "") or names.get(field_id or "") or label or field_id
        if name:
            shown = f.get("text") if f.get("text") not in (None, "") else f.get("value")
            found.append((name, {name, label or name, field_id or name}, "" if shown is None else str(shown).strip()))
    return found


def _links(fields: list[tuple[str, set[str], str]], config: HelpScoutConfig) -> tuple[str, ...]:
    """Tracker URLs or keys in the configured link fields (by stored name, Help Scout name or field id)."""
    wanted = set(config.link_fields)
    return link_tokens(value for _, aliases, value in fields if aliases & wanted)


def _threads(payload: Mapping[str, Any], types: frozenset[str]) -> list[tuple[datetime | None, Mapping[str, Any]]]:
    """Published threads of the given types with the time each was written, newest first."""
    threads = dig(payload, "_embedded", "threads") or []
    chosen = [
        (optional_time(t.get("createdAt"), "thread.createdAt"), t)
        for t in threads
        if isinstance(t, Mapping) and t.get("type") in types and t.get("state") != "draft"
    ]
    chosen.sort(key=lambda pair: pair[0] or _NEVER, reverse=True)
    return chosen


def author_role(thread: Mapping[str, Any]) -> Role:
    """Who wrote a thread: its ``createdBy.type`` when that says (a ``chat`` thread by a user is an agent's
    message), else what the thread's type implies."""
    written_by = scalar_text(dig(thread, "createdBy", "type"))
    return (written_by and AUTHOR_ROLES.get(vocab(written_by))) or THREAD_ROLES.get(str(thread.get("type")), "customer")


def conversation(payload: Mapping[str, Any], config: HelpScoutConfig, kind: str) -> TicketEvent:
    convo_id = id_str(dig(payload, "id", required=True))
    number = id_str(payload.get("number"))
    customer = payload.get("primaryCustomer") if isinstance(payload.get("primaryCustomer"), Mapping) else {}
    if not customer and dig(payload, "createdBy", "type") == "customer":
        customer = payload["createdBy"]
    threads = _threads(payload, frozenset({"customer", "message", "reply", "note", "chat", "phone"}))
    created = optional_time(payload.get("createdAt"), "createdAt")
    times = [created, *(optional_time(payload.get(k), k) for k in ("userUpdatedAt", "closedAt"))]
    times += [at for at, _ in threads[:1]]
    updated = max((t for t in times if t is not None), default=None)
    fields, first = _fields(payload.get("customFields"), config.field_names), threads[-1][1] if threads else {}
    email = scalar_text(customer.get("email"))
    return TicketEvent(
        kind=kind,  # type: ignore[arg-type]
        external_id=convo_id or "",
        occurred_at=updated or utcnow(),
        subject=scalar_text(payload.get("subject")),
        description=(html_text(first.get("body")) or scalar_text(payload.get("preview")))
        if kind == "ticket.created"
        else None,
        status="closed" if payload.get("state") == "deleted" else _status(payload.get("status")),
        channel=scalar_text(payload.get("type")) or scalar_text(dig(payload, "source", "type")),
        tags=_tags(payload.get("tags")),
        created_at=created,
        updated_at=updated,
        requester=Person(email, _name(customer), id_str(customer.get("id"))) if customer.get("id") or email else None,
        assignee_email=scalar_text(dig(payload, "assignee", "email")),
        custom_fields={name: value for name, _, value in fields},
        links=_links(fields, config),
        display_id=number,
        url=scalar_text(dig(payload, "_links", "web", "href"))
        or WEB_URL.format(id=convo_id, number=number or "").rstrip("/"),
    )


def _comment(
    payload: Mapping[str, Any], ticket: TicketEvent, types: frozenset[str], role: Role, public: bool
) -> Comment:
    """The newest thread of the event's types written by ``role`` (``author_role``); without one, the
    conversation's ``preview``."""
    threads = [(at, thread) for at, thread in _threads(payload, types) if author_role(thread) == role]
    if threads:
        at, thread = threads[0]
        author = thread.get("createdBy") if isinstance(thread.get("createdBy"), Mapping) else {}
        return Comment(
            id=id_str(dig(thread, "id", field="_embedded.threads[].id", required=True)) or "",
            body=html_text(thread.get("body")) or "",
            public=public,
            author_role=role,
            created_at=at or ticket.occurred_at,
            author_email=scalar_text(author.get("email")) or scalar_text(dig(thread, "customer", "email")),
        )
    preview = scalar_text(payload.get("preview"))
    if preview is None:
        raise PayloadError("missing field: _embedded.threads")
    waiting = optional_time(dig(payload, "customerWaitingSince", "time"), "customerWaitingSince.time")
    at = waiting if role == "customer" and waiting else ticket.occurred_at
    author = requester_email(ticket, role)
    return Comment(content_id("hs-", ticket.external_id, role, preview), preview, public, role, at, author)


def _with_thread(types: frozenset[str], role: Role, public: bool) -> Callable[..., list[Event]]:
    def parse(payload: Mapping[str, Any], config: HelpScoutConfig) -> list[Event]:
        ticket = conversation(payload, config, "ticket.updated")
        return [ticket, comment_only(ticket, _comment(payload, ticket, types, role, public))]

    return parse


def parse_created(payload: Mapping[str, Any], config: HelpScoutConfig) -> list[Event]:
    return [conversation(payload, config, "ticket.created")]


def parse_changed(payload: Mapping[str, Any], config: HelpScoutConfig) -> list[Event]:
    """Every ``convo.*`` body is the whole conversation after the change: one snapshot serves them all."""
    return [conversation(payload, config, "ticket.updated")]


def parse_deleted(payload: Mapping[str, Any], config: HelpScoutConfig) -> list[Event]:
    """``convo.deleted`` sends only ``{id}``: the ticket is closed so its clocks stop."""
    convo_id = id_str(dig(payload, "id", required=True)) or ""
    return [TicketEvent(kind="ticket.updated", external_id=convo_id, occurred_at=utcnow(), status="closed")]


def parse_customer(payload: Mapping[str, Any], config: HelpScoutConfig) -> list[Event]:
    customer_id = id_str(dig(payload, "id", required=True))
    emails = dig(payload, "_embedded", "emails") or payload.get("emails") or []
    values = (e.get("value") if isinstance(e, Mapping) else e for e in emails if e)
    email = next((v for v in values if isinstance(v, str) and "@" in v), None) or scalar_text(payload.get("email"))
    at = (
        optional_time(payload.get("updatedAt"), "updatedAt")
        or optional_time(payload.get("createdAt"), "createdAt")
        or utcnow()
    )
    return [CustomerEvent(occurred_at=at, email=email, external_id=customer_id, name=_name(payload))]


#: the event table: dispatcher and documentation of what this plugin understands
EVENT_PARSERS: dict[str, Callable[[Mapping[str, Any], HelpScoutConfig], list[Event]]] = {
    "convo.created": parse_created,
    "convo.assigned": parse_changed,
    "convo.moved": parse_changed,
    "convo.status": parse_changed,
    "convo.tags": parse_changed,
    "convo.custom-fields": parse_changed,
    "convo.merged": parse_changed,  # the body is the conversation that survives the merge
    # a chat or phone thread is a customer's or an agent's by its createdBy (``author_role``)
    "convo.customer.reply.created": _with_thread(frozenset({"customer", "chat", "phone"}), "customer", True),
    "convo.agent.reply.created": _with_thread(frozenset({"reply", "message", "chat", "phone"}), "agent", True),
    "convo.note.created": _with_thread(frozenset({"note"}), "agent", False),
    "convo.deleted": parse_deleted,
    "customer.created": parse_customer,
    "customer.updated": parse_customer,
}


class HelpScoutIntegration(Integration):
    slug = "helpscout"
    Config = HelpScoutConfig
    event_kinds = frozenset(EVENT_PARSERS)
    config: HelpScoutConfig

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        h = Headers(headers)
        signature = require_header(h, SIGNATURE)
        require_header(h, EVENT)  # every Help Scout request names its event; a request without one is not theirs
        check_digest(helpscout_signature(self.secret, body), signature)

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        event = Headers(headers).get(EVENT)
        object_id = id_str(dig(json_object(body), "id"))
        return f"{event}:{object_id}:{body_hash(body)[:40]}" if event and object_id else None

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        # headers may be the lower-cased dict kept with a dead letter: look the event up case-insensitively
        # (werkzeug's Headers costs a copy, so only when the name as Help Scout spells it is not there)
        kind = headers.get(EVENT) or Headers(headers).get(EVENT) or ""
        parser = parser_for(EVENT_PARSERS, kind.strip())
        return call_parser(kind, parser, load_object(body), self.config)

    def sign(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        delivery_id: str | None = None,
        event: str = "convo.created",
    ) -> dict[str, str]:
        """Help Scout's headers for ``body``; ``event`` is the X-HelpScout-Event to send (it is not signed)."""
        del timestamp, delivery_id  # Help Scout sends neither a timestamp nor a delivery id
        return {
            SIGNATURE: helpscout_signature(self.secret, body),
            EVENT: event,
            "Content-Type": "application/json",
        }
