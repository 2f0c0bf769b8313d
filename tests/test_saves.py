"""Saves marked with the help-desk tag and custom fields, through real signed generic webhooks."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models.saves import Save, SaveEvent

FIELDS = {
    "save_amount": "49.00",
    "save_currency": "USD",
    "save_interval": "month",
    "save_reason": "price",
    "save_offer": "20% off for 3 months",
}


def ticket(
    tid: str = "T-1", updated: str = "2026-11-20T10:00:00Z", tags: list[str] | None = None, **fields: Any
) -> bytes:
    body = {
        "event": "ticket.updated",
        "occurred_at": updated,
        "ticket": {
            "id": tid,
            "subject": "Please cancel my subscription",
            "status": "open",
            "created_at": "2026-11-20T09:00:00Z",
            "updated_at": updated,
            "tags": ["billing"] if tags is None else tags,
            "requester": {"email": "ana@example.com", "name": "Ana Lima", "external_id": "cus_881"},
            "custom_fields": fields,
        },
    }
    return json.dumps(body).encode()


def saves(runtime) -> list[Save]:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        return list(session.execute(select(Save).order_by(Save.id)).scalars())


def history(runtime) -> list[str]:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        return list(session.execute(select(SaveEvent.kind).order_by(SaveEvent.id)).scalars())


def post(server, body: bytes) -> None:  # noqa: ANN001
    answer = server.post_signed("generic", body)
    assert answer.status_code == 202, answer.text


def test_tagging_a_ticket_saved_records_the_save_with_its_amount(server, runtime):
    post(server, ticket(tags=["billing", "saved"], **FIELDS))
    assert server.ticket("generic", "T-1")["save"] == {
        "amount_minor": 4900,
        "currency": "USD",
        "interval": "month",
        "outcome": "pending",
        "reason": "price",
        "offer": "20% off for 3 months",
    }
    [save] = saves(runtime)
    assert (save.mrr_minor, save.arr_minor, save.via) == (4900, 58800, "tag")
    assert save.saved_at.isoformat() == "2026-11-20T10:00:00+00:00"
    assert save.verify_due_at.isoformat() == "2027-01-19T10:00:00+00:00"  # 60 days later


def test_a_ticket_without_the_tag_has_no_save(server, runtime):
    post(server, ticket(**FIELDS))
    assert server.ticket("generic", "T-1")["save"] is None and saves(runtime) == []


def test_the_same_save_delivered_twice_is_one_save(server, runtime):
    body = ticket(tags=["saved"], **FIELDS)
    server.post_signed("generic", body, delivery_id="msg_a")
    server.post_signed("generic", body, delivery_id="msg_b")  # a retry under a new id
    post(server, ticket(updated="2026-11-20T11:00:00Z", tags=["saved", "vip"], **FIELDS))  # tagged again
    assert len(saves(runtime)) == 1
    assert history(runtime) == ["marked"]


def test_changing_the_amount_updates_the_save_and_its_history(server, runtime):
    post(server, ticket(tags=["saved"], **FIELDS))
    post(
        server,
        ticket(
            updated="2026-11-21T10:00:00Z", tags=["saved"], **{**FIELDS, "save_amount": "99", "save_interval": "Yearly"}
        ),
    )
    [save] = saves(runtime)
    assert (save.amount_minor, save.interval, save.mrr_minor, save.arr_minor) == (9900, "year", 825, 9900)
    assert save.saved_at.isoformat() == "2026-11-20T10:00:00+00:00"  # an update keeps the save's date
    assert history(runtime) == ["marked", "updated"]


def test_removing_the_tag_withdraws_the_save_and_keeps_it_in_history(server, runtime):
    post(server, ticket(tags=["saved"], **FIELDS))
    post(server, ticket(updated="2026-11-22T10:00:00Z", tags=["billing"]))
    assert server.ticket("generic", "T-1")["save"] is None
    [save] = saves(runtime)
    assert save.withdrawn_at.isoformat() == "2026-11-22T10:00:00+00:00" and save.amount_minor == 4900
    assert history(runtime) == ["marked", "withdrawn"]
    window = "since=2026-11-01T00:00:00Z&until=2026-12-01T00:00:00Z"
    assert server.get(f"/api/saves?{window}").json()["items"] == []
    [item] = server.get(f"/api/saves?{window}&state=withdrawn").json()["items"]
    assert item["state"] == "withdrawn" and item["external_id"] == "T-1"


def test_tagging_again_after_a_withdrawal_reinstates_the_save_as_new(server, runtime):
    post(server, ticket(tags=["saved"], **FIELDS))
    post(server, ticket(updated="2026-11-22T10:00:00Z", tags=[]))
    post(server, ticket(updated="2026-11-25T10:00:00Z", tags=["saved"], **FIELDS))
    [save] = saves(runtime)
    assert save.withdrawn_at is None and save.outcome == "pending"
    assert save.saved_at.isoformat() == "2026-11-25T10:00:00+00:00"
    assert history(runtime) == ["marked", "withdrawn", "reinstated"]


def test_an_older_delivery_without_the_tag_does_not_withdraw_the_save(server, runtime):
    post(server, ticket(updated="2026-11-20T12:00:00Z", tags=["saved"], **FIELDS))
    post(server, ticket(updated="2026-11-20T11:00:00Z", tags=["billing"]))  # arrives late, is older
    assert saves(runtime)[0].withdrawn_at is None
    assert server.ticket("generic", "T-1")["save"]["amount_minor"] == 4900


def test_amounts_use_the_currencys_minor_unit(server, runtime):
    post(server, ticket("T-JPY", tags=["saved"], save_amount="4900", save_currency="jpy"))
    post(server, ticket("T-KWD", tags=["saved"], save_amount="12.500", save_currency="KWD"))
    post(server, ticket("T-EUR", tags=["saved"], save_amount="1 234,5", save_currency="EUR"))
    got = {s.currency: s.amount_minor for s in saves(runtime)}
    assert got == {"JPY": 4900, "KWD": 12500, "EUR": 123450}


def test_a_save_without_an_amount_takes_the_customers_billing_mrr(server, runtime):
    customer = {
        "event": "customer.updated",
        "occurred_at": "2026-11-19T08:00:00Z",
        "customer": {
            "email": "ana@example.com",
            "external_id": "cus_881",
            "status": "active",
            "mrr_minor": 2900,
            "currency": "EUR",
        },
    }
    post(server, json.dumps(customer).encode())
    post(server, ticket(tags=["saved"]))
    save = server.ticket("generic", "T-1")["save"]
    assert (save["amount_minor"], save["currency"], save["interval"]) == (2900, "EUR", "month")


def test_a_save_without_any_known_amount_is_recorded_unpriced(server, runtime):
    post(server, ticket(tags=["saved"], save_reason="bug fixed"))
    save = server.ticket("generic", "T-1")["save"]
    assert save["amount_minor"] is None and save["currency"] is None and save["reason"] == "bug fixed"


def test_an_unreadable_amount_still_records_the_save_and_notes_the_problem(server, runtime):
    post(server, ticket(tags=["saved"], save_amount="about 50", save_currency="usd"))
    [save] = saves(runtime)
    assert save.amount_minor is None
    with session_scope(runtime.sessions) as session:
        detail = session.execute(select(SaveEvent.detail)).scalar_one()
    assert "about 50" in detail["problems"][0]


def test_a_per_source_save_tag_and_field_names_are_used(start_server):
    live = start_server(
        sources={
            "desk": {"plugin": "generic", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "save_tag": "Retained"}
        },
        extra={"saves": {"source_fields": {"desk": {"amount": "kept", "currency": "kept_cur"}}}},
    )
    assert live.post_signed("desk", ticket(tags=["retained"], kept="10", kept_cur="GBP")).status_code == 202
    assert live.post_signed("generic", ticket(tags=["retained"], save_amount="10")).status_code == 202
    assert live.ticket("desk", "T-1")["save"]["amount_minor"] == 1000
    assert live.ticket("desk", "T-1")["save"]["currency"] == "GBP"
    assert live.ticket("generic", "T-1")["save"] is None  # the generic source keeps the default tag "saved"


def test_flag_saved_lists_only_tickets_with_an_active_save(server):
    post(server, ticket("T-1", tags=["saved"], **FIELDS))
    post(server, ticket("T-2", tags=["billing"]))
    post(server, ticket("T-3", tags=["saved"], **FIELDS))
    post(server, ticket("T-3", updated="2026-11-21T10:00:00Z", tags=[]))
    page = server.get("/api/tickets?flag=saved").json()
    assert [t["external_id"] for t in page["items"]] == ["T-1"]
