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
