"""Stripe: subscription and customer events feed customer status and MRR (used to verify saves and for CRR).

Signature (Stripe's documented scheme): ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``
where each ``v1`` is HMAC-SHA256 over ``"{t}.{raw body}"`` keyed with the endpoint's signing secret used
as its UTF-8 text, ``whsec_`` prefix included (Stripe does not base64-decode it). Several ``v1`` entries
appear while a secret is being rolled; any match passes. ``v0`` entries (test-mode legacy scheme) are
ignored. The timestamp must lie inside the server's replay window (Stripe's "tolerance").
The delivery id is the event's ``id`` (``evt_...``): Stripe retries a delivery with the same id.

Events: ``customer.subscription.created|updated|deleted`` -> CustomerEvent with status and MRR;
``customer.created|updated`` -> CustomerEvent with email and name; anything else is ignored (202).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from fractions import Fraction
from typing import Any

from helpdesk_retain.events import CustomerEvent, Event
from helpdesk_retain.integrations import (
    Integration,
    PayloadError,
    SignatureError,
    dig,
    hmac_digest,
    id_str,
    parse_time,
    require_header,
)
from helpdesk_retain.money import MoneyError, currency_code, exponent, monthly, round_half_up
from helpdesk_retain.plugin_kit import call_parser, json_object, load_object, matches_one_of, parser_for

#: Stripe subscription statuses -> customer status; others (incomplete, paused) say nothing about churn
STATUS: dict[str, str] = {
    "active": "active",
    "trialing": "active",
    "past_due": "active",
    "canceled": "cancelled",
    "unpaid": "cancelled",
    "incomplete_expired": "cancelled",
}
#: Stripe's zero-decimal currencies (amounts are whole units in the API); https://docs.stripe.com/currencies
STRIPE_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
#: zero-decimal in ISO 4217 but still two-decimal in Stripe's API for backwards compatibility
STRIPE_TWO_DECIMAL = frozenset({"ISK"})


def stripe_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``v1`` value for ``body`` sent at ``timestamp`` (hex HMAC-SHA256 of ``"{t}.{body}"``)."""
    return hmac_digest(hashlib.sha256, secret, timestamp.encode() + b"." + body, "hex")


def parse_signature_header(header: str) -> tuple[str, list[str]]:
    """(t, [v1, ...]) from ``t=...,v1=...,v1=...``; SignatureError when ``t`` or every ``v1`` is missing."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        raise SignatureError("Stripe-Signature: expected one integer t=")
    if not signatures:
        raise SignatureError("Stripe-Signature: no v1 signature")
    return timestamps[0], signatures


def stripe_minor_to_iso(amount: int | Fraction, currency: str) -> Fraction:
    """Stripe's smallest-unit amount in ISO 4217 minor units (they differ for MGA and ISK)."""
    stripe_exponent = 0 if currency in STRIPE_ZERO_DECIMAL else 2 if currency in STRIPE_TWO_DECIMAL else None
    if stripe_exponent is None:
        return Fraction(amount)
    return Fraction(amount) * Fraction(10) ** (exponent(currency) - stripe_exponent)


def _currency(value: Any) -> str:
    try:
        return currency_code(value)
    except MoneyError as exc:
        raise PayloadError(f"currency: {exc}") from None


def _item_monthly(item: Mapping[str, Any], fallback_currency: str | None) -> tuple[Fraction, str] | None:
    """Exact monthly amount of one subscription item (Stripe units), or None when it has no fixed price.

    Newer API versions put the price in ``item.price`` (``unit_amount``, ``recurring``); older ones in
    ``item.plan`` (``amount``, ``interval``). Metered and tiered prices have no fixed unit amount.
    """
    price = item.get("price") if isinstance(item.get("price"), Mapping) else None
    plan = item.get("plan") if isinstance(item.get("plan"), Mapping) else None
    recurring = (price or {}).get("recurring") or plan or {}
    if recurring.get("usage_type") == "metered":
        return None
    unit = dig(price, "unit_amount_decimal") or dig(price, "unit_amount")
    if unit is None and plan is not None:
        unit = plan.get("amount_decimal") or plan.get("amount")
    interval = recurring.get("interval")
    currency = (price or plan or {}).get("currency") or fallback_currency
    if unit is None or interval is None or currency is None:
        return None
    quantity = item.get("quantity", 1)
    quantity = 1 if quantity is None else quantity
    try:
        amount = Fraction(str(unit)) * int(quantity)
        value = monthly(amount, str(interval), int(recurring.get("interval_count") or 1))
    except (ValueError, TypeError, ZeroDivisionError, MoneyError) as exc:
        raise PayloadError(f"subscription item {item.get('id')}: {exc}") from None
    code = _currency(currency)
    return stripe_minor_to_iso(value, code), code


def subscription_mrr(sub: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(MRR in ISO minor units rounded half up, currency) over the subscription's fixed-price items."""
    items = dig(sub, "items", "data")
    if not isinstance(items, list):  # very old payloads: one plan on the subscription itself
        items = [{"plan": sub.get("plan"), "quantity": sub.get("quantity")}] if sub.get("plan") else []
    fallback = sub.get("currency")
    parts = [p for p in (_item_monthly(i, fallback) for i in items if isinstance(i, Mapping)) if p is not None]
    if not parts:
        return None, _currency(fallback) if fallback else None
    currencies = {c for _, c in parts}
    if len(currencies) > 1:  # Stripe refuses mixed-currency subscriptions; never add unlike money
        raise PayloadError(f"subscription {sub.get('id')}: items in several currencies {sorted(currencies)}")
    return round_half_up(sum((v for v, _ in parts), Fraction(0))), currencies.pop()


def _customer_ref(value: Any) -> tuple[str | None, str | None, str | None]:
    """``customer`` is an id string, or an object when the event was expanded: (id, email, name)."""
    if isinstance(value, Mapping):
        return id_str(value.get("id")), value.get("email"), value.get("name")
    return id_str(value), None, None


def parse_subscription(payload: Mapping[str, Any], occurred_at: datetime) -> list[Event]:
    sub = dig(payload, "data", "object", required=True)
    customer_id, email, name = _customer_ref(dig(sub, "customer", field="data.object.customer", required=True))
    kind = payload["type"]
    status = "cancelled" if kind == "customer.subscription.deleted" else STATUS.get(str(sub.get("status")))
    mrr, currency = subscription_mrr(sub)
    if status is None:  # incomplete or paused: neither revenue nor churn yet
        mrr, currency = None, None
    elif status == "cancelled":
        mrr = 0
    first = dig(sub, "items", "data", 0) or {"plan": sub.get("plan")}
    plan = dig(first, "price", "nickname") or dig(first, "plan", "nickname") or dig(first, "plan", "name")
    return [
        CustomerEvent(
            occurred_at=occurred_at,
            email=email,
            external_id=customer_id,
            name=name,
            status=status,  # type: ignore[arg-type]
            mrr_minor=mrr,
            currency=currency,
            plan=plan,
        )
    ]


def parse_customer(payload: Mapping[str, Any], occurred_at: datetime) -> list[Event]:
    obj = dig(payload, "data", "object", required=True)
    customer_id = id_str(dig(obj, "id", field="data.object.id", required=True))
    currency = obj.get("currency")
    return [
        CustomerEvent(
            occurred_at=occurred_at,
            email=obj.get("email") or None,
            external_id=customer_id,
            name=obj.get("name") or None,
            currency=_currency(currency) if currency else None,
        )
    ]


#: the event table: dispatcher and documentation of what this plugin understands
EVENT_PARSERS: dict[str, Callable[[Mapping[str, Any], datetime], list[Event]]] = {
    "customer.subscription.created": parse_subscription,
    "customer.subscription.updated": parse_subscription,
    "customer.subscription.deleted": parse_subscription,
    "customer.created": parse_customer,
    "customer.updated": parse_customer,
}


class StripeIntegration(Integration):
    slug = "stripe"
    event_kinds = frozenset(EVENT_PARSERS)
    uses_timestamp = True

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        timestamp, signatures = parse_signature_header(require_header(headers, "Stripe-Signature"))
        self.check_timestamp(int(timestamp))
        expected = stripe_signature(self.secret, timestamp, body).encode()
        if not matches_one_of(expected, (candidate.strip().encode() for candidate in signatures)):
            raise SignatureError("no matching v1 signature")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        event_id = dig(json_object(body), "id")
        return id_str(event_id) if isinstance(event_id, str) else None

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        payload = load_object(body)
        kind = dig(payload, "type", required=True)
        parser = parser_for(EVENT_PARSERS, kind)
        return call_parser(kind, parser, payload, parse_time(dig(payload, "created", required=True), "created"))

    def sign(self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Stripe-Signature": f"t={ts},v1={stripe_signature(self.secret, ts, body)}",
            "content-type": "application/json; charset=utf-8",
        }
