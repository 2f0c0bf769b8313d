"""End to end with real parts: a GitHub issue closed through the real webhook endpoint -> follow-up
reminder -> messages -> a real SMTP server (aiosmtpd) and a real HTTP server, with a fixed clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from helpdesk_retain.followups import run_due_reminders
from helpdesk_retain.notify.delivery import run_due_messages
from helpdesk_retain.notify.producers import run_due_notifications
from helpdesk_retain.runtime import Runtime
from helpdesk_retain.tat.sweep import run_due_tat
from helpdesk_retain.testing import GENERIC_TEST_SECRET, HttpSink, LiveServer, SmtpSink, load_fixture

FIXED_AT = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # closed_at of issues_closed__completed (acme/app#123)
ISSUE_URL = "https://github.com/acme/app/issues/123"
GITHUB = {"gh": {"plugin": "github", "secret": "s"}}
CREATED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ALWAYS = {
    "timezone": "UTC",
    "hours": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}
URGENT = {"name": "urgent", "calendar": "always", "targets": {"first_response": 60}, "warn_at": 0.5}


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def http() -> Iterator[HttpSink]:
    sink = HttpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def serve(start_server: Callable[..., LiveServer], smtp: SmtpSink) -> Callable[..., LiveServer]:
    def start(**extra: Any) -> LiveServer:
        return start_server(sources=GITHUB, extra={"smtp": smtp.settings(), **extra})

    return start


def rt_of(server: LiveServer) -> Runtime:
    return server.app.extensions["helpdesk_retain"]


def post_generic(server: LiveServer, kind: str, at: datetime, **payload: Any) -> None:
    body = json.dumps({"event": kind, "occurred_at": at.isoformat(), **payload}).encode()
    answer = server.post_signed("generic", body)
    assert answer.status_code == 202, answer.text


def ticket(
    server: LiveServer, tid: str, customer: str, assignee: str = "sam@example.com", at: datetime = CREATED
) -> None:
    fields = {
        "id": tid,
        "subject": f"Charged twice ({tid})",
        "description": f"Looks like {ISSUE_URL}",
        "url": f"https://support.example.com/tickets/{tid}",
        "requester": {"email": customer},
        "assignee": {"email": assignee},
        "updated_at": at.isoformat(),
    }
    post_generic(server, "ticket.created", at, ticket=fields)


def github(server: LiveServer, fixture: str) -> None:
    body = load_fixture("github", fixture)
    answer = server.post("gh", body, server.integration("gh").sign(body, event="issues"))
    assert answer.status_code == 202, answer.text


def sweep(server: LiveServer, now: datetime) -> None:
    """What one scheduler tick does for follow-ups, with a fixed clock."""
    rt = rt_of(server)
    run_due_reminders(rt, now)
    run_due_notifications(rt, now)
    run_due_messages(rt, now)


def messages(server: LiveServer, **params: str) -> list[dict[str, Any]]:
    answer = server.get("/api/messages", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_a_github_issue_closed_as_completed_reminds_each_agent_once_by_mail_with_the_ticket_links(serve, smtp):
    server = serve()
    ticket(server, "T-1", "ana@example.com")
    ticket(server, "T-2", "bo@example.com")
    ticket(server, "T-3", "cy@example.com", assignee="kim@example.com")
    github(server, "issues_closed__completed")
    sweep(server, FIXED_AT + timedelta(minutes=1))
    sweep(server, FIXED_AT + timedelta(minutes=2))
    mails = {m.rcpt_tos[0]: m.message for m in smtp.received}
    assert sorted(mails) == ["kim@example.com", "sam@example.com"]  # one reminder per agent
    sam = mails["sam@example.com"]
    assert sam["Subject"] == "Follow up: 2 customers can hear their bug is fixed"
    text, html = sam.get_body(("plain",)).get_content(), sam.get_body(("html",)).get_content()
    for tid, customer in (("T-1", "ana@example.com"), ("T-2", "bo@example.com")):
        assert f"https://support.example.com/tickets/{tid}" in text and customer in text
        assert f'href="https://support.example.com/tickets/{tid}"' in html
    assert ISSUE_URL in text and "Duplicate charge on payment retry" in text
    assert "T-1" not in mails["kim@example.com"].get_body(("plain",)).get_content()
    reminders = server.get("/api/reminders").json()["items"]
    assert {r["state"] for r in reminders} == {"sent"}
    assert [(m["channel"], m["state"], m["kind"]) for m in messages(server)] == [
        ("email", "sent", "followup.reminder")
    ] * 2


def test_slack_and_webhook_channels_receive_the_same_reminder(serve, smtp, http):
    channels = {
        "email": {"plugin": "email"},
        "slack": {"plugin": "slack", "url": f"{http.url}/slack"},
        "hooks": {"plugin": "webhook", "url": f"{http.url}/hook", "secret": GENERIC_TEST_SECRET},
    }
    server = serve(notify={"channels": channels, "default_channels": ["email", "slack", "hooks"]})
    ticket(server, "T-1", "ana@example.com")
    github(server, "issues_closed__completed")
    sweep(server, FIXED_AT + timedelta(minutes=1))
    assert len(smtp.received) == 1
    by_path = {r.path: r for r in http.requests}
    assert sorted(by_path) == ["/hook", "/slack"]
    slack = by_path["/slack"].json()
    assert "<https://support.example.com/tickets/T-1|generic #T-1: Charged twice (T-1)>" in json.dumps(slack["blocks"])
    hook = by_path["/hook"]
    payload = Webhook(GENERIC_TEST_SECRET).verify(hook.body, hook.headers)
    assert payload["type"] == "followup.reminder" and payload["data"]["assignee"] == "sam@example.com"
    [followup] = payload["data"]["followups"]
    assert followup["ticket"]["url"] == "https://support.example.com/tickets/T-1"
    assert followup["issue"] == {"tracker": "github", "issue": "acme/app#123", "url": ISSUE_URL,
                                 "title": "Duplicate charge on payment retry"}  # fmt: skip


def test_the_smtp_server_down_is_retried_and_the_reminder_delivered_once_it_is_back(serve, smtp):
    server = serve(notify={"backoff_seconds": 60})
    ticket(server, "T-1", "ana@example.com")
    github(server, "issues_closed__completed")
    smtp.stop()
    sweep(server, FIXED_AT)
    [pending] = messages(server)
    assert (pending["state"], pending["attempts"]) == ("pending", 1) and "Connection" in pending["last_error"]
    retry_at = datetime.fromisoformat(pending["next_attempt_at"])
    assert FIXED_AT + timedelta(seconds=30) <= retry_at <= FIXED_AT + timedelta(seconds=61)
    smtp.start()
    sweep(server, retry_at - timedelta(seconds=1))
    assert smtp.received == []  # not before its backoff
    sweep(server, retry_at)
    sweep(server, retry_at + timedelta(hours=1))
    assert len(smtp.received) == 1
    assert [(m["state"], m["attempts"], m["last_error"]) for m in messages(server)] == [("sent", 2, None)]


def test_a_550_fails_the_reminder_visibly_without_retrying_until_an_operator_retries_it(serve, smtp):
    server = serve()
    ticket(server, "T-1", "ana@example.com")
    github(server, "issues_closed__completed")
    smtp.reject = (550, "5.1.1 <sam@example.com>: Recipient address rejected")
    sweep(server, FIXED_AT)
    sweep(server, FIXED_AT + timedelta(days=2))
    [failed] = messages(server, state="failed")
    assert failed["attempts"] == 1 and failed["last_error"].startswith("SMTP 550 5.1.1")
    assert 'helpdesk_retain_messages_total{channel="email",outcome="failed"} 1.0' in server.get("/metrics").text
    smtp.reject = None
    answer = server.api("POST", f"/api/messages/{failed['id']}/retry")
    assert answer.status_code == 200 and answer.json()["state"] == "pending"
    run_due_messages(rt_of(server), datetime.now(UTC))
    assert len(smtp.received) == 1 and messages(server)[0]["state"] == "sent"
    again = server.api("POST", f"/api/messages/{failed['id']}/retry")
    assert again.status_code == 409 and again.json()["error"] == "message is sent, not failed"
    assert server.api("POST", "/api/messages/999/retry").status_code == 404


def test_an_overdue_follow_up_escalates_once_to_the_team_lead(serve, smtp):
    teams = {"billing": {"members": ["sam@example.com"], "lead": "lead@example.com"}}
    server = serve(followups={"escalate_after_minutes": 60}, notify={"teams": teams})
    ticket(server, "T-1", "ana@example.com")
    ticket(server, "T-2", "bo@example.com")
    github(server, "issues_closed__completed")
    sweep(server, FIXED_AT + timedelta(minutes=1))
    reply = {
        "id": "C-9",
        "body": "Fixed now!",
        "public": True,
        "author_role": "agent",
        "created_at": "2026-11-22T15:30Z",
    }
    post_generic(server, "comment.created", FIXED_AT + timedelta(minutes=30), ticket={"id": "T-2"}, comment=reply)
    sweep(server, FIXED_AT + timedelta(minutes=61))
    sweep(server, FIXED_AT + timedelta(hours=5))
    assert [m.rcpt_tos[0] for m in smtp.received] == ["sam@example.com", "lead@example.com"]
    escalation = smtp.received[1].message
    assert escalation["Subject"] == "Overdue follow-ups: 1 customer not told their bug is fixed"
    text = escalation.get_body(("plain",)).get_content()
    assert "https://support.example.com/tickets/T-1" in text and "Assignee: sam@example.com" in text
    assert "T-2" not in text  # the agent replied: done, not overdue


def test_a_reopen_before_the_due_time_cancels_the_reminder(serve, smtp):
    server = serve(followups={"delay_minutes": 5 * 24 * 60})
    ticket(server, "T-1", "ana@example.com")
    github(server, "issues_closed__completed")
    github(server, "issues_reopened__full")
    sweep(server, FIXED_AT + timedelta(days=6))
    assert smtp.received == [] and messages(server) == []


def test_an_agent_reply_before_the_due_time_means_no_reminder(serve, smtp):
    server = serve(followups={"delay_minutes": 120})
    ticket(server, "T-1", "ana@example.com")
    github(server, "issues_closed__completed")
    reply = {"id": "C-1", "body": "Fixed!", "public": True, "author_role": "agent", "created_at": "2026-11-22T16:00Z"}
    post_generic(server, "comment.created", FIXED_AT + timedelta(hours=1), ticket={"id": "T-1"}, comment=reply)
    sweep(server, FIXED_AT + timedelta(days=1))
    assert smtp.received == []


def test_a_tat_warning_and_then_the_breach_are_mailed_to_the_assignee_once_each(serve, smtp):
    server = serve(calendars={"always": ALWAYS}, tat={"policies": [URGENT]})
    # TAT clocks are computed at ingest against the real clock: the ticket is created "now"
    created = datetime.now(UTC).replace(second=0, microsecond=0)
    ticket(server, "T-1", "ana@example.com", at=created)
    rt = rt_of(server)
    for minutes in (31, 61, 90):  # the warning (at 30), the breach (at 60), nothing new
        now = created + timedelta(minutes=minutes)
        run_due_tat(rt, now)
        run_due_notifications(rt, now)
        run_due_messages(rt, now)
    assert [m.message["Subject"] for m in smtp.received] == ["TAT: 1 warning", "TAT: 1 breach"]
    assert {m.rcpt_tos[0] for m in smtp.received} == {"sam@example.com"}
    text = smtp.received[1].message.get_body(("plain",)).get_content()
    breached_at = (created + timedelta(minutes=60)).strftime("%Y-%m-%d %H:%M UTC")
    assert "Breached: first response target of policy 'urgent'" in text and f"At: {breached_at}" in text


def test_old_tat_records_and_warnings_of_stopped_clocks_are_not_sent(serve, smtp):
    server = serve(calendars={"always": ALWAYS}, tat={"policies": [URGENT]}, notify={"tat_max_age_minutes": 120})
    created = datetime.now(UTC).replace(second=0, microsecond=0)
    ticket(server, "T-1", "ana@example.com", at=created)
    ticket(server, "T-2", "bo@example.com", at=created - timedelta(minutes=5))
    rt = rt_of(server)
    run_due_tat(rt, created + timedelta(minutes=61))  # warning and breach of both recorded in one sweep
    run_due_notifications(rt, created + timedelta(minutes=61))
    run_due_messages(rt, created + timedelta(minutes=61))
    [mail] = smtp.received  # the warnings are moot: their clocks breached since
    assert mail.message["Subject"] == "TAT: 2 breaches"
    later = created + timedelta(days=1)
    ticket(server, "T-3", "cy@example.com", at=created + timedelta(minutes=10))
    run_due_tat(rt, later)
    run_due_notifications(rt, later)  # seen a day after it happened: too old to be worth a message
    run_due_messages(rt, later)
    assert len(smtp.received) == 1


def test_the_messages_api_needs_a_token_and_a_known_state(serve):
    server = serve()
    assert server.http.get(f"{server.url}/api/messages", timeout=10).status_code == 401
    bad = server.get("/api/messages", params={"state": "lost"})
    assert bad.status_code == 422 and bad.json()["error"].startswith("invalid state")
    spec = server.get("/openapi.json").json()
    assert "get" in spec["paths"]["/api/messages"] and "post" in spec["paths"]["/api/messages/{id}/retry"]
