"""The Zendesk plugin through the real webhook endpoint, with fixtures signed as Zendesk signs them."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Customer, Delivery, Ticket, TicketLog
from helpdesk_retain.plugins.zendesk.integration import (
    EVENT_PARSERS,
    INVOCATION,
    SIGNATURE,
    TEST_SECRET,
    TIMESTAMP,
    ZendeskIntegration,
    zendesk_signature,
)
from helpdesk_retain.testing import LiveServer, fixture_names, load_fixture

SECRET = "zd-signing-secret-9f2c41"
SOURCE = {
    "plugin": "zendesk",
    "secret": SECRET,
    "subdomain": "acme",
    "field_names": {"360001": "bug_link", "360002": "save_amount"},
    "link_fields": ["bug_link"],
}
ANA = {"email": "ana@example.com", "name": "Ana Lima"}
NO_EMAIL = {"email": None, "name": None}  # event subscriptions carry only the requester's user id

#: fixture -> (ticket id, fields shown by the API, fields of the stored row, comments in the log)
TICKETS: dict[str, tuple[str, dict[str, Any], dict[str, Any], list[tuple[str, bool, str]]]] = {
    "ticket_created__trigger_nested": (
        "35436",
        {
            "subject": "Charged twice for November",
            "status": "new",
            "priority": "high",
            "channel": "email",
            "type": "problem",
            "tags": ["billing", "vip"],
            "customer": ANA,
            "assignee_email": "sam@support.example.com",
            "created_at": "2026-11-20T09:12:00",
        },
        {
            "description": "Hi, I was charged twice this month. Please refund the duplicate charge.",
            "url": "https://acme.zendesk.com/agent/tickets/35436",
            "display_id": "35436",
            "custom_fields": {"bug_link": "https://github.com/acme/app/issues/123", "save_amount": ""},
        },
        [],
    ),
    "ticket_created__trigger_chinese": (
        "35501",
        {
            "subject": "账单问题：重复扣费",
            "status": "open",
            "priority": "urgent",
            "channel": "web",
            "type": "question",
            "tags": ["账单", "退款"],
            "customer": {"email": "wang.li@example.cn", "name": "王丽"},
            "assignee_email": None,
        },
        {"description": "你好，我这个月被扣了两次钱，非常失望。請儘快處理退款，否则我要取消订阅。"},
        [],
    ),
    "ticket_updated__trigger_flat": (
        "35436",
        {
            "status": "open",
            "priority": "urgent",
            "channel": "web",
            "tags": ["billing", "vip", "cancel_request"],
            "customer": ANA,
            "updated_at": "2026-11-20T10:05:00",
        },
        {"custom_fields": {"bug_link": "APP-12, APP-13", "save_amount": "49.00"}},
        [("customer", True, "This is the third time I write. I want to cancel my subscription.")],
    ),
    "ticket_updated__trigger_internal_note": (
        "35436",
        {"status": "on_hold", "priority": "high", "assignee_email": "sam@support.example.com"},
        {},
        [("agent", False, "Payment provider retried the charge. Escalating to billing, see APP-12.")],
    ),
    "ticket_updated__legacy_underscore": (
        "7",
        {
            "subject": "Hello world",
            "status": "open",
            "priority": "normal",
            "type": "incident",
            "tags": ["change_address", "help", "order"],
            "customer": None,
        },
        {"description": "I am writing this to create a ticket.", "url": "https://asdf1640.zendesk.com/agent/tickets/7"},
        [],
    ),
    "ticket_created__event_minimal": (
        "35436",
        {"status": "open", "channel": "web", "customer": None, "created_at": "2026-11-20T09:12:00"},
        {"url": "https://acme.zendesk.com/agent/tickets/35436"},
        [],
    ),
    "ticket_comment_added__customer_chinese": (
        "35501",
        {
            "subject": "账单问题：重复扣费",
            "status": "open",
            "priority": "urgent",
            "type": "question",
            "channel": "email",
            "tags": ["账单", "退款"],
            "customer": NO_EMAIL,
        },
        {"description": "你好，我这个月被扣了两次钱。"},
        [("customer", True, "已经三天了还没有人回复，我要取消账户并导出我的数据。")],
    ),
    "ticket_comment_added__agent_internal": (
        "35436",
        {"status": "pending", "channel": "api", "type": "problem"},
        {},
        [("agent", False, "Payment provider retried the charge; see https://github.com/acme/app/issues/123")],
    ),
    "ticket_status_changed__solved": ("35436", {"status": "solved", "priority": "high"}, {}, []),
    "ticket_priority_changed__urgent": ("35436", {"status": "open", "priority": "urgent"}, {}, []),
    "ticket_tags_changed__saved": ("35436", {"status": "solved", "tags": ["billing", "vip", "saved"]}, {}, []),
    "ticket_subject_changed__renamed": ("35436", {"subject": "Duplicate charge on card renewal"}, {}, []),
    "ticket_type_changed__incident": ("35436", {"type": "incident"}, {}, []),
    "ticket_custom_field_changed__bug_link": (
        "35436",
        {"status": "open"},
        {"custom_fields": {"bug_link": "https://github.com/acme/app/issues/123"}},
        [],
    ),
    "ticket_marked_as_spam__spam": ("35600", {"status": "closed", "subject": "Cheap watches"}, {}, []),
    "ticket_soft_deleted__deleted": ("35601", {"status": "closed"}, {}, []),
    "ticket_merged__into_other_ticket": ("35602", {"status": "closed", "subject": "Refund for double charge?"}, {}, []),
    "ticket_permanently_deleted__purged": ("35601", {"status": "closed", "subject": None, "customer": None}, {}, []),
    "ticket_agent_assignment_changed__reassigned": (
        "35436",
        {"status": "open", "priority": "high", "updated_at": "2026-11-20T12:10:00"},
        {"description": "Hi, I was charged twice this month."},
        [],
    ),
    "ticket_custom_status_changed__waiting_on_vendor": ("35436", {"status": "on_hold", "priority": "high"}, {}, []),
    "ticket_description_changed__edited": (
        "35436",
        {"status": "open"},
        {
            "description": "Hi, I was charged twice this month (invoice INV-2026-11). Please refund the duplicate "
            "charge."
        },
        [],
    ),
}
CUSTOMERS = {"user_created__end_user": ("ana@example.com", "901")}


@pytest.fixture
def zendesk(start_server) -> LiveServer:  # noqa: ANN001
    return start_server(sources={"zendesk": SOURCE})


def count(server: LiveServer, model: type) -> int:
    with session_scope(server.app.extensions["helpdesk_retain"].sessions) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def stored(server: LiveServer, external_id: str) -> tuple[Ticket, list[tuple[str, bool, str]]]:
    """The ticket row and its comments as (role, public, body), oldest first."""
    with session_scope(server.app.extensions["helpdesk_retain"].sessions) as session:
        stmt = select(Ticket).where(Ticket.source == "zendesk", Ticket.external_id == external_id)
        ticket = session.execute(stmt).scalar_one()
        log = select(TicketLog).where(TicketLog.ticket_id == ticket.id, TicketLog.kind == "comment")
        rows = session.execute(log.order_by(TicketLog.at, TicketLog.id)).scalars().all()
        session.expunge(ticket)
        return ticket, [(r.author_role, r.public, r.body) for r in rows]


def trigger(**ticket: str) -> bytes:
    return json.dumps({"event": "ticket.updated", "ticket": ticket}).encode()


def test_every_fixture_has_an_expectation_and_every_event_kind_a_fixture():
    assert set(fixture_names("zendesk")) == set(TICKETS) | set(CUSTOMERS)
    prefixes = {name.split("__")[0] for name in fixture_names("zendesk")}
    assert {kind.replace(".", "_") for kind in EVENT_PARSERS} <= prefixes
    assert ZendeskIntegration.event_kinds == frozenset(EVENT_PARSERS)


@pytest.mark.parametrize("name", sorted(TICKETS))
def test_each_fixture_is_stored_as_the_ticket_it_describes(zendesk, name):
    answer = zendesk.post_signed("zendesk", load_fixture("zendesk", name))
    assert answer.status_code == 202, answer.text
    external_id, shown, row_fields, comments = TICKETS[name]
    ticket = zendesk.ticket("zendesk", external_id)
    for key, value in shown.items():
        assert ticket[key].startswith(value) if key.endswith("_at") else ticket[key] == value, key
    row, logged = stored(zendesk, external_id)
    assert {key: getattr(row, key) for key in row_fields} == row_fields
    assert logged == comments


def test_a_new_end_user_is_stored_as_a_customer(zendesk):
    answer = zendesk.post_signed("zendesk", load_fixture("zendesk", "user_created__end_user"))
    assert answer.status_code == 202
    with session_scope(zendesk.app.extensions["helpdesk_retain"].sessions) as session:
        customer = session.execute(select(Customer)).scalar_one()
        assert (customer.email, customer.external_id) == CUSTOMERS["user_created__end_user"]


def test_a_new_staff_user_is_ignored(zendesk):
    body = json.loads(load_fixture("zendesk", "user_created__end_user"))
    body["detail"]["role"] = "agent"
    answer = zendesk.post_signed("zendesk", json.dumps(body).encode())
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert count(zendesk, Customer) == 0


def test_the_signature_matches_the_computed_test_vectors():
    key = TEST_SECRET.encode()  # the published test secret, used as text, not base64-decoded
    assert zendesk_signature(key, "2021-03-25T05:09:27Z", b'{"id":1}') == "ywpRZiAB7t63lmd+pF7GH2wmTjBlyoVl8feO7lD518g="
    body = b'{"event":"ticket.updated","id":123}'
    assert zendesk_signature(key, "2021-03-25T05:09:27Z", body) == "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM="


def test_sign_sends_an_iso_timestamp_and_the_vector_signature(start_server):
    server = start_server(sources={"zendesk": {"plugin": "zendesk", "secret": TEST_SECRET}})
    headers = server.integration("zendesk").sign(b'{"id":1}', timestamp=1616648967)
    assert headers[TIMESTAMP] == "2021-03-25T05:09:27Z"
    assert headers[SIGNATURE] == "ywpRZiAB7t63lmd+pF7GH2wmTjBlyoVl8feO7lD518g="


def test_the_secret_is_used_as_text_not_base64_decoded(start_server):
    server = start_server(sources={"zendesk": {"plugin": "zendesk", "secret": TEST_SECRET}})
    body = load_fixture("zendesk", "ticket_created__event_minimal")
    headers = server.integration("zendesk").sign(body)
    decoded_key = base64.b64decode(TEST_SECRET)
    wrong = dict(headers, **{SIGNATURE: zendesk_signature(decoded_key, headers[TIMESTAMP], body)})
    assert server.post("zendesk", body, wrong).status_code == 401
    assert server.post("zendesk", body, headers).status_code == 202


def test_a_tampered_body_is_refused_and_nothing_is_stored(zendesk):
    body = load_fixture("zendesk", "ticket_created__trigger_nested")
    headers = zendesk.integration("zendesk").sign(body)
    answer = zendesk.post("zendesk", body.replace(b"twice", b"thrice"), headers)
    assert answer.status_code == 401
    assert count(zendesk, Delivery) == 0 and count(zendesk, Ticket) == 0


def test_a_wrong_secret_is_refused(zendesk):
    body = load_fixture("zendesk", "ticket_created__trigger_nested")
    headers = zendesk.integration("zendesk").sign(body)
    headers[SIGNATURE] = zendesk_signature(b"another-secret", headers[TIMESTAMP], body)
    assert zendesk.post("zendesk", body, headers).status_code == 401
    assert count(zendesk, Delivery) == 0 and count(zendesk, Ticket) == 0


@pytest.mark.parametrize("missing", [SIGNATURE, TIMESTAMP])
def test_a_missing_signature_header_is_refused(zendesk, missing):
    body = load_fixture("zendesk", "ticket_created__trigger_nested")
    headers = zendesk.integration("zendesk").sign(body)
    del headers[missing]
    answer = zendesk.post("zendesk", body, headers)
    assert answer.status_code == 401 and missing in answer.json()["detail"]
    assert count(zendesk, Delivery) == 0


def test_a_timestamp_outside_the_replay_window_is_refused(zendesk):
    body = load_fixture("zendesk", "ticket_created__trigger_nested")
    answer = zendesk.post_signed("zendesk", body, timestamp=int(time.time()) - 3600)
    assert answer.status_code == 401 and "replay window" in answer.json()["detail"]
    assert count(zendesk, Ticket) == 0


def test_a_timestamp_that_is_not_a_time_is_refused(zendesk):
    body = load_fixture("zendesk", "ticket_created__trigger_nested")
    headers = {SIGNATURE: zendesk_signature(SECRET.encode(), "yesterday", body), TIMESTAMP: "yesterday"}
    assert zendesk.post("zendesk", body, headers).status_code == 401


def test_the_builder_test_secret_is_accepted_only_when_enabled(start_server):
    body = load_fixture("zendesk", "ticket_created__event_minimal")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    headers = {SIGNATURE: zendesk_signature(TEST_SECRET.encode(), stamp, body), TIMESTAMP: stamp}
    strict = start_server(sources={"zendesk": SOURCE})
    assert strict.post("zendesk", body, headers).status_code == 401
    testing = start_server(sources={"zendesk": {**SOURCE, "accept_test_secret": True}})
    assert testing.post("zendesk", body, headers).status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (trigger(title="no id here"), "ticket.id"),
        (
            json.dumps({"type": "zen:event-type:ticket.status_changed", "detail": {"status": "OPEN"}}).encode(),
            "detail.id",
        ),
        (json.dumps({"type": "zen:event-type:ticket.comment_added", "detail": {"id": "5"}}).encode(), "event.comment"),
        (
            json.dumps(
                {
                    "type": "zen:event-type:ticket.comment_added",
                    "detail": {"id": "5"},
                    "event": {"comment": {"body": "hi"}},
                }
            ).encode(),
            "event.comment.id",
        ),
    ],
)
def test_a_missing_required_field_is_a_dead_letter_naming_it(zendesk, body, field):
    answer = zendesk.post_signed("zendesk", body)
    assert answer.status_code == 422 and field in answer.json()["error"]
    with session_scope(zendesk.app.extensions["helpdesk_retain"].sessions) as session:
        dead = session.get(Delivery, answer.json()["dead_letter_id"])
        assert dead.state == "dead" and field in dead.error and dead.body == body
    assert count(zendesk, Ticket) == 0


def test_an_unknown_status_is_a_dead_letter_unless_status_map_names_it(start_server):
    body = trigger(id="80", status="Offen")
    plain = start_server(sources={"zendesk": SOURCE})
    answer = plain.post_signed("zendesk", body)
    assert answer.status_code == 422 and "ticket.status" in answer.json()["error"]
    mapped = start_server(sources={"zendesk": {**SOURCE, "status_map": {"Offen": "open"}}})
    # both servers share one database, where the first delivery is kept as a dead letter
    assert mapped.post_signed("zendesk", body, delivery_id="redelivered").status_code == 202
    assert mapped.ticket("zendesk", "80")["status"] == "open"


@pytest.mark.parametrize(
    "kind",
    [
        "zen:event-type:organization.created",
        "zen:event-type:ticket.group_assignment_changed",
        # core keeps a logged comment as first stored, so there is nothing this event could change
        "zen:event-type:ticket.comment_made_private",
    ],
)
def test_an_event_kind_it_does_not_handle_is_ignored(zendesk, kind):
    body = json.dumps({"type": kind, "id": "01HX", "detail": {"id": "5"}, "event": {}}).encode()
    answer = zendesk.post_signed("zendesk", body)
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert count(zendesk, Delivery) == 0 and count(zendesk, Ticket) == 0


def test_a_trigger_with_an_unknown_event_name_is_ignored(zendesk):
    body = json.dumps({"event": "ticket.exploded", "ticket": {"id": "5"}}).encode()
    assert zendesk.post_signed("zendesk", body).json()["status"] == "ignored"


def test_the_invocation_id_is_the_delivery_id(zendesk):
    body = load_fixture("zendesk", "ticket_status_changed__solved")
    first = zendesk.post_signed("zendesk", body, delivery_id="inv-1")
    second = zendesk.post_signed("zendesk", body, delivery_id="inv-1")
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["delivery_id"] == "inv-1" and second.json()["status"] == "duplicate"


def test_without_an_invocation_id_the_event_id_dedupes(zendesk):
    body = load_fixture("zendesk", "ticket_status_changed__solved")
    answers = []
    for _ in range(2):
        headers = zendesk.integration("zendesk").sign(body)
        del headers[INVOCATION]
        answers.append(zendesk.post("zendesk", body, headers).json())
    assert answers[0]["delivery_id"] == "a8b9c1d2-3e4f-5a6b-7c8d-9e0f1a2b3c4d"
    assert answers[1]["status"] == "duplicate"


def test_an_older_event_does_not_overwrite_a_newer_one(zendesk):
    zendesk.post_signed("zendesk", load_fixture("zendesk", "ticket_status_changed__solved"))  # 16:45
    zendesk.post_signed("zendesk", load_fixture("zendesk", "ticket_priority_changed__urgent"))  # 11:30, arrives late
    ticket = zendesk.ticket("zendesk", "35436")
    assert (ticket["status"], ticket["priority"]) == ("solved", "high")


def test_a_latest_comment_repeated_by_later_updates_is_logged_once(zendesk):
    first = json.loads(load_fixture("zendesk", "ticket_updated__trigger_flat"))
    later = {
        **first,
        "ticket.status": "Pending",
        "ticket.updated_at_with_timestamp": "2026-11-20T11:00:00Z",
        "current_user.email": "sam@support.example.com",
        "current_user.role": "Agent",
    }
    for body in (first, later):
        assert zendesk.post_signed("zendesk", json.dumps(body).encode()).status_code == 202
    ticket, comments = stored(zendesk, "35436")
    assert ticket.status == "pending"
    assert [(role, public) for role, public, _ in comments] == [("customer", True)]


def test_the_opening_message_repeated_by_the_first_agent_update_is_not_an_agent_reply(zendesk):
    created = json.loads(load_fixture("zendesk", "ticket_created__trigger_nested"))
    zendesk.post_signed("zendesk", json.dumps(created).encode())
    update = {
        **created,
        "event": "ticket.updated",
        "current_user": {"email": "sam@support.example.com", "role": "Agent"},
    }
    update["ticket"] = {**created["ticket"], "status": "Open", "updated_at_with_timestamp": "2026-11-20T09:30:00Z"}
    assert zendesk.post_signed("zendesk", json.dumps(update).encode()).json()["events"] == 1
    ticket, comments = stored(zendesk, "35436")
    assert ticket.status == "open" and comments == []


def test_without_a_role_the_author_is_told_apart_by_email(zendesk):
    base = {
        "id": "81",
        "requester": {"email": "ana@example.com"},
        "latest_public_comment": "Any news?",
        "updated_at_with_timestamp": "2026-11-20T10:00:00Z",
    }
    body = {"event": "ticket.updated", "ticket": base, "current_user": {"email": "ANA@example.com"}}
    zendesk.post_signed("zendesk", json.dumps(body).encode())
    reply = {
        "event": "ticket.updated",
        "current_user": {"email": "sam@support.example.com"},
        "ticket": {**base, "latest_public_comment": "Fixed now.", "updated_at_with_timestamp": "2026-11-20T11:00:00Z"},
    }
    zendesk.post_signed("zendesk", json.dumps(reply).encode())
    assert [c[:2] for c in stored(zendesk, "81")[1]] == [("customer", True), ("agent", True)]


def test_tracker_references_in_link_fields_become_links():
    config = ZendeskIntegration.Config.model_validate(SOURCE)
    events = ZendeskIntegration(config).parse({}, load_fixture("zendesk", "ticket_updated__trigger_flat"))
    assert events[0].links == ("APP-12", "APP-13")
    events = ZendeskIntegration(config).parse({}, load_fixture("zendesk", "ticket_custom_field_changed__bug_link"))
    assert events[0].links == ("https://github.com/acme/app/issues/123",)


def test_the_signature_covers_the_raw_bytes_so_reserialised_json_fails(zendesk):
    body = load_fixture("zendesk", "ticket_created__trigger_nested")
    headers = zendesk.integration("zendesk").sign(body)
    assert zendesk.post("zendesk", json.dumps(json.loads(body)).encode(), headers).status_code == 401


def event_body(name: str, **detail: Any) -> bytes:
    """A fixture with ``detail`` fields replaced (None removes one)."""
    payload = json.loads(load_fixture("zendesk", name))
    payload["detail"].update(detail)
    payload["detail"] = {k: v for k, v in payload["detail"].items() if v is not None}
    return json.dumps(payload).encode()


def test_a_ticket_merged_into_another_is_closed_whatever_its_detail_status(zendesk):
    answer = zendesk.post_signed("zendesk", event_body("ticket_merged__into_other_ticket", status="OPEN"))
    assert answer.status_code == 202 and answer.json()["status"] == "accepted"
    ticket = zendesk.ticket("zendesk", "35602")
    assert (ticket["status"], ticket["tags"]) == ("closed", ["billing"])


def test_a_permanently_deleted_ticket_is_closed_and_keeps_its_stored_fields(zendesk):
    zendesk.post_signed("zendesk", load_fixture("zendesk", "ticket_soft_deleted__deleted"))
    scrubbed = event_body(
        "ticket_permanently_deleted__purged", subject="SCRUBBED", priority="SCRUBBED", status="SCRUBBED"
    )
    answer = zendesk.post_signed("zendesk", scrubbed)
    assert answer.status_code == 202 and answer.json()["status"] == "accepted"
    ticket = zendesk.ticket("zendesk", "35601")
    assert (ticket["status"], ticket["subject"]) == ("closed", "Duplicate of 35436")


def test_a_permanently_deleted_ticket_takes_its_id_from_the_subject(zendesk):
    answer = zendesk.post_signed("zendesk", event_body("ticket_permanently_deleted__purged", id=None))
    assert answer.status_code == 202
    assert zendesk.ticket("zendesk", "35601")["status"] == "closed"


def test_a_description_change_without_the_description_in_detail_takes_the_events_current_value():
    config = ZendeskIntegration.Config.model_validate(SOURCE)
    body = event_body("ticket_description_changed__edited", description=None)
    [event] = ZendeskIntegration(config).parse({}, body)
    assert (
        event.description
        == "Hi, I was charged twice this month (invoice INV-2026-11). Please refund the duplicate charge."
    )


def test_reassignment_and_custom_status_events_update_the_ticket_snapshot(zendesk):
    zendesk.post_signed("zendesk", load_fixture("zendesk", "ticket_created__event_minimal"))
    zendesk.post_signed("zendesk", load_fixture("zendesk", "ticket_agent_assignment_changed__reassigned"))
    ticket = zendesk.ticket("zendesk", "35436")
    assert (ticket["subject"], ticket["priority"], ticket["tags"]) == (
        "Charged twice for November",
        "high",
        ["billing", "vip"],
    )
    zendesk.post_signed("zendesk", load_fixture("zendesk", "ticket_custom_status_changed__waiting_on_vendor"))
    assert zendesk.ticket("zendesk", "35436")["status"] == "on_hold"
