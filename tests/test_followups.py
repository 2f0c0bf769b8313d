"""Follow-ups for fixed bugs through the real endpoint, and the due sweep with a fixed clock."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from helpdesk_retain import followups
from helpdesk_retain.db import session_scope
from helpdesk_retain.followups import due_batches, mark_notified, run_due_reminders
from helpdesk_retain.scheduler import sweep_jobs

ISSUE = "acme/app#123"
ISSUE_URL = "https://github.com/acme/app/issues/123"
FIXED_AT = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def post(server, kind: str, at: datetime, delivery_id: str | None = None, **payload) -> None:  # noqa: ANN001
    body = json.dumps({"event": kind, "occurred_at": iso(at), **payload}).encode()
    answer = server.post_signed("generic", body, delivery_id=delivery_id)
    assert answer.status_code == 202, answer.text


def ticket(server, tid: str, email: str = "ana@example.com", assignee: str = "sam@example.com") -> None:  # noqa: ANN001
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    fields = {"id": tid, "description": f"Broken: {ISSUE_URL}", "updated_at": iso(at)}
    post(
        server, "ticket.created", at, ticket={**fields, "requester": {"email": email}, "assignee": {"email": assignee}}
    )


def reply(server, tid: str, at: datetime, public: bool = True, role: str = "agent", cid: str = "C-1") -> None:  # noqa: ANN001
    c = {"id": cid, "body": "It is fixed now.", "public": public, "author_role": role, "created_at": iso(at)}
    post(server, "comment.created", at, ticket={"id": tid}, comment=c)


def issue(server, state: str, at: datetime = FIXED_AT, delivery_id: str | None = None) -> None:  # noqa: ANN001
    fields = {"tracker": "github", "id": ISSUE, "url": ISSUE_URL, "state": state, "updated_at": iso(at)}
    post(server, "issue.updated", at, delivery_id=delivery_id, issue=fields)


def reminders(server, state: str | None = None) -> list[dict]:  # noqa: ANN001
    answer = server.get("/api/reminders", params={"state": state} if state else {})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_a_fixed_issue_creates_one_follow_up_per_linked_ticket_due_after_the_delay(start_server):
    server = start_server(extra={"followups": {"delay_minutes": 90}})
    ticket(server, "T-1", "ana@example.com")
    ticket(server, "T-2", "ana@example.com")
    ticket(server, "T-3", "bo@example.com")
    issue(server, "fixed")
    items = reminders(server, "pending")
    assert [(r["ticket"]["external_id"], r["customer"]["email"]) for r in items] == [
        ("T-1", "ana@example.com"),
        ("T-2", "ana@example.com"),
        ("T-3", "bo@example.com"),
    ]
    assert {r["due_at"] for r in items} == {"2026-11-22T16:30:00Z"}
    assert {(r["issue"]["issue"], r["issue"]["state"], r["fixed_at"]) for r in items} == {
        (ISSUE, "fixed", "2026-11-22T15:00:00Z")
    }


def test_the_delay_counts_business_time_of_the_configured_calendar(start_server):
    support = {"timezone": "UTC", "hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}
    server = start_server(
        extra={"calendars": {"support": support}, "followups": {"delay_minutes": 120, "calendar": "support"}}
    )
    ticket(server, "T-1")
    issue(server, "fixed", datetime(2026, 11, 20, 16, 0, tzinfo=UTC))  # a Friday, an hour before closing
    [item] = reminders(server)
    assert item["due_at"] == "2026-11-23T10:00:00Z"  # one hour on Friday, one on Monday
    assert item["escalate_at"] == "2026-11-24T10:00:00Z"  # 480 business minutes later


def test_a_duplicate_fixed_delivery_creates_no_second_follow_up(server):
    ticket(server, "T-1")
    issue(server, "fixed", delivery_id="d-1")
    issue(server, "fixed", delivery_id="d-2")
    issue(server, "fixed", FIXED_AT + timedelta(hours=2), delivery_id="d-3")  # a later edit of the closed issue
    assert len(reminders(server)) == 1


def test_an_open_issue_or_one_first_seen_closed_without_a_transition_reminds_nobody(server, runtime):
    from helpdesk_retain.events import IssueEvent
    from helpdesk_retain.inbox import accept

    ticket(server, "T-1")
    issue(server, "open", FIXED_AT - timedelta(days=1))
    late = IssueEvent(tracker="github", issue="acme/app#124", state="fixed", occurred_at=FIXED_AT, transition=False)
    ticket_body = {"id": "T-1", "description": "also https://github.com/acme/app/issues/124"}
    post(server, "ticket.updated", FIXED_AT - timedelta(days=1), ticket=ticket_body)
    accept(runtime, "generic", "late-1", {}, b"{}", [late])
    assert reminders(server) == []
    assert {x["issue"]: x["state"] for x in server.ticket("generic", "T-1")["bug_links"]} == {
        ISSUE: "open",
        "acme/app#124": "fixed",
    }


def test_won_t_fix_cancels_pending_follow_ups_and_keeps_them_with_the_reason(server):
    ticket(server, "T-1")
    issue(server, "fixed")
    issue(server, "wontfix", FIXED_AT + timedelta(hours=1))
    [item] = reminders(server, "cancelled")
    assert "won't fix" in item["cancel_reason"] and item["cancelled_at"] == "2026-11-22T16:00:00Z"
    assert reminders(server, "pending") == []


def test_a_reopen_after_the_fix_cancels_pending_and_a_new_fix_creates_a_new_cycle(server):
    ticket(server, "T-1")
    issue(server, "fixed")
    issue(server, "open", FIXED_AT + timedelta(hours=1))
    assert [r["cancel_reason"].split(" at ")[0] for r in reminders(server, "cancelled")] == ["issue reopened"]
    issue(server, "fixed", FIXED_AT + timedelta(hours=2))
    [item] = reminders(server, "pending")
    assert item["fix_cycle"] == 2 and item["fixed_at"] == "2026-11-22T17:00:00Z"


def test_a_reopen_after_the_customer_was_told_creates_nothing_until_fixed_again(server):
    ticket(server, "T-1")
    issue(server, "fixed")
    reply(server, "T-1", FIXED_AT + timedelta(minutes=30))
    issue(server, "open", FIXED_AT + timedelta(hours=1))
    assert [r["state"] for r in reminders(server)] == ["done"]
    issue(server, "fixed", FIXED_AT + timedelta(hours=2))
    assert [(r["fix_cycle"], r["state"]) for r in reminders(server)] == [(1, "done"), (2, "pending")]


def test_a_public_agent_reply_after_the_fix_marks_the_follow_up_done(server):
    ticket(server, "T-1")
    issue(server, "fixed")
    reply(server, "T-1", FIXED_AT + timedelta(minutes=5), public=False, cid="C-note")
    reply(server, "T-1", FIXED_AT + timedelta(minutes=6), role="customer", cid="C-cust")
    assert [r["state"] for r in reminders(server)] == ["pending"]
    reply(server, "T-1", FIXED_AT + timedelta(minutes=10), cid="C-reply")
    [item] = reminders(server, "done")
    assert item["done_reason"] == "agent_reply" and item["done_at"] == "2026-11-22T15:10:00Z"


def test_an_agent_reply_from_before_the_fix_does_not_count(server):
    ticket(server, "T-1")
    reply(server, "T-1", FIXED_AT - timedelta(minutes=1))
    issue(server, "fixed")
    assert [r["state"] for r in reminders(server)] == ["pending"]


def test_a_customer_already_told_before_the_fix_event_arrived_gets_no_follow_up(server):
    ticket(server, "T-1")
    ticket(server, "T-2")
    reply(server, "T-1", FIXED_AT + timedelta(minutes=3))  # the agent heard first; the webhook came late
    issue(server, "fixed")
    assert [r["ticket"]["external_id"] for r in reminders(server)] == ["T-2"]


def test_a_follow_up_can_be_marked_done_by_hand(server):
    ticket(server, "T-1")
    issue(server, "fixed")
    [item] = reminders(server)
    answer = server.api("POST", f"/api/reminders/{item['id']}/done")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "done" and answer.json()["done_reason"] == "manual"
    assert answer.json()["done_by"] == "token:test"
    again = server.api("POST", f"/api/reminders/{item['id']}/done")
    assert again.status_code == 200 and again.json()["done_at"] == answer.json()["done_at"]


def test_marking_an_unknown_or_cancelled_follow_up_done_is_refused(server):
    assert server.api("POST", "/api/reminders/999/done").status_code == 404
    ticket(server, "T-1")
    issue(server, "fixed")
    issue(server, "wontfix", FIXED_AT + timedelta(hours=1))
    [item] = reminders(server)
    answer = server.api("POST", f"/api/reminders/{item['id']}/done")
    assert answer.status_code == 409 and answer.json()["error"] == "reminder was cancelled"


def test_the_reminders_api_needs_a_token_and_a_known_state(server):
    assert server.http.get(f"{server.url}/api/reminders").status_code == 401
    answer = server.get("/api/reminders", params={"state": "later"})
    assert answer.status_code == 422 and "state" in answer.json()["error"]


def test_the_reminders_api_pages_with_a_cursor(server):
    for n in range(5):
        ticket(server, f"T-{n}")
    issue(server, "fixed")
    first = server.get("/api/reminders", params={"limit": 3}).json()
    second = server.get("/api/reminders", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    ids = [r["ticket"]["external_id"] for r in first["items"] + second["items"]]
    assert ids == ["T-0", "T-1", "T-2", "T-3", "T-4"] and second["next_cursor"] is None


def test_due_follow_ups_are_claimed_once_and_grouped_per_assignee(server, runtime):
    ticket(server, "T-1", assignee="sam@example.com")
    ticket(server, "T-2", "bo@example.com", assignee="sam@example.com")
    ticket(server, "T-3", assignee="kim@example.com")
    issue(server, "fixed")
    assert run_due_reminders(runtime, FIXED_AT - timedelta(minutes=1)) == 0
    assert run_due_reminders(runtime, FIXED_AT) == 3
    assert run_due_reminders(runtime, FIXED_AT + timedelta(minutes=1)) == 0
    assert {r["assignee_email"] for r in reminders(server, "due")} == {"sam@example.com", "kim@example.com"}
    with session_scope(runtime.sessions) as session:
        batches = {b.assignee_email: len(b.followup_ids) for b in due_batches(session)}
        assert batches == {"kim@example.com": 1, "sam@example.com": 2}
        sam = next(b for b in due_batches(session) if b.assignee_email == "sam@example.com")
        assert mark_notified(session, sam.followup_ids, FIXED_AT) == 2
        assert mark_notified(session, sam.followup_ids, FIXED_AT) == 0
    assert [r["ticket"]["external_id"] for r in reminders(server, "sent")] == ["T-1", "T-2"]


def test_concurrent_sweeps_claim_each_due_follow_up_exactly_once(server, runtime, monkeypatch):
    monkeypatch.setattr(followups, "CLAIM_BATCH", 3)
    for n in range(10):
        ticket(server, f"T-{n}")
    issue(server, "fixed")
    counts: list[int] = []
    threads = [threading.Thread(target=lambda: counts.append(run_due_reminders(runtime, FIXED_AT))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 10
    assert len(reminders(server, "due")) == 10


def test_an_overdue_follow_up_escalates_once(start_server):
    server = start_server(extra={"followups": {"delay_minutes": 0, "escalate_after_minutes": 60}})
    rt = server.app.extensions["helpdesk_retain"]
    ticket(server, "T-1")
    ticket(server, "T-2")
    issue(server, "fixed")
    assert run_due_reminders(rt, FIXED_AT + timedelta(minutes=30)) == 2
    reply(server, "T-2", FIXED_AT + timedelta(minutes=40))
    assert run_due_reminders(rt, FIXED_AT + timedelta(minutes=61)) == 1
    assert run_due_reminders(rt, FIXED_AT + timedelta(hours=5)) == 0
    escalated = {r["ticket"]["external_id"]: r["escalated_at"] for r in reminders(server)}
    assert escalated == {"T-1": "2026-11-22T16:01:00Z", "T-2": None}


def test_escalation_can_be_switched_off(start_server):
    server = start_server(extra={"followups": {"escalate_after_minutes": 0}})
    ticket(server, "T-1")
    issue(server, "fixed")
    rt = server.app.extensions["helpdesk_retain"]
    assert run_due_reminders(rt, FIXED_AT + timedelta(days=30)) == 1
    assert reminders(server)[0]["escalate_at"] is None and reminders(server)[0]["escalated_at"] is None


def test_the_sweep_is_registered_with_the_scheduler():
    assert ("reminders", run_due_reminders) in sweep_jobs()
