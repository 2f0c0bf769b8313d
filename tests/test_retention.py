"""Retention figures over a seeded month, checked against values computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Customer, Ticket
from helpdesk_retain.models.saves import Save
from helpdesk_retain.models.tagging import RiskSignal
from helpdesk_retain.retention import Period, crr, customer_figures, figures

OCT = datetime(2026, 10, 1, tzinfo=UTC)
NOV = datetime(2026, 11, 1, tzinfo=UTC)
MONTH = "since=2026-10-01T00:00:00Z&until=2026-11-01T00:00:00Z"


def day(month: int, d: int) -> datetime:
    return datetime(2026, month, d, 12, 0, tzinfo=UTC)


def customer(n: int, created: datetime, cancelled: datetime | None = None, **extra: Any) -> dict[str, Any]:
    email = extra.pop("email", f"c{n}@example.com")
    return {
        "key": email or f"stripe:cus_{n}",
        "email": email,
        "external_id": extra.pop("external_id", None),
        "status": "cancelled" if cancelled else "active",
        "created_at": created,
        "cancelled_at": cancelled,
        # known to billing (a customer event) unless told otherwise; help-desk requesters have no update
        "updated_at": extra.pop("updated_at", created),
    }


def seed_textbook_customers(runtime) -> None:  # noqa: ANN001
    """S = 500 at the start, N = 100 new, E = 580 at the end; plus records that must not count."""
    rows = [customer(i, day(9, 1), external_id=f"cus_{i}") for i in range(478)]  # stay all month
    # two billing-only customers (no help-desk record with their external id): customers of their own
    rows += [customer(i, day(9, 1), email=None, external_id=f"cus_{i}") for i in (478, 479)]
    rows += [customer(480 + i, day(9, 1), day(10, 15)) for i in range(19)]  # churn in October
    # one customer churns through billing only: their billing record (same external id, no email) cancels
    rows.append(customer(499, day(9, 1), external_id="cus_499"))
    rows.append(customer(499, day(10, 5), day(10, 20), email=None, external_id="cus_499"))
    # billing records of staying customers, first seen in October: the same customers, not new ones
    rows += [customer(i, day(10, 10), email=None, external_id=f"cus_{i}") for i in range(9)]
    rows += [customer(1000 + i, day(10, 1 + i % 30)) for i in range(99)]  # new in October
    rows.append(customer(1099, day(10, 30), email=None, external_id="cus_1099"))  # new, billing only
    rows += [customer(2000 + i, day(8, 1), day(9, 15)) for i in range(30)]  # gone before October
    rows += [customer(3000 + i, day(11, 5)) for i in range(5)]  # arrive after October
    # help-desk requesters only (no customer event): not customers known to billing, whatever their dates
    rows += [customer(4000 + i, day(9, 1), updated_at=None) for i in range(40)]
    rows += [customer(4100 + i, day(10, 3), updated_at=None) for i in range(7)]
    rows += [customer(4200 + i, day(9, 1), day(10, 4), updated_at=None) for i in range(3)]
    with session_scope(runtime.sessions) as session:
        session.execute(insert(Customer), rows)


def test_crr_matches_the_textbook_example(runtime):
    seed_textbook_customers(runtime)
    with session_scope(runtime.sessions) as session:
        got = crr(session, Period(OCT, NOV))
    assert got == {"start": 500, "end": 580, "new": 100, "percent": 96.0}


def test_crr_is_null_when_no_customer_was_active_at_the_start(runtime):
    with session_scope(runtime.sessions) as session:
        session.execute(insert(Customer), [customer(1, day(10, 3))])
        assert crr(session, Period(OCT, NOV)) == {"start": 0, "end": 1, "new": 1, "percent": None}


def test_crr_counts_only_customers_known_to_billing(runtime):
    """10 billing customers (one cancels in October) and 90 help-desk requesters: CRR is 9 / 10, not 99 / 100."""
    rows = [customer(i, day(9, 1), day(10, 20) if i == 0 else None) for i in range(10)]
    rows += [customer(100 + i, day(9, 2), updated_at=None) for i in range(90)]
    with session_scope(runtime.sessions) as session:
        session.execute(insert(Customer), rows)
        got = customer_figures(session, Period(OCT, NOV))
    assert got == {"start": 10, "end": 9, "new": 0, "percent": 90.0, "churned": 1}


def test_a_requester_known_to_billing_only_through_its_copy_counts_once(runtime):
    """A help-desk record (no customer event) whose billing copy had one is one billing customer."""
    rows = [
        customer(1, day(9, 1), external_id="cus_1", updated_at=None),
        customer(1, day(9, 5), day(10, 9), email=None, external_id="cus_1"),
        customer(2, day(9, 1)),
    ]
    with session_scope(runtime.sessions) as session:
        session.execute(insert(Customer), rows)
        got = customer_figures(session, Period(OCT, NOV))
    assert got == {"start": 2, "end": 1, "new": 0, "percent": 50.0, "churned": 1}


def test_churned_counts_a_customer_and_its_billing_copy_once(runtime):
    """Both records of one customer cancel in the period: one churned customer, S - E = churned."""
    rows = [
        customer(1, day(9, 1), day(10, 18), external_id="cus_1"),
        customer(1, day(9, 1), day(10, 19), email=None, external_id="cus_1"),
        customer(2, day(9, 1)),
    ]
    with session_scope(runtime.sessions) as session:
        session.execute(insert(Customer), rows)
        got = customer_figures(session, Period(OCT, NOV))
    assert got == {"start": 2, "end": 1, "new": 0, "percent": 50.0, "churned": 1}
    assert got["start"] - got["end"] + got["new"] == got["churned"]


def seed_saves(runtime) -> None:  # noqa: ANN001
    """October: USD 49/month pending, USD 1,200/year held, EUR 29.99/month lost, one unpriced pending,
    one USD 10/month withdrawn; one USD save in September and one in November (outside)."""
    specs = [
        (day(10, 2), 4900, "USD", "month", "pending", None),
        (day(10, 9), 120000, "USD", "year", "held", None),
        (day(10, 16), 2999, "EUR", "month", "lost", None),
        (day(10, 23), None, None, "month", "pending", None),
        (day(10, 30), 1000, "USD", "month", "pending", day(10, 31)),
        (day(9, 30), 7700, "USD", "month", "held", None),
        (datetime(2026, 11, 1, tzinfo=UTC), 8800, "USD", "month", "pending", None),
    ]
    mrr = {"month": lambda a: (a, a * 12), "year": lambda a: (round(a / 12), a)}
    with session_scope(runtime.sessions) as session:
        for n, (at, amount, currency, interval, outcome, withdrawn) in enumerate(specs):
            ticket = Ticket(source="generic", external_id=f"S-{n}", created_at=at, updated_at=at, first_seen_at=at)
            session.add(ticket)
            session.flush()
            m, a = mrr[interval](amount) if amount is not None else (None, None)
            session.add(
                Save(
                    ticket_id=ticket.id,
                    via="tag",
                    amount_minor=amount,
                    currency=currency,
                    interval=interval,
                    mrr_minor=m,
                    arr_minor=a,
                    saved_at=at,
                    verify_due_at=at + timedelta(days=60),
                    outcome=outcome,
                    withdrawn_at=withdrawn,
                    created_at=at,
                    updated_at=at,
                )
            )


def test_save_figures_over_a_seeded_month_match_hand_computed_values(runtime):
    seed_saves(runtime)
    with session_scope(runtime.sessions) as session:
        got = figures(session, Period(OCT, NOV), runtime.settings)
    saves = got["saves"]
    assert {k: saves[k] for k in ("count", "pending", "held", "lost", "withdrawn", "unpriced")} == {
        "count": 4,
        "pending": 2,
        "held": 1,
        "lost": 1,
        "withdrawn": 1,
        "unpriced": 1,
    }
    assert saves["by_currency"] == [
        {
            "currency": "EUR",
            "count": 1,
            "mrr_minor": 2999,
            "arr_minor": 35988,
            "held_mrr_minor": 0,
            "lost_mrr_minor": 2999,
            # its one save is lost: no customer kept
            "customers": 0,
            "kept_mrr_minor": 0,
            "kept_arr_minor": 0,
        },
        # 4900 + 120000 / 12 = 14900 a month; 4900 x 12 + 120000 = 178800 a year
        {
            "currency": "USD",
            "count": 2,
            "mrr_minor": 14900,
            "arr_minor": 178800,
            "held_mrr_minor": 10000,
            "lost_mrr_minor": 0,
            # two saves without a customer: each counts as one customer kept
            "customers": 2,
            "kept_mrr_minor": 14900,
            "kept_arr_minor": 178800,
        },
    ]
    assert saves["base"] is None
    assert saves["customers"] == 3  # the four active saves without the lost one
    # CLV: MRR of saves not lost x 24 months; the lost EUR save keeps nothing
    assert got["clv"]["by_currency"] == [
        {"currency": "EUR", "mrr_minor": 0, "clv_minor": 0},
        {"currency": "USD", "mrr_minor": 14900, "clv_minor": 357600},
    ]


def seed_intent_signals(runtime) -> None:  # noqa: ANN001
    """October intent on saved tickets S-0 and S-1 (S-1 twice) and on six unsaved tickets; a data-export
    signal and a September cancel that must not count."""
    signals = [
        ("S-0", "cancel_intent", day(10, 1)),
        ("S-1", "cancel_intent", day(10, 8)),
        ("S-1", "refund_request", day(10, 9)),
    ]
    signals += [(f"X-{i}", ("cancel_intent", "refund_request")[i % 2], day(10, 3 + i)) for i in range(6)]
    signals += [("X-6", "data_export", day(10, 4)), ("X-7", "cancel_intent", day(9, 20))]
    with session_scope(runtime.sessions) as session:
        for external_id, signal, at in signals:
            ticket = session.execute(select(Ticket).where(Ticket.external_id == external_id)).scalar_one_or_none()
            if ticket is None:
                ticket = Ticket(
                    source="generic", external_id=external_id, created_at=at, updated_at=at, first_seen_at=at
                )
                session.add(ticket)
                session.flush()
            session.add(RiskSignal(ticket_id=ticket.id, signal=signal, source="description", evidence="…", at=at))


def test_the_save_rate_divides_saves_by_tickets_that_showed_intent(runtime):
    seed_saves(runtime)
    seed_intent_signals(runtime)
    with session_scope(runtime.sessions) as session:
        got = figures(session, Period(OCT, NOV), runtime.settings)["save_rate"]
    # intent: S-0, S-1, X-0..X-5 by signals, plus saved S-2 and S-3 (a save implies intent) = 10 tickets
    assert got == {"saves": 4, "intent_tickets": 10, "percent": 40.0}


def test_the_retention_endpoint_answers_the_figures_with_conversion(start_server):
    live = start_server(
        extra={"money": {"base_currency": "USD", "rates": {"EUR": "1.10"}}, "saves": {"expected_lifetime_months": 36}}
    )
    runtime = live.app.extensions["helpdesk_retain"]
    seed_saves(runtime)
    seed_textbook_customers(runtime)
    answer = live.get(f"/api/retention?{MONTH}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["crr"]["percent"] == 96.0
    # 2999 EUR cents x 1.10 = 3298.9 -> 3299 US cents
    assert body["saves"]["base"] == {
        "currency": "USD",
        "mrr_minor": 14900 + 3299,
        "arr_minor": 178800 + 39587,
        "missing_rates": [],
    }
    assert body["clv"]["expected_lifetime_months"] == 36
    assert body["clv"]["base"] == {"currency": "USD", "clv_minor": 14900 * 36, "missing_rates": []}
    assert body["save_rate"]["saves"] == 4


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-11-01T00:00:00Z&until=2026-10-01T00:00:00Z",
        "since=yesterday",
        "since=2026-10-01T00:00:00",
        "window=7d",
    ],
)
def test_a_bad_period_is_a_422(server, query):
    answer = server.get(f"/api/retention?{query}")
    assert answer.status_code == 422 and answer.json()["error"].startswith("invalid")
