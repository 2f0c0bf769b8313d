"""Helpers shared by the integration plugins (help desks first; the trackers' own kit is ``tracker_kit``).

Pure functions and small mixins: HTML and custom-field values as text, tracker references in link fields,
optional times, JSON bodies, "HMAC of the body in one header" signatures, the event-table dispatcher and
comment events. Nothing here touches the store, and nothing here knows a vendor beyond the scheme it names.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar, TypeVar

from .events import Comment, Event, Person, Role, TicketEvent
from .html_text import render
from .integrations import (
    PayloadError,
    UnsupportedEvent,
    check_digest,
    hmac_digest,
    load_json,
    parse_time,
    require_header,
    vocab_key,
)

#: more than one blank line in a row
_BLANK_LINES = re.compile(r"\n{3,}")
#: what separates several tracker references in one custom field
_REF_SEPARATORS = re.compile(r"[\s,;]+")
V = TypeVar("V")

# --- text ----------------------------------------------------------------------------------------------------------


def scalar_text(value: Any) -> str | None:
    """A rendered scalar as stripped text; None, empty text, objects and lists count as "not given"."""
    if isinstance(value, str):  # most values: skip the slower checks below
        return value.strip() or None
    if value is None or isinstance(value, Mapping | list):
        return None
    return str(value).strip() or None


def html_to_text(html: Any, *, links: bool = False) -> str:
    """Readable text of an HTML body (None counts as empty): inline markup joins words, blocks become lines,
    at most one blank line in a row, entities decoded, scripts and styles dropped. With ``links`` each link's
    URL follows its text, as ``[text](url)`` (core scans the text for tracker links). Layout: ``html_text``."""
    source = str(html or "")
    if "<" not in source and "&" not in source:  # no markup: only HTML's whitespace rule applies
        return " ".join(source.split())
    text = render(source, links=links)
    if "\n" not in text:
        return text.strip()
    lines = (line.strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def field_text(value: Any, unset: Callable[[str], bool] | None = None) -> str | None:
    """A custom field's value as text: booleans as ``true``/``false``, a list of scalars joined with ", ";
    objects, empty values and (with ``unset``) the vendor's placeholders for "no value" -> None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return None if not text or (unset is not None and unset(text)) else text
    if isinstance(value, list) and value and all(isinstance(v, int | float | str) for v in value):
        return ", ".join(str(v) for v in value)
    return None


def link_tokens(values: Iterable[str]) -> tuple[str, ...]:
    """Every tracker URL or key in ``values``, in order: one field may hold several, separated by spaces,
    commas or semicolons."""
    return tuple(token for value in values for token in _REF_SEPARATORS.split(value) if token)


def field_links(fields: Mapping[str, str], names: Iterable[str]) -> tuple[str, ...]:
    """The references held in the custom fields named in ``names`` (the source's ``link_fields``; names compare
    like vocabulary), first occurrence first, without repeats."""
    wanted = {vocab_key(name) for name in names}
    return tuple(dict.fromkeys(link_tokens(text for key, text in fields.items() if vocab_key(key) in wanted)))


#: ``vocab_key`` remembered per spelling: statuses, priorities and channels are a small vocabulary that every
#: delivery names again
vocab = lru_cache(maxsize=1024)(vocab_key)


def vocab_lookup(name: str, *tables: Mapping[str, V]) -> V | None:
    """``name``'s value in the first of ``tables`` that has it, keys compared like vocabulary (``vocab_key``): the
    source's own map (``state_map``, ...) first, then the plugin's defaults."""
    key = vocab_key(name)
    return next((found for table in tables if (found := {vocab_key(k): v for k, v in table.items()}.get(key))), None)


# --- times ---------------------------------------------------------------------------------------------------------


def optional_time(value: Any, field: str) -> datetime | None:
    """None when ``value`` is absent (None or ""); else ``parse_time``, whose PayloadError names ``field``."""
    return None if value in (None, "") else parse_time(value, field)


def field_time(data: Mapping[str, Any], key: str, where: str) -> datetime | None:
    """``optional_time`` of ``data[key]``; an error names it as ``<where>.<key>``."""
    return optional_time(data.get(key), f"{where}.{key}")


def lenient_time(value: Any) -> datetime | None:
    """ISO-8601 or epoch, else None: for rendered template placeholders, where an unusable rendering (account-local
    text without a zone, "February 3, 2025") must count as absent rather than reject the delivery."""
    try:
        return parse_time(value) if scalar_text(value) else None
    except PayloadError:
        return None


# --- bodies --------------------------------------------------------------------------------------------------------


def require_object(payload: object, field: str = "body") -> Mapping[str, Any]:
    """``payload`` when it is a JSON object, else PayloadError naming ``field``."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"{field}: expected a JSON object")
    return payload


def load_object(body: bytes) -> Mapping[str, Any]:
    """The body as a JSON object: NotJSON when it is not JSON, PayloadError when it is JSON but not an object."""
    return require_object(load_json(body))


def json_object(body: bytes) -> Mapping[str, Any] | None:
    """The body as a JSON object, or None when it is not one. Never raises: for ``delivery_id`` and ``sign``,
    which read a field of the body before (or without) it being parsed for real."""
    try:
        payload = load_json(body)
    except PayloadError:
        return None
    return payload if isinstance(payload, Mapping) else None


# --- signatures ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HmacScheme:
    """A vendor signature that is ``prefix`` + the HMAC of the raw body, in one header, with no timestamp
    (GitHub's ``X-Hub-Signature-256: sha256=<hex>``, Zammad's and Intercom's ``X-Hub-Signature: sha1=<hex>``, ...).
    ``encoding`` is ``"hex"`` or ``"base64"``."""

    header: str
    algorithm: Callable[..., Any]
    encoding: str = "hex"
    prefix: str = ""

    def sign(self, key: bytes, body: bytes) -> str:
        """The header value the vendor sends with ``body``."""
        return self.prefix + hmac_digest(self.algorithm, key, body, self.encoding)

    def verify(self, headers: Mapping[str, str], key: bytes, body: bytes) -> None:
        """SignatureError when the header is missing or does not match (compared in constant time)."""
        check_digest(self.sign(key, body), require_header(headers, self.header))


#: the ``X-Hub-Signature: sha1=<hex>`` scheme (Zammad, Intercom)
HUB_SHA1 = HmacScheme("X-Hub-Signature", hashlib.sha1, "hex", "sha1=")


def hub_signature(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature`` value (``sha1=<hex HMAC-SHA1>``) for ``body``."""
    return HUB_SHA1.sign(secret, body)


class HmacSignedMixin:
    """``verify`` for an integration whose vendor signs with one ``HmacScheme`` (the class's ``signature``),
    keyed with the source secret."""

    signature: ClassVar[HmacScheme]
    secret: bytes

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        self.signature.verify(headers, self.secret, body)


class DeliveryHeaderMixin:
    """``delivery_id`` for a vendor that names each delivery in a header (kept on retries): the first non-empty
    one of ``delivery_headers``; None (key on the body hash) when there is none."""

    delivery_headers: ClassVar[tuple[str, ...]]

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        return next((value for name in self.delivery_headers if (value := headers.get(name))), None)


def matches_one_of(value: bytes, candidates: Iterable[bytes]) -> bool:
    """Whether ``value`` equals any candidate. Every candidate is compared, in constant time, so the timing does
    not reveal which one matched (several signatures while a secret rotates, several secrets, ...)."""
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(value, candidate)
    return matched


# --- the event table -----------------------------------------------------------------------------------------------

#: what a parser raises on a field of the wrong JSON type (``"x".get``, ``None + 1``, ``int("a")``)
MALFORMED: tuple[type[Exception], ...] = (AttributeError, TypeError, ValueError)


def parser_for(parsers: Mapping[str, Callable[..., list[Event]]], kind: str, what: str = "event") -> Any:
    """The parser of ``kind`` in an event table; UnsupportedEvent (answered 202 "ignored") for a kind it lacks."""
    parser = parsers.get(kind)
    if parser is None:
        raise UnsupportedEvent(f"{what} {kind!r}")
    return parser


def call_parser(kind: str, parser: Callable[..., list[Event]], *args: Any) -> list[Event]:
    """``parser(*args)``; a field of the wrong JSON type (``MALFORMED``) becomes a PayloadError naming ``kind``, so
    the delivery is answered 422 and kept as a dead letter instead of answering 500."""
    try:
        return parser(*args)
    except MALFORMED as exc:
        raise PayloadError(f"{kind}: malformed payload: {exc}") from exc


def dispatch(parsers: Mapping[str, Callable[..., list[Event]]], kind: str, *args: Any) -> list[Event]:
    """Run the event table: ``parser_for`` then ``call_parser``."""
    return call_parser(kind, parser_for(parsers, kind), *args)


# --- people ---------------------------------------------------------------------------------------------------------


def known_person(email: str | None, name: str | None, external_id: str | None) -> Person | None:
    """A person the store can key: None unless the delivery gives an email or an id."""
    return Person(email, name, external_id) if email or external_id else None


def requester_email(ticket: TicketEvent, role: Role) -> str | None:
    """The author of a customer's comment when the vendor does not name one: the ticket's requester."""
    return ticket.requester.email if role == "customer" and ticket.requester else None


# --- comments ------------------------------------------------------------------------------------------------------


def content_id(prefix: str, *parts: object) -> str:
    """A stable id for a comment the vendor sends without one: ``prefix`` + a digest of ``parts`` (ticket, kind,
    text, ...), so a redelivery does not log the comment twice."""
    return prefix + hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()[:32]


def comment_snapshot(event: TicketEvent, comment: Comment) -> TicketEvent:
    """``comment`` as a ``comment.created`` event that also carries every ticket field of ``event``."""
    return replace(event, kind="comment.created", comment=comment)


def comment_only(ticket: TicketEvent, comment: Comment, occurred_at: datetime | None = None) -> TicketEvent:
    """``comment`` as a ``comment.created`` event carrying only the ticket's id and requester (the ticket's fields
    travel in their own event); it occurred at ``occurred_at``, by default when the comment was written."""
    return TicketEvent(
        kind="comment.created",
        external_id=ticket.external_id,
        occurred_at=occurred_at or comment.created_at,
        requester=ticket.requester,
        comment=comment,
    )


def with_comments(event: TicketEvent, comments: Iterable[Comment]) -> list[Event]:
    """The ticket's own event (so every change reaches the log), then one ``comment_snapshot`` per comment."""
    return [event, *(comment_snapshot(event, c) for c in comments)]
