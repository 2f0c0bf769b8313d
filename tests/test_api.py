"""The read API: bearer tokens, JSON errors, cursor paging; health, metrics and the OpenAPI document."""

from __future__ import annotations

import json

from helpdesk_retain.openapi import build_spec


def create(server, n: int, minute: int) -> None:  # noqa: ANN001
    body = {
        "event": "ticket.created",
        "occurred_at": f"2026-11-20T09:{minute:02d}:00Z",
        "ticket": {"id": f"P-{n}", "subject": f"s{n}", "created_at": f"2026-11-20T09:{minute:02d}:00Z"},
    }
    assert server.post_signed("generic", json.dumps(body).encode()).status_code == 202


def test_the_api_refuses_a_request_without_a_token_with_json(server):
    answer = server.http.get(f"{server.url}/api/tickets")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"] == "missing bearer token"


def test_the_api_refuses_a_wrong_token(server):
    answer = server.http.get(f"{server.url}/api/tickets", headers={"Authorization": "Bearer hr_wrong"})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid token"


def test_an_unknown_ticket_is_a_json_404(server):
    answer = server.get("/api/tickets/generic/nope")
    assert answer.status_code == 404 and answer.json()["error"] == "unknown ticket"


def test_an_unknown_route_is_a_json_404_not_html(server):
    answer = server.get("/api/nothing-here")
    assert answer.status_code == 404 and "error" in answer.json()


def test_tickets_are_paged_newest_first_with_a_cursor(server):
    for n in range(5):
        create(server, n, minute=n)
    first = server.get("/api/tickets?limit=2").json()
    assert [t["external_id"] for t in first["items"]] == ["P-4", "P-3"]
    second = server.get(f"/api/tickets?limit=2&cursor={first['next_cursor']}").json()
    assert [t["external_id"] for t in second["items"]] == ["P-2", "P-1"]
    third = server.get(f"/api/tickets?limit=2&cursor={second['next_cursor']}").json()
    assert [t["external_id"] for t in third["items"]] == ["P-0"] and third["next_cursor"] is None


def test_tickets_can_be_filtered_by_creation_time(server):
    for n in range(4):
        create(server, n, minute=n * 10)
    page = server.get("/api/tickets?since=2026-11-20T09:10:00Z&until=2026-11-20T09:30:00Z").json()
    assert [t["external_id"] for t in page["items"]] == ["P-2", "P-1"]


def test_a_bad_query_is_a_422_naming_the_field(server):
    answer = server.get("/api/tickets?since=notatime")
    assert answer.status_code == 422 and "since" in answer.json()["error"]


def test_health_readiness_and_metrics_answer_without_a_token(server):
    server.post_fixture("generic", "generic", "ticket_created__minimal")
    assert server.http.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert server.http.get(f"{server.url}/readyz").json() == {"status": "ready"}
    metrics = server.http.get(f"{server.url}/metrics").text
    assert 'helpdesk_retain_deliveries_total{outcome="accepted",source="generic"} 1.0' in metrics
    assert "helpdesk_retain_delivery_processing_seconds_bucket" in metrics


def test_the_openapi_document_describes_the_api_from_the_models(server):
    spec = server.http.get(f"{server.url}/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    ticket = spec["paths"]["/api/tickets/{source}/{external_id}"]["get"]
    assert ticket["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TicketOut"
    }
    assert "complaint" in spec["components"]["schemas"]["TicketOut"]["properties"]
    assert spec == build_spec()
