"""Generic integration: CONTRACT.md "The generic source", signed per Standard Webhooks v1.

Signature: ``webhook-signature`` holds space-separated ``v1,<base64 HMAC-SHA256>`` entries over
``{webhook-id}.{webhook-timestamp}.{body}``; any matching entry passes (secret rotation). The key is
the base64-decoded part of a ``whsec_`` secret; a secret without the prefix is used as its UTF-8 bytes.
``webhook-id`` is the delivery id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import SecretStr, field_validator

from helpdesk_retain.events import (
    PRIORITIES,
    ROLES,
    STATUSES,
    Comment,
    CustomerEvent,
    Event,
    IssueEvent,
    Person,
    TicketEvent,
)
from helpdesk_retain.integrations import (
    Integration,
    IntegrationConfig,
    PayloadError,
    SignatureError,
    dig,
    hmac_digest,
    id_str,
    load_json,
    parse_time,
    require_header,
)
from helpdesk_retain.plugin_kit import call_parser, field_time, parser_for, require_object


def standard_webhooks_key(secret: str) -> bytes:
    """``whsec_<base64>`` -> the decoded key; any other secret is used as its UTF-8 bytes.

    ValueError for a ``whsec_`` secret that is not base64 (configs validate it at startup). Missing ``=``
    padding is accepted, as the reference library does: secrets get copied from dashboards without it."""
    if secret.startswith("whsec_"):
        encoded = secret[len("whsec_") :]
        try:
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error as exc:
            raise ValueError("whsec_ secret is not valid base64") from exc
    return secret.encode()


class StandardWebhooksConfig(IntegrationConfig):
    """A source signed per Standard Webhooks: a ``whsec_`` secret must decode, or startup stops naming it."""

    @field_validator("secret")
    @classmethod
    def _decodable(cls, value: SecretStr) -> SecretStr:
        standard_webhooks_key(value.get_secret_value())  # ValueError names the key at startup
        return value


def standard_webhooks_signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    return "v1," + hmac_digest(hashlib.sha256, key, f"{msg_id}.{timestamp}.".encode() + body, "base64")


class StandardWebhooksMixin:
    """Verification and signing per Standard Webhooks; shared by every plugin that uses the scheme."""

    uses_timestamp: ClassVar[bool] = True
    secret: bytes
    check_timestamp: Callable[[float], None]

    @property
    def key(self) -> bytes:
        return standard_webhooks_key(self.secret.decode())

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        msg_id = require_header(headers, "webhook-id")
        timestamp = require_header(headers, "webhook-timestamp")
        signatures = require_header(headers, "webhook-signature")
        try:
            self.check_timestamp(int(timestamp))
        except ValueError:
            raise SignatureError("webhook-timestamp is not an integer") from None
        expected = standard_webhooks_signature(self.key, msg_id, timestamp, body).encode()
        # every entry is compared, in constant time, so timing does not reveal which one matched
        matched = False
        for entry in signatures.split():
            matched |= hmac.compare_digest(expected, entry.encode())
        if not matched:
            raise SignatureError("no matching v1 signature")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        return headers.get("webhook-id")

    def sign(self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        msg_id = delivery_id or "msg_" + hashlib.sha256(body).hexdigest()[:24]
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": ts,
            "webhook-signature": standard_webhooks_signature(self.key, msg_id, ts, body),
            "content-type": "application/json",
        }


def _flag(value: Any, field: str, *, default: bool) -> bool:
    """A JSON boolean; absent or null is ``default`` (the producer does not say), "true"/"false" strings are read as
    such (some producers send form values); anything else is a PayloadError, not a guess."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise PayloadError(f"{field}: {value!r} is not a boolean")


def _enum(value: Any, allowed: frozenset[str], field: str) -> Any:
    if value is None:
        return None
    if value not in allowed:
        raise PayloadError(f"{field}: {value!r} is not one of {sorted(allowed)}")
    return value


def _links(data: Mapping[str, Any]) -> tuple[str, ...]:
    """``links``: URLs, as a list (a lone string counts as one URL)."""
    value = data.get("links") or ()
    return (value,) if isinstance(value, str) else tuple(str(x) for x in value)


def _ticket(payload: Mapping[str, Any], kind: str, occurred_at: datetime, comment: Comment | None) -> TicketEvent:
    t = dig(payload, "ticket", required=True)
    if not isinstance(t, Mapping):
        raise PayloadError("ticket: expected an object")
    external_id = id_str(dig(t, "id", field="ticket.id", required=True))
    requester = t.get("requester")
    tags = t.get("tags")
    return TicketEvent(
        kind=kind,  # type: ignore[arg-type]
        external_id=external_id or "",
        occurred_at=occurred_at,
        subject=t.get("subject"),
        description=t.get("description"),
        status=_enum(t.get("status"), STATUSES, "ticket.status"),
        priority=_enum(t.get("priority"), PRIORITIES, "ticket.priority"),
        channel=t.get("channel"),
        type=t.get("type"),
        tags=tuple(str(x) for x in tags) if isinstance(tags, list) else None,
        created_at=field_time(t, "created_at", "ticket"),
        updated_at=field_time(t, "updated_at", "ticket"),
        requester=Person(
            email=requester.get("email"), name=requester.get("name"), external_id=id_str(requester.get("external_id"))
        )
        if isinstance(requester, Mapping)
        else None,
        assignee_email=dig(t, "assignee", "email"),
        custom_fields={str(k): v for k, v in (t.get("custom_fields") or {}).items()},
        links=_links(t),
        comment=comment,
        url=t.get("url"),
    )


def parse_ticket(payload: Mapping[str, Any], occurred_at: datetime) -> list[Event]:
    return [_ticket(payload, payload["event"], occurred_at, None)]


def parse_comment(payload: Mapping[str, Any], occurred_at: datetime) -> list[Event]:
    c = dig(payload, "comment", required=True)
    comment = Comment(
        id=id_str(dig(c, "id", field="comment.id", required=True)) or "",
        body=str(dig(c, "body", field="comment.body", required=True)),
        public=_flag(c.get("public"), "comment.public", default=True),
        author_role=_enum(
            dig(c, "author_role", field="comment.author_role", required=True), ROLES, "comment.author_role"
        ),
        author_email=c.get("author_email"),
        created_at=field_time(c, "created_at", "comment") or occurred_at,
    )
    return [_ticket(payload, "comment.created", occurred_at, comment)]


def parse_issue(payload: Mapping[str, Any], occurred_at: datetime) -> list[Event]:
    i = dig(payload, "issue", required=True)
    return [
        IssueEvent(
            tracker=str(dig(i, "tracker", field="issue.tracker", required=True)),
            issue=str(dig(i, "id", field="issue.id", required=True)),
            state=_enum(
                dig(i, "state", field="issue.state", required=True),
                frozenset({"open", "fixed", "wontfix"}),
                "issue.state",
            ),
            occurred_at=field_time(i, "updated_at", "issue") or occurred_at,
            url=i.get("url"),
            title=i.get("title"),
            transition=bool(i.get("transition", True)),
            links=_links(i),  # help-desk ticket URLs the issue mentions: core links those tickets back
        )
    ]


def parse_customer(payload: Mapping[str, Any], occurred_at: datetime) -> list[Event]:
    c = dig(payload, "customer", required=True)
    if not c.get("email") and not c.get("external_id"):
        raise PayloadError("missing field: customer.email or customer.external_id")
    mrr = c.get("mrr_minor")
    if mrr is not None and (not isinstance(mrr, int) or isinstance(mrr, bool) or mrr < 0):
        raise PayloadError("customer.mrr_minor: expected a non-negative integer (minor units)")
    return [
        CustomerEvent(
            occurred_at=field_time(c, "updated_at", "customer") or occurred_at,
            email=c.get("email"),
            external_id=id_str(c.get("external_id")),
            name=c.get("name"),
            status=_enum(c.get("status"), frozenset({"active", "cancelled"}), "customer.status"),
            mrr_minor=mrr,
            currency=c.get("currency"),
            plan=c.get("plan"),
        )
    ]


#: the event table: dispatcher and documentation of what this plugin understands
EVENT_PARSERS: dict[str, Callable[[Mapping[str, Any], datetime], list[Event]]] = {
    "ticket.created": parse_ticket,
    "ticket.updated": parse_ticket,
    "comment.created": parse_comment,
    "issue.updated": parse_issue,
    "customer.updated": parse_customer,
}


def parse_payload(payload: Any) -> list[Event]:
    """Parse one generic event object (also used by ``helpdesk-retain import``)."""
    kind = dig(require_object(payload), "event", required=True)
    if not isinstance(kind, str):
        raise PayloadError(f"event: {kind!r} is not a string")
    parser = parser_for(EVENT_PARSERS, kind)
    occurred_at = parse_time(dig(payload, "occurred_at", required=True), "occurred_at")
    return call_parser(kind, parser, payload, occurred_at)


class GenericIntegration(StandardWebhooksMixin, Integration):
    slug = "generic"
    Config = StandardWebhooksConfig
    event_kinds = frozenset(EVENT_PARSERS)

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        return parse_payload(load_json(body))
