"""Stripe plugin: signature vectors, every fixture through the real endpoint, status and MRR, saves lost."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.integrations import IntegrationConfig, SignatureError
from helpdesk_retain.models import Customer, Delivery
from helpdesk_retain.plugins.stripe.integration import (
    EVENT_PARSERS,
    StripeIntegration,
    stripe_minor_to_iso,
    stripe_signature,
)
from helpdesk_retain.saves import run_due_save_checks
from helpdesk_retain.testing import fixture_names, load_fixture, load_fixture_json

SECRET = "whsec_test_secret"
SOURCES = {"stripe": {"plugin": "stripe", "secret": SECRET}}
VECTOR_BODY = b'{"id":"evt_test_webhook","object":"event"}'

#: fixture -> (customer key, status, mrr_minor, currency)
EXPECTED = {
    "customer_created__email": ("ana@example.com", "active", None, None),
    "customer_updated__name": ("ana@example.com", "active", None, "USD"),
    "customer_subscription_created__monthly": ("stripe:cus_881", "active", 4900, "USD"),
    "customer_subscription_created__legacy_plan": ("stripe:cus_00000000000000", "active", 4000, "AUD"),
    "customer_subscription_updated__yearly_seats": ("stripe:cus_881", "active", 30000, "USD"),
    "customer_subscription_updated__quarterly_jpy": ("stripe:cus_Jp0042", "active", 5000, "JPY"),
    "customer_subscription_updated__unpaid": ("stripe:cus_881", "cancelled", 0, "USD"),
    "customer_subscription_deleted__canceled": ("stripe:cus_881", "cancelled", 0, "USD"),
}


@pytest.fixture
def stripe(start_server):  # noqa: ANN001, ANN201
    return start_server(sources=SOURCES)


def plugin(window: int = 300) -> StripeIntegration:
    return StripeIntegration(IntegrationConfig(plugin="stripe", secret=SECRET), replay_window_seconds=window)


def header(t: int, *signatures: str) -> dict[str, str]:
    return {"Stripe-Signature": ",".join([f"t={t}", *(f"v1={s}" for s in signatures)])}


def documented(t: int, body: bytes, secret: str = SECRET) -> str:
    """Stripe's formula, written out here independently of the plugin."""
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def deliveries(live) -> int:  # noqa: ANN001
    with session_scope(live.sessions) as session:
        return session.execute(select(func.count()).select_from(Delivery)).scalar_one()


# --- signature vectors -----------------------------------------------------------------------------


def test_the_signature_matches_a_fixed_vector():
    expected = "f79f7af25566b97b913181212f983216d6e8f9d58e3caceb6904fe5bcfe71273"  # openssl dgst -sha256 -hmac
    assert (
        stripe_signature(SECRET.encode(), "1795165200", VECTOR_BODY) == expected == documented(1795165200, VECTOR_BODY)
    )


def test_a_valid_signature_is_accepted(stripe):
    t = int(time.time())
    body = load_fixture("stripe", "customer_subscription_created__monthly")
    answer = stripe.post("stripe", body, header(t, documented(t, body)))
    assert answer.status_code == 202 and answer.json()["delivery_id"] == "evt_1QhXq2LkdIwHu7ixQ3bMDr7a"


def test_a_tampered_body_is_refused_and_nothing_is_stored(stripe):
    t = int(time.time())
    body = load_fixture("stripe", "customer_subscription_created__monthly")
    answer = stripe.post("stripe", body.replace(b"4900", b"9900"), header(t, documented(t, body)))
    assert answer.status_code == 401 and deliveries(stripe) == 0


def test_a_timestamp_outside_the_tolerance_is_refused(stripe):
    body = load_fixture("stripe", "customer_subscription_created__monthly")
    # just outside the 300 s tolerance: in the past by 301 s (a slow request only adds to it), in the future by 360
    # (the time a request takes on a loaded machine comes off it: 301 let a delivery through once)
    for t in (int(time.time()) - 301, int(time.time()) + 360):
        answer = stripe.post("stripe", body, header(t, documented(t, body)))
        assert answer.status_code == 401 and "replay window" in answer.json()["detail"]
    assert deliveries(stripe) == 0


def test_any_of_several_v1_signatures_may_match_while_a_secret_is_rolled():
    t = int(time.time())
    plugin().verify(header(t, documented(t, VECTOR_BODY, "whsec_old"), documented(t, VECTOR_BODY)), VECTOR_BODY)


@pytest.mark.parametrize(
    "value",
    ["", "t=1795165200", "v1=abc", "t=abc,v1=abc", "t=1,t=2,v1=abc", "t={t},v0={sig}", "t={t},v1={old}"],
)
def test_malformed_or_foreign_signatures_are_refused(value):
    t = int(time.time())
    text = value.format(t=t, sig=documented(t, VECTOR_BODY), old=documented(t, VECTOR_BODY, "whsec_old"))
    with pytest.raises(SignatureError):
        plugin().verify({"Stripe-Signature": text} if text else {}, VECTOR_BODY)


# --- fixtures through the endpoint --------------------------------------------------------------------


def test_every_declared_event_has_a_fixture():
    declared = {kind.replace(".", "_") for kind in EVENT_PARSERS}
    assert declared <= {name.split("__")[0] for name in fixture_names("stripe")}
    assert set(fixture_names("stripe")) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_sets_customer_status_and_mrr(stripe, name):
    answer = stripe.post_fixture("stripe", "stripe", name)
    assert answer.status_code == 202, answer.text
    key, status, mrr, currency = EXPECTED[name]
    with session_scope(stripe.app.extensions["helpdesk_retain"].sessions) as session:
        row = session.execute(select(Customer).where(Customer.key == key)).scalar_one()
    assert (row.status, row.mrr_minor, row.currency) == (status, mrr, currency)
    obj = load_fixture_json("stripe", name)["data"]["object"]
    assert row.external_id == (obj["customer"] if obj["object"] == "subscription" else obj["id"])


def test_a_retried_event_is_a_duplicate(stripe):
    body = load_fixture("stripe", "customer_subscription_deleted__canceled")
    assert stripe.post_signed("stripe", body).status_code == 202
    again = stripe.post_signed("stripe", body, timestamp=int(time.time()) + 5)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"


def test_other_event_types_are_ignored(stripe):
    body = json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": "invoice.paid",
            "created": int(time.time()),
            "data": {"object": {"id": "in_1", "object": "invoice"}},
        }
    ).encode()
    answer = stripe.post_signed("stripe", body)
    assert answer.status_code == 202 and answer.json()["status"] == "ignored" and deliveries(stripe) == 0


def test_a_subscription_in_an_unknown_currency_is_a_dead_letter(stripe):
    data = load_fixture_json("stripe", "customer_subscription_created__monthly")
    data["data"]["object"]["items"]["data"][0]["price"]["currency"] = "zzz"
    answer = stripe.post_signed("stripe", json.dumps(data).encode())
    assert answer.status_code == 422 and "currency" in answer.json()["error"]


def test_stripe_amounts_become_iso_minor_units():
    assert stripe_minor_to_iso(500, "ISK") == 5  # Stripe keeps ISK two-decimal; ISO has none
    assert stripe_minor_to_iso(5000, "MGA") == 500000  # Stripe zero-decimal; ISO 2 decimals
    assert stripe_minor_to_iso(4900, "USD") == 4900 and stripe_minor_to_iso(500, "JPY") == 500


# --- saves verified by billing ----------------------------------------------------------------------


def tagged_save(live) -> None:  # noqa: ANN001
    body = {
        "event": "ticket.updated",
        "occurred_at": "2026-11-20T10:00:00Z",
        "ticket": {
            "id": "T-1",
            "updated_at": "2026-11-20T10:00:00Z",
            "tags": ["saved"],
            "requester": {"email": "ana@example.com"},
            "custom_fields": {"save_amount": "49"},
        },
    }
    assert live.post_signed("generic", json.dumps(body).encode()).status_code == 202


def test_a_subscription_deleted_inside_the_window_makes_the_save_lost(stripe):
    tagged_save(stripe)
    stripe.post_fixture("stripe", "stripe", "customer_created__email")  # links ana@example.com to cus_881
    stripe.post_fixture("stripe", "stripe", "customer_subscription_deleted__canceled")  # 2026-11-23
    assert stripe.ticket("generic", "T-1")["save"]["outcome"] == "lost"


def test_a_subscription_still_active_at_the_window_end_makes_the_save_held(stripe):
    tagged_save(stripe)
    stripe.post_fixture("stripe", "stripe", "customer_created__email")
    stripe.post_fixture("stripe", "stripe", "customer_subscription_updated__yearly_seats")
    runtime = stripe.app.extensions["helpdesk_retain"]
    assert run_due_save_checks(runtime, datetime(2026, 11, 20, 10, tzinfo=UTC) + timedelta(days=60)) == 1
    assert stripe.ticket("generic", "T-1")["save"]["outcome"] == "held"
