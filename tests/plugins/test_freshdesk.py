"""The Freshdesk plugin through the real webhook endpoint, with fixtures sent as Freshdesk sends them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Delivery, Ticket, TicketLog
from helpdesk_retain.plugins.freshdesk.integration import (
    EVENT_PARSERS,
    SECRET_HEADER,
    FreshdeskIntegration,
    parse_triggered_event,
)
from helpdesk_retain.testing import LiveServer, fixture_names, load_fixture

SECRET = "fd-webhook-secret-4c1e0b7a"
SOURCE = {"plugin": "freshdesk", "secret": SECRET, "link_fields": ["bug_link"]}
ADA = {"email": "ada@example.com", "name": "Ada Lovelace"}

#: fixture -> (ticket id, fields shown by the API, fields of the stored row, comments in the log)
TICKETS: dict[str, tuple[str, dict[str, Any], dict[str, Any], list[tuple[str, bool, str]]]] = {
    "ticket_created__minimal": ("11", {"status": "new", "subject": None, "customer": None}, {"display_id": "11"}, []),
    "ticket_created__full": (
        "12",
        {
            "subject": "Refund request",
            "status": "open",
            "priority": "high",
            "channel": "email",
            "type": "refund",
            "tags": ["billing", "refund request"],
            "customer": ADA,
            "assignee_email": "sam@support.example.com",
            "created_at": "2026-11-20T09:12:00",
        },
        {
            "description": "Please refund my last invoice. This is the second time the export failed, see "
            "[the bug](https://github.com/acme/app/issues/123).",
            "url": "https://acme.freshdesk.com/helpdesk/tickets/12",
            "custom_fields": {"bug_link": "APP-12", "save_amount": ""},
        },
        [],
    ),
    "ticket_created__chinese": (
        "13",
        {
            "subject": "无法导出数据 ☃",
            "status": "open",
            "priority": "urgent",
            "channel": "web",
            "type": "question",
            "tags": ["导出"],
            "customer": {"email": "zhang.wei@example.cn", "name": "张伟"},
        },
        {"description": "你好，导出功能已经坏了一周。我们正在考虑换到别的产品，请尽快回复。"},
        [],
    ),
    "status_changed__custom_status": ("12", {"status": "pending", "priority": "low", "type": "refund"}, {}, []),
    "status_changed__names_only": (
        "12",
        {"status": "solved", "customer": {"email": "ada@example.com", "name": None}},
        {},
        [],
    ),
    "priority_changed__urgent": ("12", {"status": "pending", "priority": "urgent", "customer": ADA}, {}, []),
    # a Spanish account: names this plugin does not know, beside the built-in numbers of triggered_event
    "status_changed__localized": (
        "40",
        {"status": "solved", "priority": None, "subject": "Cobro duplicado"},
        {"type": "reembolso"},
        [],
    ),
    "priority_changed__localized": (
        "40",
        {"priority": "high", "customer": {"email": "lucia@example.es", "name": "Lucía Fernández"}},
        {},
        [],
    ),
    "note_created__public": (
        "12",
        {"status": "pending", "assignee_email": "sam@support.example.com"},
        {},
        [("agent", True, "Hi Ada, the refund was issued today & should arrive in 3–5 days.")],
    ),
    "note_created__private": (
        "11",
        {"status": "open", "priority": "normal", "type": "incident"},
        {},
        [("agent", False, "")],
    ),
    "ticket_updated__snapshot": (
        "12",
        {
            "status": "solved",
            "tags": ["billing", "refund request", "saved"],
            "channel": "email",
            "updated_at": "2026-11-21T10:00:00",
        },
        {
            "custom_fields": {
                "save_amount": "49.00",
                "save_currency": "USD",
                "bug_link": "https://github.com/acme/app/issues/123",
            }
        },
        [],
    ),
    "customer_replied__cancel": (
        "12",
        {"status": "open", "customer": ADA},
        {},
        [
            (
                "customer",
                True,
                "Third time asking. If this is not fixed today I will cancel my subscription and export all my data.",
            )
        ],
    ),
    "agent_replied__public": (
        "13",
        {"status": "pending", "priority": "urgent"},
        {},
        [("agent", True, "您好，导出问题已修复（APP-12）。如有问题请随时回复。")],
    ),
}


@pytest.fixture
def freshdesk(start_server) -> LiveServer:  # noqa: ANN001
    return start_server(sources={"freshdesk": SOURCE})


def count(server: LiveServer, model: type) -> int:
    with session_scope(server.app.extensions["helpdesk_retain"].sessions) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def stored(server: LiveServer, external_id: str) -> tuple[Ticket, list[tuple[str, bool, str]]]:
    """The ticket row and its comments as (role, public, body), oldest first."""
    with session_scope(server.app.extensions["helpdesk_retain"].sessions) as session:
        stmt = select(Ticket).where(Ticket.source == "freshdesk", Ticket.external_id == external_id)
        ticket = session.execute(stmt).scalar_one()
        log = select(TicketLog).where(TicketLog.ticket_id == ticket.id, TicketLog.kind == "comment")
        rows = session.execute(log.order_by(TicketLog.at, TicketLog.id)).scalars().all()
        session.expunge(ticket)
        return ticket, [(r.author_role, r.public, r.body) for r in rows]


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def webhook(**fields: Any) -> bytes:
    return json.dumps({"freshdesk_webhook": fields}).encode()


def test_every_fixture_has_an_expectation_and_every_event_kind_a_fixture():
    assert set(fixture_names("freshdesk")) == set(TICKETS)
    prefixes = {name.split("__")[0] for name in fixture_names("freshdesk")}
    assert {kind.replace(".", "_") for kind in EVENT_PARSERS} <= prefixes
    assert FreshdeskIntegration.event_kinds == frozenset(EVENT_PARSERS)


@pytest.mark.parametrize("name", sorted(TICKETS))
def test_each_fixture_is_stored_as_the_ticket_it_describes(freshdesk, name):
    answer = freshdesk.post_signed("freshdesk", load_fixture("freshdesk", name))
    assert answer.status_code == 202, answer.text
    external_id, shown, row_fields, comments = TICKETS[name]
    ticket = freshdesk.ticket("freshdesk", external_id)
    for key, value in shown.items():
        assert ticket[key].startswith(value) if key.endswith("_at") else ticket[key] == value, key
    row, logged = stored(freshdesk, external_id)
    assert {key: getattr(row, key) for key in row_fields} == row_fields
    assert logged == comments


@pytest.mark.parametrize(
    "headers",
    [
        basic("freshdesk", SECRET),  # "Requires authentication": the secret as the password
        basic(SECRET, "X"),  # "API key" mode: the key travels as the user name
        {SECRET_HEADER: SECRET},  # a custom header
    ],
)
def test_the_secret_is_accepted_as_basic_password_user_name_or_header(freshdesk, headers):
    answer = freshdesk.post("freshdesk", load_fixture("freshdesk", "ticket_created__full"), headers)
    assert answer.status_code == 202
    assert freshdesk.ticket("freshdesk", "12")["subject"] == "Refund request"


@pytest.mark.parametrize(
    "headers",
    [
        basic("freshdesk", "not-the-secret"),
        {SECRET_HEADER: SECRET[:-1]},
        {"Authorization": f"Bearer {SECRET}"},
        {"Content-Type": "application/json"},
    ],
    ids=["wrong-password", "wrong-header", "bearer", "no-credentials"],
)
def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_stored(freshdesk, headers):
    answer = freshdesk.post("freshdesk", load_fixture("freshdesk", "ticket_created__full"), headers)
    assert answer.status_code == 401
    assert count(freshdesk, Delivery) == 0 and count(freshdesk, Ticket) == 0


def test_a_body_labelled_as_form_data_is_still_parsed_as_json(freshdesk):
    headers = {**basic("freshdesk", SECRET), "Content-Type": "application/x-www-form-urlencoded"}
    answer = freshdesk.post("freshdesk", load_fixture("freshdesk", "ticket_created__chinese"), headers)
    assert answer.status_code == 202
    assert freshdesk.ticket("freshdesk", "13")["priority"] == "urgent"


def test_the_secret_is_not_kept_with_a_dead_letter(freshdesk):
    answer = freshdesk.post("freshdesk", webhook(ticket_subject="no id"), {SECRET_HEADER: SECRET})
    with session_scope(freshdesk.app.extensions["helpdesk_retain"].sessions) as session:
        headers = session.get(Delivery, answer.json()["dead_letter_id"]).headers
    assert SECRET not in json.dumps(headers)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (webhook(triggered_event="{ticket_action:created}", ticket_subject="no id"), "ticket_id"),
        (webhook(event="customer.replied", ticket_id="12"), "ticket_latest_public_comment"),
        (b'["not", "an", "object"]', "body"),
    ],
)
def test_a_missing_or_bad_field_is_a_dead_letter_naming_it(freshdesk, body, field):
    answer = freshdesk.post_signed("freshdesk", body)
    assert answer.status_code == 422 and field in answer.json()["error"]
    with session_scope(freshdesk.app.extensions["helpdesk_retain"].sessions) as session:
        dead = session.get(Delivery, answer.json()["dead_letter_id"])
        assert dead.state == "dead" and field in dead.error
    assert count(freshdesk, Ticket) == 0


@pytest.mark.parametrize("event", ["{unknown_event:{from:3,to:1}}", "{ticket_action:deleted}", "not even braces"])
def test_a_triggered_event_it_does_not_handle_is_ignored(freshdesk, event):
    answer = freshdesk.post_signed("freshdesk", webhook(triggered_event=event, ticket_id="11"))
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert count(freshdesk, Delivery) == 0 and count(freshdesk, Ticket) == 0


def test_the_delivery_id_is_ticket_kind_and_updated_time_or_body_hash(freshdesk):
    full = freshdesk.post_signed("freshdesk", load_fixture("freshdesk", "ticket_created__full")).json()
    assert full["delivery_id"] == "12:ticket.created:2026-11-20T09:12:00+00:00"
    minimal = freshdesk.post_signed("freshdesk", load_fixture("freshdesk", "ticket_created__minimal")).json()
    assert minimal["delivery_id"].startswith("11:ticket.created:sha256-")


def test_a_redelivered_body_is_a_duplicate_and_changes_nothing(freshdesk):
    body = load_fixture("freshdesk", "note_created__public")
    first, second = (freshdesk.post_signed("freshdesk", body) for _ in range(2))
    assert (first.status_code, second.status_code) == (202, 200) and second.json()["status"] == "duplicate"
    assert len(stored(freshdesk, "12")[1]) == 1


def test_the_same_reply_in_a_different_body_is_logged_once(freshdesk):
    reply = json.loads(load_fixture("freshdesk", "customer_replied__cancel"))
    freshdesk.post_signed("freshdesk", json.dumps(reply).encode())
    reply["freshdesk_webhook"]["ticket_status"] = "Pending"  # e.g. a second rule with the same reply
    freshdesk.post_signed("freshdesk", json.dumps(reply).encode())
    ticket, comments = stored(freshdesk, "12")
    assert ticket.status == "pending" and [c[0] for c in comments] == ["customer"]


def test_custom_statuses_are_mapped_by_name_or_number(start_server):
    server = start_server(
        sources={"freshdesk": {**SOURCE, "custom_statuses": {"Waiting on Customer": "on_hold", "7": "solved"}}}
    )
    server.post_signed("freshdesk", load_fixture("freshdesk", "status_changed__custom_status"))
    assert server.ticket("freshdesk", "12")["status"] == "on_hold"
    server.post_signed("freshdesk", webhook(triggered_event="{status:{from:2,to:7}}", ticket_id="20"))
    assert server.ticket("freshdesk", "20")["status"] == "solved"
    server.post_signed("freshdesk", webhook(triggered_event="{status:{from:2,to:8}}", ticket_id="21"))
    assert server.ticket("freshdesk", "21")["status"] == "pending"  # default_custom_status


def test_triggered_event_forms_are_parsed():
    assert parse_triggered_event("{ticket_action:created}") == ("ticket_action", "created")
    assert parse_triggered_event("{status:{from:4,to:6}}") == ("status", ("4", "6"))
    assert parse_triggered_event(" {status:{from:Open,to:Pending}} ") == ("status", ("Open", "Pending"))
    assert parse_triggered_event("{note_type:private}") == ("note_type", "private")
    assert parse_triggered_event('{"status": 2}') is None


def test_tracker_references_in_link_fields_become_links():
    integration = FreshdeskIntegration(FreshdeskIntegration.Config.model_validate(SOURCE))
    assert integration.parse({}, load_fixture("freshdesk", "ticket_created__full"))[0].links == ("APP-12",)
    snapshot = integration.parse({}, load_fixture("freshdesk", "ticket_updated__snapshot"))[0]
    assert snapshot.links == ("https://github.com/acme/app/issues/123",)


def test_a_known_status_name_wins_and_an_unknown_one_gives_way_to_a_built_in_number(freshdesk):
    cases = {
        "50": ("{status:{from:2,to:4}}", "Resuelto", "solved"),  # unknown name, built-in number
        "51": ("{status:{from:2,to:5}}", "Cerrado", "closed"),
        "52": ("{status:{from:4,to:3}}", "Pending", "pending"),  # a known name wins
        "53": ("{status:{from:2,to:6}}", "Esperando al cliente", "pending"),  # custom number: default_custom_status
        "54": ("{note_type:public}", "Resuelto", "pending"),  # no number to fall back on
    }
    for ticket_id, (event, name, _) in cases.items():
        answer = freshdesk.post_signed(
            "freshdesk", webhook(triggered_event=event, ticket_id=ticket_id, ticket_status=name)
        )
        assert answer.status_code == 202, answer.text
    assert {i: freshdesk.ticket("freshdesk", i)["status"] for i in cases} == {i: c[2] for i, c in cases.items()}


def test_a_configured_name_still_wins_over_the_number(start_server):
    server = start_server(sources={"freshdesk": {**SOURCE, "custom_statuses": {"Resuelto": "closed"}}})
    server.post_signed(
        "freshdesk", webhook(triggered_event="{status:{from:2,to:4}}", ticket_id="55", ticket_status="Resuelto")
    )
    assert server.ticket("freshdesk", "55")["status"] == "closed"


@pytest.mark.parametrize(
    ("event", "name", "expected"),
    [
        ("{priority:{from:1,to:4}}", "Urgente", "urgent"),  # unknown name: the built-in number
        ("{priority:{from:4,to:2}}", "Media", "normal"),
        ("{priority:{from:1,to:4}}", "Low", "low"),  # a known name wins
        ("{status:{from:2,to:3}}", "Baja", None),  # no priority number: left unset
        (None, "Critical", None),
        ("{priority:{from:1,to:9}}", "Crítica", None),
    ],
)
def test_an_unknown_priority_name_uses_the_built_in_number_or_stays_unset(freshdesk, event, name, expected):
    fields = {"ticket_id": "60", "ticket_priority": name, **({"triggered_event": event} if event else {})}
    answer = freshdesk.post_signed("freshdesk", webhook(**fields))
    assert answer.status_code == 202, answer.text
    assert freshdesk.ticket("freshdesk", "60")["priority"] == expected


def test_an_unknown_priority_name_does_not_clear_a_stored_priority(freshdesk):
    freshdesk.post_signed("freshdesk", load_fixture("freshdesk", "ticket_created__full"))
    later = webhook(
        ticket_id="12", ticket_priority="Critical", ticket_status="Pending", ticket_updated_at="2026-11-21T10:00:00Z"
    )
    answer = freshdesk.post_signed("freshdesk", later)
    assert answer.status_code == 202 and answer.json()["status"] == "accepted"
    ticket = freshdesk.ticket("freshdesk", "12")
    assert (ticket["status"], ticket["priority"]) == ("pending", "high")  # the update applied, the priority kept
