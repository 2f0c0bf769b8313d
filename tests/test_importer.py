"""``import``: a batch reads its tickets and customers up front; the result equals applying line by line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.importer import import_file
from helpdesk_retain.models import Customer, Ticket, TicketLog

MON_FRI = ("mon", "tue", "wed", "thu", "fri")


def created(tid: str, at: str, requester: dict[str, Any], **fields: Any) -> dict[str, Any]:
    ticket = {"id": tid, "status": "open", "created_at": at, "updated_at": at, "requester": requester, **fields}
    return {"event": "ticket.created", "occurred_at": at, "ticket": ticket}


def run_import(runtime, tmp_path: Path, events: list[dict[str, Any]], batch_size: int, name: str):  # noqa: ANN001, ANN201
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return import_file(
        runtime, path, "generic", tmp_path / f"{name}.rejects.jsonl", batch_size=batch_size, progress=False
    )


@pytest.mark.parametrize("batch_size", [500, 1])
def test_a_batch_updates_known_tickets_and_merges_a_customer_first_seen_by_vendor_id(runtime, tmp_path, batch_size):
    first = [created("T-1", "2026-11-01T09:00:00Z", {"external_id": "u1"}, subject="Old subject")]
    assert run_import(runtime, tmp_path, first, batch_size, "first").applied == 1
    second = [
        {  # the same ticket, newer, now with the requester's email: the vendor-id customer takes the email key
            "event": "ticket.updated",
            "occurred_at": "2026-11-02T09:00:00Z",
            "ticket": {
                "id": "T-1",
                "subject": "New subject",
                "status": "pending",
                "updated_at": "2026-11-02T09:00:00Z",
                "requester": {"email": "Ana@Example.com", "external_id": "u1"},
            },
        },
        created("T-2", "2026-11-03T09:00:00Z", {"email": "ana@example.com"}, subject="Second"),
        created("T-3", "2026-11-03T10:00:00Z", {"email": "bo@example.com"}, subject="Third"),
        created("T-3", "2026-11-03T10:00:00Z", {"email": "bo@example.com"}, subject="Third", priority="high"),
        {  # older than what is stored: logged, fields kept
            "event": "ticket.updated",
            "occurred_at": "2026-11-01T12:00:00Z",
            "ticket": {"id": "T-1", "subject": "Stale", "updated_at": "2026-11-01T12:00:00Z"},
        },
    ]
    summary = run_import(runtime, tmp_path, second, batch_size, "second")
    assert (summary.applied, summary.failed) == (5, 0)
    with session_scope(runtime.sessions) as session:
        customers = {c.key: c.id for c in session.execute(select(Customer)).scalars()}
        assert set(customers) == {"ana@example.com", "bo@example.com"}
        tickets = {t.external_id: t for t in session.execute(select(Ticket)).scalars()}
        assert sorted(tickets) == ["T-1", "T-2", "T-3"]
        assert (tickets["T-1"].subject, tickets["T-1"].status) == ("New subject", "pending")
        assert tickets["T-1"].customer_id == tickets["T-2"].customer_id == customers["ana@example.com"]
        assert tickets["T-3"].customer_id == customers["bo@example.com"] and tickets["T-3"].priority == "high"
        logs = session.execute(select(func.count()).where(TicketLog.ticket_id == tickets["T-1"].id)).scalar_one()
        assert logs == 3  # created, updated, the stale update


TAT = {
    "calendars": {"office": {"timezone": "Europe/London", "hours": {d: [["09:00", "17:00"]] for d in MON_FRI}}},
    "tat": {"policies": [{"name": "std", "calendar": "office", "targets": {"first_response": 60, "resolution": 600}}]},
}


def story(domain: str) -> list[dict[str, Any]]:
    """Tickets of four customers over two days: complaints and risk words (so repeat contacts), status and priority
    changes, customer and agent comments, and an update delivered before its ticket's creation."""
    events: list[dict[str, Any]] = []
    for n in range(24):
        at = f"2030-01-0{7 + n % 2}T{9 + n % 8:02d}:{n:02d}:00Z"
        later = f"2030-01-09T{9 + n % 8:02d}:{n:02d}:00Z"
        who = {"email": f"c{n % 4}@{domain}"}
        text = ["I want a refund, the export keeps failing", "How do I add a user?", "这个产品太差了，我要退款"][n % 3]
        create = created(f"T-{n}", at, who, subject=f"Ticket {n}", description=text, priority="normal")
        update = {
            "event": "ticket.updated",
            "occurred_at": later,
            "ticket": {"id": f"T-{n}", "status": "pending", "priority": "urgent", "updated_at": later},
        }
        comment = {
            "event": "comment.created",
            "occurred_at": later,
            "ticket": {"id": f"T-{n}", "requester": who},
            "comment": {
                "id": f"C-{n}",
                "body": "Still broken, I will cancel" if n % 2 else "We fixed it",
                "public": True,
                "author_role": "customer" if n % 2 else "agent",
                "created_at": later,
            },
        }
        events += [update, create] if n % 5 == 0 else [create, comment, update]
    return events


def stored_state(runtime, domain: str, source: str) -> dict[str, Any]:  # noqa: ANN001
    from helpdesk_retain.models.tagging import ComplaintState, RiskSignal
    from helpdesk_retain.models.tat import TatClock

    with session_scope(runtime.sessions) as session:
        tickets = {
            t.id: t
            for t in session.execute(select(Ticket).where(Ticket.source == source)).scalars()
            if t.external_id.startswith("T-")
        }
        emails = {c.id: c.email.split("@")[0] for c in session.execute(select(Customer)).scalars() if c.email}

        def rows(model: Any, *names: str) -> list[tuple[Any, ...]]:
            found = session.execute(select(model).where(model.ticket_id.in_(tickets))).scalars()
            return sorted(tuple([tickets[r.ticket_id].external_id, *(getattr(r, n) for n in names)]) for r in found)

        return {
            "tickets": sorted(
                (t.external_id, t.subject, t.status, t.priority, t.created_at, t.updated_at, emails[t.customer_id])
                + (t.is_complaint, t.complaint_category, tuple(t.complaint_evidence), t.complaint_source)
                for t in tickets.values()
            ),
            "log": rows(TicketLog, "at", "kind", "dedupe_key", "status", "author_role", "body"),
            "signals": rows(RiskSignal, "signal", "source", "evidence", "at"),
            "complaint_times": rows(ComplaintState, "complaint_at"),
            "clocks": rows(TatClock, "metric", "seq", "policy", "due_at", "state", "breached_at", "stopped_at"),
        }


def test_a_batch_stores_what_applying_each_event_in_its_own_transaction_stores(make_settings, tmp_path):
    """The batch path (tickets, log rows and signals written together) against the webhook path, on one database:
    the import under ``generic``, the webhook-style apply under another source name and other customers."""
    from helpdesk_retain.events import utcnow
    from helpdesk_retain.ingest import Context, apply_events
    from helpdesk_retain.runtime import build_runtime

    rt = build_runtime(make_settings(extra=TAT))
    try:
        summary = run_import(rt, tmp_path, story("batch.example"), 500, "story")
        assert (summary.applied, summary.failed) == (len(story("x")), 0)
        integration = rt.integrations["generic"]
        for event in story("single.example"):
            with session_scope(rt.sessions) as session:
                events = integration.parse({}, json.dumps(event).encode())
                apply_events(Context(session, rt.settings, "single", None, utcnow()), events, rt.steps)
        batch, single = stored_state(rt, "batch.example", "generic"), stored_state(rt, "single.example", "single")
        assert batch["signals"] and batch["clocks"] and any(s[1] == "repeat_contact" for s in batch["signals"])
        assert batch == single
        # and what each ticket's clocks are is what a full replay of its stored log gives
        from helpdesk_retain.models.tat import TatClock
        from helpdesk_retain.tat import compute_clocks, policy_set
        from helpdesk_retain.tat.logrows import full_log

        policies, fields = policy_set(rt.settings), ("metric", "seq", "policy", "due_at", "state", "breached_at")
        with session_scope(rt.sessions) as session:
            for ticket in session.execute(select(Ticket).where(Ticket.external_id.startswith("T-"))).scalars():
                replayed = compute_clocks(ticket.created_at, full_log(session, ticket.id or 0), policies, utcnow())
                clocks = session.execute(select(TatClock).where(TatClock.ticket_id == ticket.id)).scalars()
                have = sorted(tuple(getattr(c, f) for f in fields) for c in clocks)
                assert have == sorted(tuple(getattr(c, f) for f in fields) for c in replayed), ticket.external_id
    finally:
        rt.close()
