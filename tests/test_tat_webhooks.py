"""TAT scenarios through the webhook endpoint (generic source): the ticket API's ``tat`` list, the breached
flag, attainment, and the breach sweep over the clocks those deliveries made."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models.tat import TatEvent
from helpdesk_retain.tat import run_due_tat

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # a Monday, after "now": running clocks stay running
TAT = {
    "calendars": {"always": {"timezone": "UTC", "hours": {d: [["00:00", "00:00"]] for d in DAYS}}},
    "tat": {
        "policies": [
            {
                "name": "urgent",
                "calendar": "always",
                "match": {"priority": "urgent"},
                "targets": {"first_response": 15, "resolution": 60},
            },
            {
                "name": "standard",
                "calendar": "always",
                "targets": {"first_response": 60, "next_response": 30, "resolution": 240},
            },
        ]
    },
}
CLOCK_KEYS = {"metric", "policy", "target_minutes", "started_at", "due_at", "state", "stopped_at", "breached_at"}


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def created(minute: float = 0, ticket: str = "T-1", **fields: Any) -> bytes:
    fields = {"status": "new", "priority": "normal", **fields}
    body = {"id": ticket, "subject": "Help", "created_at": iso(minute), "updated_at": iso(minute), **fields}
    return json.dumps({"event": "ticket.created", "occurred_at": iso(minute), "ticket": body}).encode()


def updated(minute: float, ticket: str = "T-1", **fields: Any) -> bytes:
    body = {"id": ticket, "updated_at": iso(minute), **fields}
    return json.dumps({"event": "ticket.updated", "occurred_at": iso(minute), "ticket": body}).encode()


def comment(minute: float, role: str = "agent", ticket: str = "T-1", public: bool = True) -> bytes:
    note = {"id": f"{ticket}-{role}-{minute}", "body": "...", "public": public, "author_role": role}
    note["created_at"] = iso(minute)
    body = {"event": "comment.created", "occurred_at": iso(minute), "ticket": {"id": ticket}, "comment": note}
    return json.dumps(body).encode()


@pytest.fixture
def tat_server(start_server):  # noqa: ANN001, ANN201
    return start_server(extra=TAT)


def deliver(server, *bodies: bytes) -> None:  # noqa: ANN001
    for body in bodies:
        answer = server.post_signed("generic", body)
        assert answer.status_code in (200, 202), answer.text


def clocks(server, ticket: str = "T-1") -> dict[tuple[str, int], dict[str, Any]]:  # noqa: ANN001
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for clock in server.ticket("generic", ticket)["tat"]:
        seq = sum(metric == clock["metric"] for metric, _ in found) + 1
        found[clock["metric"], seq] = clock
    return found


def test_a_ticket_has_no_clocks_when_no_policy_is_configured(server):
    deliver(server, created(), comment(500))
    assert server.ticket("generic", "T-1")["tat"] == []


def test_a_reply_in_time_meets_the_first_response_target(tat_server):
    deliver(tat_server, created(), comment(45))
    clock = clocks(tat_server)["first_response", 1]
    assert set(clock) == CLOCK_KEYS
    assert clock["state"] == "met" and clock["policy"] == "standard" and clock["target_minutes"] == 60
    assert (clock["started_at"], clock["due_at"], clock["stopped_at"]) == (iso(0), iso(60), iso(45))
    assert clock["breached_at"] is None


def test_a_late_reply_is_breached_at_the_due_time(tat_server):
    deliver(tat_server, created(), comment(30, role="customer"), comment(75))
    clock = clocks(tat_server)["first_response", 1]
    assert clock["state"] == "breached"
    assert clock["breached_at"] == clock["due_at"] == iso(60) and clock["stopped_at"] == iso(75)


def test_pending_pauses_the_resolution_clock(tat_server):
    deliver(tat_server, created(), comment(10), updated(60, status="pending"))
    clock = clocks(tat_server)["resolution", 1]
    assert (clock["state"], clock["due_at"], clock["stopped_at"]) == ("paused", None, None)


def test_reopening_resumes_the_resolution_clock_with_the_time_already_used(tat_server):
    deliver(tat_server, created(), comment(10), updated(100, status="solved"))
    assert clocks(tat_server)["resolution", 1]["state"] == "met"
    deliver(tat_server, updated(1000, status="open"))
    clock = clocks(tat_server)["resolution", 1]
    assert (clock["state"], clock["due_at"], clock["stopped_at"]) == ("running", iso(1140), None)


def test_raising_the_priority_mid_way_switches_the_clocks_to_the_new_policy(tat_server):
    deliver(tat_server, created(), comment(5), comment(20, role="customer"), updated(30, priority="urgent"))
    found = clocks(tat_server)
    assert found["first_response", 1]["policy"] == "standard"  # it stopped before the change
    resolution = found["resolution", 1]
    assert (resolution["policy"], resolution["target_minutes"], resolution["due_at"]) == ("urgent", 60, iso(60))
    assert ("next_response", 1) not in found  # the urgent policy sets no next-response target


def test_the_complaint_category_found_by_tagging_picks_the_policy(start_server):
    billing = {"name": "billing", "calendar": "always", "match": {"category": "billing"}}
    billing["targets"] = {"resolution": 90}
    server = start_server(extra={**TAT, "tat": {"policies": [billing, *TAT["tat"]["policies"]]}})
    text = "I was charged twice this month. Please refund the duplicate charge."
    deliver(server, created(subject="Charged twice", description=text))
    ticket = server.ticket("generic", "T-1")
    assert ticket["complaint"]["category"] == "billing"  # the tagging step ran before the TAT step
    assert [(c["metric"], c["policy"]) for c in ticket["tat"]] == [("resolution", "billing")]


def test_a_customer_comment_after_the_first_reply_starts_a_next_response_clock(tat_server):
    deliver(tat_server, created(), comment(5), comment(20, role="customer"), comment(40, role="customer"))
    clock = clocks(tat_server)["next_response", 1]
    assert (clock["state"], clock["started_at"], clock["due_at"]) == ("running", iso(20), iso(50))


def test_duplicate_and_out_of_order_deliveries_give_identical_clocks(tat_server):
    def story(ticket: str) -> list[bytes]:
        return [
            created(ticket=ticket),
            comment(5, "customer", ticket),
            comment(20, ticket=ticket),
            updated(25, ticket, status="pending"),
            comment(40, "customer", ticket),
            updated(41, ticket, status="open"),
            updated(70, ticket, priority="urgent"),
            comment(90, ticket=ticket),
            updated(95, ticket, status="solved"),
        ]

    deliver(tat_server, *story("A"))
    shuffled = story("B")
    shuffled = [shuffled[6], shuffled[3], *shuffled[::-1], shuffled[0], shuffled[4]]
    for i, body in enumerate(shuffled):  # new delivery ids: the event log, not the inbox, must dedupe them
        assert tat_server.post_signed("generic", body, delivery_id=f"again-{i}").status_code == 202
    assert clocks(tat_server, "A") == clocks(tat_server, "B")
    resolution = clocks(tat_server, "A")["resolution", 1]
    assert (resolution["policy"], resolution["state"], resolution["breached_at"]) == ("urgent", "breached", iso(76))


def test_the_breached_flag_lists_tickets_with_a_breached_clock(tat_server):
    deliver(
        tat_server,
        created(ticket="late"),
        comment(90, ticket="late"),
        created(ticket="fine"),
        comment(5, ticket="fine"),
    )
    answer = tat_server.get("/api/tickets", params={"flag": "breached"})
    assert answer.status_code == 200, answer.text
    assert [t["external_id"] for t in answer.json()["items"]] == ["late"]


def test_attainment_counts_met_and_breached_clocks_per_policy_and_metric(tat_server):
    deliver(tat_server, created(ticket="a"), comment(10, ticket="a"), created(ticket="b"), comment(70, ticket="b"))
    deliver(tat_server, created(ticket="c", priority="urgent"), comment(5, ticket="c"))
    answer = tat_server.get("/api/tat/attainment", params={"since": iso(0), "until": iso(120)})
    assert answer.status_code == 200, answer.text
    rows = {(r["policy"], r["metric"]): r for r in answer.json()["items"]}
    assert rows["standard", "first_response"] == {
        "policy": "standard",
        "metric": "first_response",
        "met": 1,
        "breached": 1,
        "attainment": 0.5,
    }
    assert rows["urgent", "first_response"]["attainment"] == 1.0
    assert rows["standard", "resolution"]["attainment"] is None  # still running: neither met nor breached


def test_attainment_is_described_in_the_openapi_document(tat_server):
    spec = tat_server.get("/openapi.json").json()
    operation = spec["paths"]["/api/tat/attainment"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"since", "until"}
    assert "AttainmentOut" in spec["components"]["schemas"]


def test_attainment_refuses_a_period_without_a_time_zone(tat_server):
    answer = tat_server.get("/api/tat/attainment", params={"since": "2030-01-07T00:00:00"})
    assert answer.status_code == 422 and "since" in answer.json()["error"]


# --- the breach sweep on clocks made through webhooks ---------------------------------------------


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def events(runtime) -> list[tuple[str, str, datetime, datetime | None]]:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        stmt = select(TatEvent.metric, TatEvent.kind, TatEvent.at, TatEvent.notified_at).order_by(TatEvent.id)
        return [tuple(row) for row in session.execute(stmt)]


def rt(server):  # noqa: ANN001, ANN201
    return server.app.extensions["helpdesk_retain"]


def test_a_breach_is_recorded_once_at_the_due_time_when_the_sweep_runs_twice(tat_server):
    deliver(tat_server, created())
    assert run_due_tat(rt(tat_server), minutes(61)) == 1
    assert run_due_tat(rt(tat_server), minutes(61)) == 0
    assert run_due_tat(rt(tat_server), minutes(62)) == 0
    assert events(rt(tat_server)) == [("first_response", "breach", minutes(60), None)]
    clock = clocks(tat_server)["first_response", 1]
    assert clock["state"] == "breached" and clock["breached_at"] == clock["due_at"] == iso(60)


def test_a_warning_comes_first_and_once_then_the_breach(tat_server):
    deliver(tat_server, created())
    assert run_due_tat(rt(tat_server), minutes(50)) == 1  # first response warns at 80% of 60 minutes
    assert run_due_tat(rt(tat_server), minutes(55)) == 0
    assert run_due_tat(rt(tat_server), minutes(60)) == 1
    assert [e[:3] for e in events(rt(tat_server))] == [
        ("first_response", "warning", minutes(48)),
        ("first_response", "breach", minutes(60)),
    ]


def test_a_clock_met_before_its_warning_records_nothing(tat_server):
    deliver(tat_server, created(), comment(10))
    assert run_due_tat(rt(tat_server), minutes(59)) == 0
    assert events(rt(tat_server)) == []


def test_after_downtime_one_run_catches_up_every_due_breach(tat_server):
    for name in ("a", "b", "c"):
        deliver(tat_server, created(ticket=name))
    assert run_due_tat(rt(tat_server), minutes(10_000)) == 6  # first response and resolution of each
    assert run_due_tat(rt(tat_server), minutes(10_001)) == 0
    assert {e[1] for e in events(rt(tat_server))} == {"breach"}  # no stale warnings for clocks already out


def test_a_late_reply_after_the_sweep_keeps_the_breach_and_records_nothing_new(tat_server):
    deliver(tat_server, created())
    run_due_tat(rt(tat_server), minutes(61))
    deliver(tat_server, comment(70))
    clock = clocks(tat_server)["first_response", 1]
    assert (clock["state"], clock["breached_at"], clock["stopped_at"]) == ("breached", iso(60), iso(70))
    assert run_due_tat(rt(tat_server), minutes(71)) == 0
    assert len(events(rt(tat_server))) == 1


def test_a_breach_found_by_the_recompute_is_still_recorded_by_the_sweep(tat_server):
    deliver(tat_server, created(), comment(75))
    assert run_due_tat(rt(tat_server), minutes(80)) == 1
    assert events(rt(tat_server)) == [("first_response", "breach", minutes(60), None)]
