"""What reminders, escalations and TAT alerts say, on every channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from helpdesk_retain.notify import render
from helpdesk_retain.testing import load_fixture_json

FIXED = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)


def item(n: int, external_id: str, subject: str, email: str, name: str | None) -> render.FollowUpItem:
    ticket = render.TicketRef(
        "zendesk", external_id, None, subject, f"https://acme.zendesk.com/agent/tickets/{external_id}"
    )
    return render.FollowUpItem(
        n, ticket, "sam@example.com", email, name, "github", "acme/app#123", "Duplicate charge on payment retry",
        "https://github.com/acme/app/issues/123", FIXED, DUE,
    )  # fmt: skip


ITEMS = [
    item(41, "35436", "Charged twice after payment retry", "ana@example.com", "Ana Silva"),
    item(42, "35502", "Card declined <twice> & charged", "bo@example.com", None),
]


def test_a_reminder_renders_as_the_stored_fixture():
    notice = render.reminder_notice("sam@example.com", ITEMS)
    stored = load_fixture_json("email", "followup_reminder__two_tickets")
    assert (notice.kind, notice.subject) == (stored["kind"], stored["subject"])
    assert {"text": notice.text, "html": notice.html, "blocks": notice.blocks, "data": notice.data} == stored["payload"]


def test_one_follow_up_names_the_customer_and_the_issue_in_the_subject():
    notice = render.reminder_notice("sam@example.com", ITEMS[:1])
    assert notice.subject == "Follow up: tell Ana Silva <ana@example.com> that acme/app#123 is fixed"


def test_ticket_text_is_escaped_for_html_and_slack_but_not_plain_text():
    notice = render.reminder_notice("sam@example.com", ITEMS)
    assert "Card declined <twice> & charged" in notice.text
    assert "Card declined &lt;twice&gt; &amp; charged" in notice.html
    assert "Card declined &lt;twice&gt; &amp; charged>*" in notice.blocks[3]["text"]["text"]


def test_a_link_that_is_not_http_is_shown_as_text_only():
    ticket = render.TicketRef("generic", "T-1", None, "Hi", "javascript:alert(1)")
    notice = render.reminder_notice(None, [replace(ITEMS[0], ticket=ticket, assignee=None)])
    assert "javascript:" not in notice.html and "javascript:" not in str(notice.blocks)
    assert notice.text.startswith("Hello,\n")


def test_an_escalation_lists_each_overdue_follow_up_with_its_assignee():
    notice = render.escalation_notice("lead@example.com", ITEMS)
    assert notice.subject == "Overdue follow-ups: 2 customers not told their bug is fixed"
    assert notice.text.count("Assignee: sam@example.com") == 2 and "Due since: 2026-11-22 16:30 UTC" in notice.text
    assert notice.data["type"] == "followup.escalation" and notice.data["lead"] == "lead@example.com"


def test_a_tat_alert_counts_breaches_and_warnings():
    ticket = ITEMS[0].ticket
    items = [
        render.TatItem(1, "breach", "first_response", "urgent", FIXED, ticket, "sam@example.com"),
        render.TatItem(2, "warning", "resolution", "urgent", FIXED, ticket, "sam@example.com"),
        render.TatItem(3, "warning", "next_response", "standard", DUE, ticket, "sam@example.com"),
    ]
    notice = render.tat_notice("sam@example.com", items)
    assert notice.subject == "TAT: 1 breach and 2 warnings"
    assert "Breached: first response target of policy 'urgent'" in notice.text
    assert [e["kind"] for e in notice.data["events"]] == ["breach", "warning", "warning"]
