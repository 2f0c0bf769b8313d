"""``POST /api/saves`` and ``GET /api/saves``: validation, one save per ticket, paging, totals."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from sqlalchemy import func, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models.saves import Save, SaveEvent

WINDOW = "since=2026-11-01T00:00:00Z&until=2026-12-01T00:00:00Z"


def create_ticket(server, tid: str = "T-1", minute: int = 0) -> None:  # noqa: ANN001
    at = f"2026-11-20T09:{minute:02d}:00Z"
    body = {
        "event": "ticket.created",
        "occurred_at": at,
        "ticket": {
            "id": tid,
            "subject": "cancel",
            "created_at": at,
            "updated_at": at,
            "requester": {"email": f"{tid.lower()}@example.com"},
        },
    }
    assert server.post_signed("generic", json.dumps(body).encode()).status_code == 202


def save_body(tid: str = "T-1", **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "source": "generic",
        "external_id": tid,
        "amount_minor": 4900,
        "currency": "USD",
        "interval": "month",
        "reason": "price",
        "offer": "discount",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def count(runtime, model) -> int:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_posting_a_save_records_it_and_shows_it_on_the_ticket(server):
    create_ticket(server)
    answer = server.api("POST", "/api/saves", json=save_body())
    assert answer.status_code == 201, answer.text
    saved = answer.json()
    assert saved["change"] == "marked" and saved["via"] == "api" and saved["outcome"] == "pending"
    assert (saved["mrr_minor"], saved["arr_minor"]) == (4900, 58800)
    assert saved["customer"] == {"email": "t-1@example.com", "name": None}
    assert server.ticket("generic", "T-1")["save"]["amount_minor"] == 4900


def test_posting_the_same_ticket_again_updates_its_one_save(server, runtime):
    create_ticket(server)
    server.api("POST", "/api/saves", json=save_body())
    again = server.api("POST", "/api/saves", json=save_body(amount_minor=120000, interval="year", currency="eur"))
    assert again.status_code == 201 and again.json()["change"] == "updated"
    assert (again.json()["currency"], again.json()["mrr_minor"], again.json()["arr_minor"]) == ("EUR", 10000, 120000)
    same = server.api("POST", "/api/saves", json=save_body(amount_minor=120000, interval="year", currency="EUR"))
    assert same.json()["change"] is None
    assert count(runtime, Save) == 1 and count(runtime, SaveEvent) == 2


def test_an_unknown_ticket_answers_404_and_stores_nothing(server, runtime):
    answer = server.api("POST", "/api/saves", json=save_body("NOPE"))
    assert answer.status_code == 404 and answer.json()["error"] == "unknown ticket"
    assert count(runtime, Save) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "XAU"}, "currency"),  # gold: ISO 4217 but no minor unit
        ({"currency": "US"}, "currency"),
        ({"currency": ...}, "currency"),
        ({"amount_minor": -1}, "amount_minor"),
        ({"amount_minor": "4900"}, "amount_minor"),
        ({"amount_minor": 49.5}, "amount_minor"),
        ({"amount_minor": True}, "amount_minor"),
        ({"amount_minor": 10**16}, "amount_minor"),
        ({"amount_minor": ...}, "amount_minor"),
        ({"interval": "week"}, "interval"),
        ({"source": ""}, "source"),
        ({"saved_by": "me"}, "saved_by"),
    ],
)
def test_a_bad_body_answers_422_naming_the_field_and_stores_nothing(server, runtime, change, field):
    create_ticket(server)
    answer = server.api("POST", "/api/saves", json=save_body(**change))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"].startswith(f"invalid {field}")
    assert count(runtime, Save) == 0 and count(runtime, SaveEvent) == 0


def test_a_body_that_is_not_json_is_refused(server, runtime):
    answer = server.api("POST", "/api/saves", data="amount=1", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415 and count(runtime, Save) == 0


def test_saves_need_a_bearer_token(server):
    answer = server.http.post(f"{server.url}/api/saves", json=save_body())
    assert answer.status_code == 401


def test_saves_are_listed_newest_first_with_a_cursor_and_totals(server):
    for n in range(3):
        create_ticket(server, f"T-{n}", minute=n)
        server.api("POST", "/api/saves", json=save_body(f"T-{n}", amount_minor=1000 * (n + 1)))
    first = server.get(f"/api/saves?{WINDOW}&limit=2").json()
    assert [i["external_id"] for i in first["items"]] == ["T-2", "T-1"]
    second = server.get(f"/api/saves?{WINDOW}&limit=2&cursor={first['next_cursor']}").json()
    assert [i["external_id"] for i in second["items"]] == ["T-0"] and second["next_cursor"] is None
    totals = first["totals"]
    assert totals["count"] == 3 and totals["pending"] == 3
    assert totals["by_currency"] == [
        {
            "currency": "USD",
            "count": 3,
            "mrr_minor": 6000,
            "arr_minor": 72000,
            "held_mrr_minor": 0,
            "lost_mrr_minor": 0,
            # three customers' saves (one ticket each), none lost: all kept, each customer once
            "customers": 3,
            "kept_mrr_minor": 6000,
            "kept_arr_minor": 72000,
        }
    ]
    assert totals["base"] is None


def test_totals_stay_per_currency_unless_rates_are_configured(start_server):
    plain = start_server()
    create_ticket(plain, "T-1")
    create_ticket(plain, "T-2")
    plain.api("POST", "/api/saves", json=save_body("T-1", amount_minor=1000, currency="USD"))
    plain.api("POST", "/api/saves", json=save_body("T-2", amount_minor=2000, currency="EUR"))
    totals = plain.get(f"/api/saves?{WINDOW}").json()["totals"]
    assert [(t["currency"], t["mrr_minor"]) for t in totals["by_currency"]] == [("EUR", 2000), ("USD", 1000)]
    assert totals["base"] is None
    converted = start_server(extra={"money": {"base_currency": "EUR", "rates": {"USD": "0.9"}}})
    assert converted.get(f"/api/saves?{WINDOW}").json()["totals"]["base"] == {
        "currency": "EUR",
        "mrr_minor": 2900,
        "arr_minor": 34800,
        "missing_rates": [],
    }
    partial = start_server(extra={"money": {"base_currency": "GBP", "rates": {"USD": "0.8"}}})
    assert partial.get(f"/api/saves?{WINDOW}").json()["totals"]["base"] == {
        "currency": "GBP",
        "mrr_minor": None,
        "arr_minor": None,
        "missing_rates": ["EUR"],
    }


def test_a_period_that_ends_before_it_starts_is_a_422(server):
    answer = server.get("/api/saves?since=2026-12-01T00:00:00Z&until=2026-11-01T00:00:00Z")
    assert answer.status_code == 422 and "since" in answer.json()["error"]


def test_the_openapi_document_lists_the_saves_routes(server):
    paths = server.http.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/api/saves"]) and "get" in paths["/api/retention"]


def test_two_simultaneous_posts_for_one_ticket_make_one_save(server, runtime):
    create_ticket(server)
    answers: list[int] = []

    def post(amount: int) -> None:
        headers = {"Authorization": f"Bearer {server.token}"}  # one connection per thread
        body = save_body(amount_minor=amount)
        answers.append(requests.post(f"{server.url}/api/saves", json=body, headers=headers, timeout=30).status_code)

    threads = [threading.Thread(target=post, args=(amount,)) for amount in (1000, 2000, 3000, 4000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [201] * 4
    assert count(runtime, Save) == 1
    with session_scope(runtime.sessions) as session:
        kinds = session.execute(select(SaveEvent.kind).order_by(SaveEvent.id)).scalars().all()
    assert kinds[0] == "marked" and set(kinds[1:]) <= {"updated"}
