"""Complaints, risk signals, agent overrides and at-risk customers, through the webhook endpoint and the API."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.importer import import_file
from helpdesk_retain.models import Ticket
from helpdesk_retain.models.tagging import RiskSignal

EMAIL = "ana@example.com"


def ticket(tid: str, at: str = "2026-11-20T09:00:00Z", kind: str = "ticket.created", **fields: Any) -> dict[str, Any]:
    body = {"id": tid, "status": "open", "created_at": at, "updated_at": at, **fields}
    body.setdefault("requester", {"email": EMAIL, "name": "Ana"})
    return {"event": kind, "occurred_at": at, "ticket": body}


def comment(tid: str, cid: str, text: str, at: str = "2026-11-20T10:00:00Z", **fields: Any) -> dict[str, Any]:
    body = {"id": cid, "body": text, "public": True, "author_role": "customer", "created_at": at, **fields}
    return {"event": "comment.created", "occurred_at": at, "ticket": {"id": tid}, "comment": body}


def customer(email: str, mrr_minor: int, at: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    data = {"email": email, "status": "active", "mrr_minor": mrr_minor, "currency": "USD", "updated_at": at}
    return {"event": "customer.updated", "occurred_at": at, "customer": data}


def post(server, event: dict[str, Any], delivery_id: str | None = None) -> None:  # noqa: ANN001
    answer = server.post_signed("generic", json.dumps(event).encode(), delivery_id=delivery_id or uuid.uuid4().hex)
    assert answer.status_code in (200, 202), answer.text


def signals(runtime) -> list[tuple[str, str, str]]:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        rows = session.execute(select(RiskSignal.signal, RiskSignal.source, RiskSignal.evidence)).all()
    return sorted((r.signal, r.source, r.evidence) for r in rows)


def at_risk(server, **params: str) -> list[dict[str, Any]]:  # noqa: ANN001
    answer = server.get("/api/customers", params={"at_risk": "true", **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_a_complaint_in_a_public_customer_comment_flags_the_ticket_with_evidence(server):
    post(server, ticket("T-1", subject="Export question", description="How do I export a report to PDF?"))
    assert server.ticket("generic", "T-1")["complaint"]["is_complaint"] is False
    post(server, comment("T-1", "C-1", "You charged my card twice this month. This is unacceptable!!!"))
    complaint = server.ticket("generic", "T-1")["complaint"]
    assert complaint["is_complaint"] is True and complaint["category"] == "billing"
    assert complaint["source"] == "rules"
    assert "charged my card twice" in complaint["evidence"] and "unacceptable" in complaint["evidence"]


def test_an_internal_note_or_an_agent_reply_does_not_flag_the_ticket(server, runtime):
    post(server, ticket("T-2", subject="Login", description="How do I reset my password?"))
    post(server, comment("T-2", "C-1", "Customer is furious, wants a refund, threatens a lawyer.", public=False))
    post(
        server,
        comment("T-2", "C-2", "Sorry you are disappointed! Please cancel my subscription? No.", author_role="agent"),
    )
    shown = server.ticket("generic", "T-2")
    assert shown["complaint"]["is_complaint"] is False and shown["risk"] == []
    assert signals(runtime) == []


def test_a_traditional_chinese_complaint_is_flagged_with_its_own_words(server):
    post(server, ticket("T-3", subject="帳單問題", description="這個月被重複扣款兩次，非常失望，請儘快處理退款。"))
    shown = server.ticket("generic", "T-3")
    assert shown["complaint"]["is_complaint"] is True and shown["complaint"]["category"] == "billing"
    assert "重複扣款" in shown["complaint"]["evidence"]
    assert [r["signal"] for r in shown["risk"]] == ["refund_request"]
    assert shown["risk"][0]["evidence"] == "處理退款"


def test_an_agent_override_through_the_api_sticks_across_later_deliveries(server):
    post(server, ticket("T-4", subject="Broken again", description="The app keeps crashing, I am fed up."))
    answer = server.api("POST", "/api/tickets/generic/T-4/complaint", json={"is_complaint": False})
    assert answer.status_code == 200, answer.text
    assert answer.json()["complaint"] == {"is_complaint": False, "category": None, "evidence": [], "source": "agent"}
    post(server, comment("T-4", "C-1", "Still crashing. Terrible, absolutely unacceptable."))
    post(server, ticket("T-4", kind="ticket.updated", at="2026-11-21T09:00:00Z", description="It is broken, awful."))
    assert server.ticket("generic", "T-4")["complaint"]["source"] == "agent"
    assert server.ticket("generic", "T-4")["complaint"]["is_complaint"] is False
    cleared = server.api("DELETE", "/api/tickets/generic/T-4/complaint")
    assert cleared.status_code == 200 and cleared.json()["complaint"]["source"] == "rules"
    assert cleared.json()["complaint"]["is_complaint"] is True


def test_an_agent_can_mark_a_complaint_with_a_category_the_rules_missed(server):
    post(server, ticket("T-5", subject="Hello", description="Could you check my order status?"))
    answer = server.api(
        "POST", "/api/tickets/generic/T-5/complaint", json={"is_complaint": True, "category": "delivery"}
    )
    assert answer.json()["complaint"]["is_complaint"] is True
    assert answer.json()["complaint"]["category"] == "delivery" and answer.json()["complaint"]["source"] == "agent"
    post(server, comment("T-5", "C-1", "Thanks, all good now!"))
    assert server.ticket("generic", "T-5")["complaint"]["category"] == "delivery"


def test_the_override_api_names_a_bad_field_and_an_unknown_ticket(server):
    post(server, ticket("T-6", subject="Hi"))
    bad = server.api("POST", "/api/tickets/generic/T-6/complaint", json={"is_complaint": True, "category": "rude"})
    assert bad.status_code == 422 and "category" in bad.json()["error"]
    missing = server.api("POST", "/api/tickets/generic/NOPE/complaint", json={"is_complaint": True})
    assert missing.status_code == 404
    assert server.post("generic", b"{}").status_code == 401


def test_a_not_complaint_tag_overrides_the_rules_until_the_tag_is_removed(server):
    angry = "I am extremely disappointed, the export is broken."
    post(server, ticket("T-7", subject="Export", description=angry, tags=["not-complaint"]))
    shown = server.ticket("generic", "T-7")["complaint"]
    assert shown["is_complaint"] is False and shown["source"] == "agent"
    post(server, ticket("T-7", kind="ticket.updated", at="2026-11-21T09:00:00Z", description=angry, tags=[]))
    shown = server.ticket("generic", "T-7")["complaint"]
    assert shown["is_complaint"] is True and shown["source"] == "rules"


def test_a_complaint_tag_marks_a_ticket_the_rules_do_not_flag(server):
    post(server, ticket("T-8", subject="Question", description="Where do I find the audit log?", tags=["Complaint"]))
    shown = server.ticket("generic", "T-8")["complaint"]
    assert shown == {"is_complaint": True, "category": "other", "evidence": [], "source": "agent"}


def test_re_delivery_gives_no_duplicate_signals(server, runtime):
    event = comment("T-9", "C-1", "Please cancel my subscription and send me an export of all our data.")
    post(server, ticket("T-9", subject="Leaving"))
    for delivery in ("d-1", "d-2", "d-3"):
        post(server, event, delivery_id=delivery)
    post(server, ticket("T-9", kind="ticket.updated", at="2026-11-22T09:00:00Z", subject="Leaving"))
    assert signals(runtime) == [
        ("cancel_intent", "comment:C-1", "Please cancel my subscription"),
        ("data_export", "comment:C-1", "send me an export of all our data"),
    ]


def test_an_edited_description_recomputes_its_signals(server, runtime):
    post(server, ticket("T-10", subject="Plan", description="We want to downgrade to the Starter plan."))
    assert [s[0] for s in signals(runtime)] == ["downgrade"]
    edited = "Actually we would like to upgrade to Business."
    post(server, ticket("T-10", kind="ticket.updated", at="2026-11-21T09:00:00Z", description=edited))
    assert signals(runtime) == []


def test_a_200_kb_ticket_body_is_tagged_without_error(server):
    filler = "We use the dashboard every day for reporting and planning across our teams. " * 2700
    body = filler + "\n\nBut since Monday the sync is broken and I want a refund for this month."
    assert len(body.encode()) > 200_000
    post(server, ticket("T-11", subject="Long report", description=body))
    shown = server.ticket("generic", "T-11")
    assert shown["complaint"]["is_complaint"] is True
    assert [r["signal"] for r in shown["risk"]] == ["refund_request"]


def test_flag_at_risk_lists_the_tickets_that_carry_signals(server):
    post(server, ticket("T-12", subject="Bye", description="We will not renew our contract."))
    post(server, ticket("T-13", subject="Thanks", description="Great work on the new release!"))
    answer = server.get("/api/tickets", params={"flag": "at_risk"})
    assert answer.status_code == 200
    assert [t["external_id"] for t in answer.json()["items"]] == ["T-12"]
    assert answer.json()["items"][0]["risk"][0]["signal"] == "cancel_intent"


def test_at_risk_customers_appear_and_leave_the_list_when_their_signals_age_out(server):
    post(server, customer("small@example.com", 4_900))
    post(server, customer("big@example.com", 99_000))
    post(server, customer("calm@example.com", 500_000))
    at = "2026-10-01T09:00:00Z"
    post(
        server,
        ticket(
            "T-20", at=at, subject="Refund", description="Please refund me.", requester={"email": "small@example.com"}
        ),
    )
    post(
        server,
        ticket(
            "T-21",
            at=at,
            subject="Export",
            description="How do I export all our data?",
            requester={"email": "big@example.com"},
        ),
    )
    post(
        server,
        ticket(
            "T-22", at=at, subject="Hi", description="How do I add a user?", requester={"email": "calm@example.com"}
        ),
    )
    listed = at_risk(server, at="2026-10-20T00:00:00Z")
    assert [c["email"] for c in listed] == ["big@example.com", "small@example.com"]
    reason = listed[0]["reasons"][0]
    assert reason["rule"] == "signal" and reason["kind"] == "data_export" and reason["count"] == 1
    assert reason["evidence"] == "export all our data" and reason["tickets"] == [
        {"source": "generic", "external_id": "T-21"}
    ]
    assert at_risk(server, at="2026-10-31T08:00:00Z") != []
    assert at_risk(server, at="2026-11-01T10:00:00Z") == []
    assert at_risk(server, at="2026-10-20T00:00:00Z", since="2026-10-05T00:00:00Z") == []
    assert len(at_risk(server, at="2026-10-20T00:00:00Z", limit="1")) == 1


def test_three_complaints_in_ninety_days_put_a_customer_at_risk_until_the_first_ages_out(server):
    post(server, customer("moody@example.com", 1_000))
    for n, day in enumerate(("2026-06-01", "2026-07-01", "2026-08-01")):
        desc = "The app crashed again and I lost my work. Very frustrating."
        post(
            server,
            ticket(
                f"T-3{n}",
                at=f"{day}T09:00:00Z",
                subject="Crash",
                description=desc,
                requester={"email": "moody@example.com"},
            ),
        )
    listed = at_risk(server, at="2026-08-15T00:00:00Z")
    assert [c["email"] for c in listed] == ["moody@example.com"]
    assert listed[0]["reasons"][0]["rule"] == "bad_experiences" and listed[0]["reasons"][0]["count"] == 3
    assert at_risk(server, at="2026-08-31T00:00:00Z") == []


def test_a_cancelled_customer_is_no_longer_at_risk(server):
    post(
        server,
        ticket(
            "T-40",
            subject="Cancel",
            description="Please cancel my subscription.",
            requester={"email": "gone@example.com"},
        ),
    )
    assert [c["email"] for c in at_risk(server, at="2026-11-21T00:00:00Z")] == ["gone@example.com"]
    cancelled = {"email": "gone@example.com", "status": "cancelled", "updated_at": "2026-11-20T12:00:00Z"}
    post(server, {"event": "customer.updated", "occurred_at": "2026-11-20T12:00:00Z", "customer": cancelled})
    assert at_risk(server, at="2026-11-21T00:00:00Z") == []


def test_the_third_ticket_about_the_same_matter_in_two_weeks_is_a_repeat_contact(server):
    for n, day in enumerate(("2026-11-01", "2026-11-05", "2026-11-09")):
        desc = f"You charged me twice again ({n})."
        post(server, ticket(f"T-5{n}", at=f"{day}T09:00:00Z", subject="Billing", description=desc))
    post(server, ticket("T-59", at="2026-11-10T09:00:00Z", subject="Hi", description="How do I add a user?"))
    risks = {t: server.ticket("generic", t)["risk"] for t in ("T-50", "T-51", "T-52", "T-59")}
    assert risks["T-50"] == risks["T-51"] == risks["T-59"] == []
    assert [r["signal"] for r in risks["T-52"]] == ["repeat_contact"]
    assert risks["T-52"][0]["evidence"].startswith("contact 3 in 14 days about billing")
    assert risks["T-52"][0]["at"] == "2026-11-09T09:00:00Z"


def test_a_late_delivered_earlier_ticket_moves_the_repeat_contact_to_the_third(server, runtime):
    for tid, day in (("T-61", "2026-11-05"), ("T-62", "2026-11-09"), ("T-60", "2026-11-01")):
        post(
            server, ticket(tid, at=f"{day}T09:00:00Z", subject="Refund", description="I want a refund, charged twice.")
        )
    assert [r["signal"] for r in server.ticket("generic", "T-62")["risk"]].count("repeat_contact") == 1
    with session_scope(runtime.sessions) as session:
        assert session.execute(select(func.count()).where(RiskSignal.signal == "repeat_contact")).scalar_one() == 1


@pytest.mark.parametrize("batch_size", [500, 2])
def test_an_import_judges_repeat_contacts_as_webhooks_do_whatever_the_batches(runtime, tmp_path, batch_size):
    events = [
        ticket(tid, at=f"{day}T09:00:00Z", subject="Refund", description="I want a refund, charged twice.")
        for tid, day in (("T-81", "2026-11-05"), ("T-82", "2026-11-09"), ("T-80", "2026-11-01"))
    ]
    events += [  # another customer: two tickets about the matter and a how-to are no repeat contact
        ticket(tid, at=f"{day}T09:00:00Z", subject=subject, description=description, requester={"email": "bo@x.io"})
        for tid, day, subject, description in (
            ("T-90", "2026-11-02", "Billing", "You charged me twice again."),
            ("T-91", "2026-11-03", "Hi", "How do I add a user?"),
            ("T-92", "2026-11-04", "Billing", "You charged me twice again!"),
            ("T-93", "2026-11-30", "Billing", "You charged me twice, third time."),  # outside the window
        )
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    summary = import_file(runtime, path, "generic", tmp_path / "rejects.jsonl", batch_size=batch_size, progress=False)
    assert summary.applied == len(events)
    with session_scope(runtime.sessions) as session:
        rows = session.execute(
            select(Ticket.external_id, RiskSignal.evidence)
            .join(Ticket, Ticket.id == RiskSignal.ticket_id)
            .where(RiskSignal.signal == "repeat_contact")
        ).all()
    assert [(tid, evidence.split(" (")[0]) for tid, evidence in rows] == [
        ("T-82", "contact 3 in 14 days about billing, refund request")
    ]


def test_competitor_names_come_from_config(start_server):
    server = start_server(extra={"tagging": {"competitors": ["Acme Desk"]}})
    post(server, ticket("T-70", subject="Pricing", description="Acme Desk offers this for less."))
    post(server, ticket("T-71", subject="Setup", description="Is the Acme Desk integration available?"))
    assert [r["signal"] for r in server.ticket("generic", "T-70")["risk"]] == ["competitor_mention"]
    assert server.ticket("generic", "T-71")["risk"] == []
