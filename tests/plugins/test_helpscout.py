"""The Help Scout plugin through the real webhook endpoint, with fixtures signed as Help Scout signs them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Customer, Delivery, Ticket, TicketLog
from helpdesk_retain.plugins.helpscout.integration import (
    EVENT,
    EVENT_PARSERS,
    SIGNATURE,
    HelpScoutIntegration,
    author_role,
    helpscout_signature,
)
from helpdesk_retain.testing import LiveServer, fixture_names, load_fixture

SECRET = "hs-secret-2b8e41f0c3"  # Help Scout allows at most 40 characters
SOURCE = {
    "plugin": "helpscout",
    "secret": SECRET,
    "field_names": {"Save amount": "save_amount", "8": "bug_link"},
    "link_fields": ["bug_link", "11"],
}
ADA = {"email": "ada@example.com", "name": "Ada Lovelace"}
CONVO = "123456789"
#: fixture-name prefix -> X-HelpScout-Event
EVENTS = {kind.replace(".", "_").replace("-", "_"): kind for kind in EVENT_PARSERS}

#: fixture -> (conversation id, fields shown by the API, fields of the stored row, comments in the log)
TICKETS: dict[str, tuple[str, dict[str, Any], dict[str, Any], list[tuple[str, bool, str]]]] = {
    "convo_created__minimal": (
        "123456700",
        {"subject": "Question", "status": "open", "customer": None, "created_at": "2026-11-20T08:00:00"},
        {"display_id": "4300", "url": "https://secure.helpscout.net/conversation/123456700/4300"},
        [],
    ),
    "convo_created__full": (
        CONVO,
        {
            "subject": "Cannot export my data",
            "status": "open",
            "priority": None,
            "channel": "email",
            "tags": ["export", "vip"],
            "customer": ADA,
            "assignee_email": "sam@support.example.com",
        },
        {
            "description": "Hi, since yesterday the export fails for our account.\nIt worked last week. Please fix it, "
            "we depend on it.",
            "display_id": "4321",
            "url": "https://secure.helpscout.net/conversation/123456789/4321",
            "custom_fields": {"bug_link": "WEB-44", "Plan": "Pro"},
        },
        [],
    ),
    "convo_created__chinese": (
        "123456800",
        {
            "subject": "账户被重复扣费",
            "status": "open",
            "channel": "chat",
            "tags": ["账单"],
            "customer": {"email": "li.na@example.cn", "name": "娜 李"},
        },
        {"description": "你好，这个月我的信用卡被扣了两次。我很失望，如果不退款我就取消订阅。"},
        [],
    ),
    "convo_customer_reply_created__threads": (
        CONVO,
        {"status": "open", "customer": ADA, "updated_at": "2026-11-20T10:05:00"},
        {},
        [("customer", True, "This is the third time I write. I want to cancel my subscription.")],
    ),
    "convo_customer_reply_created__preview_only": (
        "123456801",
        {"status": "open", "customer": {"email": "tom@example.org", "name": "Tom Ray"}},
        {},
        [("customer", True, "Can I switch to yearly billing? Otherwise we may move to another tool.")],
    ),
    "convo_agent_reply_created__threads": (
        CONVO,
        {"status": "pending", "assignee_email": "sam@support.example.com"},
        {},
        [
            (
                "agent",
                True,
                "Hi Ada, we found the bug ([acme/app#123](https://github.com/acme/app/issues/123)) and "
                "will let you know when it is fixed.",
            )
        ],
    ),
    # chat threads are written by both sides: createdBy says whose each one is
    "convo_agent_reply_created__chat": (
        "123456810",
        {"status": "open", "channel": "chat", "customer": {"email": "tom@example.org", "name": "Tom Ray"}},
        {},
        [("agent", True, "Yes: Settings, then Billing, then Switch to yearly.")],
    ),
    "convo_customer_reply_created__chat": (
        "123456810",
        {"status": "open", "channel": "chat", "updated_at": "2026-11-22T14:04:00"},
        {},
        [("customer", True, "Found it, thanks. But the yearly price is higher than on your website?")],
    ),
    "convo_merged__surviving": (
        CONVO,
        {"status": "open", "tags": ["export", "vip", "merged"], "customer": ADA, "updated_at": "2026-11-21T08:15:00"},
        {"display_id": "4321", "custom_fields": {"bug_link": "WEB-44"}},
        [],
    ),
    "convo_note_created__internal": (
        CONVO,
        {"status": "pending"},
        {},
        [("agent", False, "Customer mentioned cancelling. Offered 20% off the yearly plan.")],
    ),
    "convo_status__closed": (CONVO, {"status": "solved", "tags": ["export", "vip"]}, {}, []),
    "convo_tags__saved": (
        CONVO,
        {"status": "solved", "tags": ["export", "vip", "saved"]},
        {"custom_fields": {"save_amount": "49.00"}},
        [],
    ),
    "convo_assigned__agent": (CONVO, {"assignee_email": "kim@support.example.com"}, {}, []),
    "convo_custom_fields__bug_link": (
        CONVO,
        {"status": "open"},
        {
            "custom_fields": {
                "bug_link": "WEB-44 WEB-45",
                "Bug URL": "https://linear.app/acme/issue/ENG-7/export-fails",
            }
        },
        [],
    ),
    "convo_moved__mailbox": (CONVO, {"status": "open", "subject": "Cannot export my data"}, {}, []),
    "convo_deleted__id": ("123456790", {"status": "closed"}, {}, []),
}
CUSTOMERS = {
    "customer_created__full": ("ada@example.com", "987", "Ada Lovelace"),
    "customer_updated__chinese": ("li.na@example.cn", "988", "娜 李"),
}


@pytest.fixture
def helpscout(start_server) -> LiveServer:  # noqa: ANN001
    return start_server(sources={"helpscout": SOURCE})


def event_of(name: str) -> str:
    return EVENTS[name.split("__")[0]]


def count(server: LiveServer, model: type) -> int:
    with session_scope(server.app.extensions["helpdesk_retain"].sessions) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def stored(server: LiveServer, external_id: str) -> tuple[Ticket, list[tuple[str, bool, str]]]:
    """The ticket row and its comments as (role, public, body), oldest first."""
    with session_scope(server.app.extensions["helpdesk_retain"].sessions) as session:
        stmt = select(Ticket).where(Ticket.source == "helpscout", Ticket.external_id == external_id)
        ticket = session.execute(stmt).scalar_one()
        log = select(TicketLog).where(TicketLog.ticket_id == ticket.id, TicketLog.kind == "comment")
        rows = session.execute(log.order_by(TicketLog.at, TicketLog.id)).scalars().all()
        session.expunge(ticket)
        return ticket, [(r.author_role, r.public, r.body) for r in rows]


def test_every_fixture_has_an_expectation_and_every_event_kind_a_fixture():
    assert set(fixture_names("helpscout")) == set(TICKETS) | set(CUSTOMERS)
    assert {name.split("__")[0] for name in fixture_names("helpscout")} == set(EVENTS)
    assert HelpScoutIntegration.event_kinds == frozenset(EVENT_PARSERS)


@pytest.mark.parametrize("name", sorted(TICKETS))
def test_each_fixture_is_stored_as_the_ticket_it_describes(helpscout, name):
    answer = helpscout.post_signed("helpscout", load_fixture("helpscout", name), event=event_of(name))
    assert answer.status_code == 202, answer.text
    external_id, shown, row_fields, comments = TICKETS[name]
    ticket = helpscout.ticket("helpscout", external_id)
    for key, value in shown.items():
        assert ticket[key].startswith(value) if key.endswith("_at") else ticket[key] == value, key
    row, logged = stored(helpscout, external_id)
    assert {key: getattr(row, key) for key in row_fields} == row_fields
    assert logged == comments


@pytest.mark.parametrize("name", sorted(CUSTOMERS))
def test_customer_events_store_the_customer(helpscout, name):
    answer = helpscout.post_signed("helpscout", load_fixture("helpscout", name), event=event_of(name))
    assert answer.status_code == 202
    with session_scope(helpscout.app.extensions["helpdesk_retain"].sessions) as session:
        customer = session.execute(select(Customer)).scalar_one()
        assert (customer.email, customer.external_id, customer.name) == CUSTOMERS[name]


def test_the_external_id_is_the_internal_id_not_the_displayed_number(helpscout):
    helpscout.post_signed("helpscout", load_fixture("helpscout", "convo_created__full"), event="convo.created")
    assert helpscout.ticket("helpscout", CONVO)["external_id"] == CONVO
    assert helpscout.get("/api/tickets/helpscout/4321").status_code == 404


def test_the_signature_matches_the_computed_test_vector():
    assert helpscout_signature(b"test-secret", b'{"id":1}') == "KXKwPLLfCPipELm0QmECWGCPfUI="


def test_the_test_event_signed_like_the_vector_is_ignored(start_server):
    server = start_server(sources={"helpscout": {"plugin": "helpscout", "secret": "test-secret"}})
    headers = server.integration("helpscout").sign(b'{"id":1}', event="helpscout.test")
    assert headers[SIGNATURE] == "KXKwPLLfCPipELm0QmECWGCPfUI="
    answer = server.post("helpscout", b'{"id":1}', headers)
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert count(server, Delivery) == 0 and count(server, Ticket) == 0


def test_a_tampered_body_is_refused_and_nothing_is_stored(helpscout):
    body = load_fixture("helpscout", "convo_created__full")
    headers = helpscout.integration("helpscout").sign(body)
    answer = helpscout.post("helpscout", body.replace(b"export", b"import"), headers)
    assert answer.status_code == 401
    assert count(helpscout, Delivery) == 0 and count(helpscout, Ticket) == 0


def test_a_wrong_secret_is_refused(helpscout):
    body = load_fixture("helpscout", "convo_created__full")
    headers = {SIGNATURE: helpscout_signature(b"another-secret", body), EVENT: "convo.created"}
    assert helpscout.post("helpscout", body, headers).status_code == 401
    assert count(helpscout, Ticket) == 0


@pytest.mark.parametrize("missing", [SIGNATURE, EVENT])
def test_a_missing_header_is_refused(helpscout, missing):
    body = load_fixture("helpscout", "convo_created__full")
    headers = helpscout.integration("helpscout").sign(body)
    del headers[missing]
    answer = helpscout.post("helpscout", body, headers)
    assert answer.status_code == 401 and missing in answer.json()["detail"]
    assert count(helpscout, Delivery) == 0


@pytest.mark.parametrize(
    ("event", "body", "field"),
    [
        ("convo.created", {"subject": "no id", "status": "active"}, "id"),
        ("customer.updated", {"firstName": "Ada"}, "id"),
        ("convo.status", {"id": 5, "status": "archived"}, "status"),
        ("convo.customer.reply.created", {"id": 5, "status": "active"}, "_embedded.threads"),
        ("convo.note.created", {"id": 5, "_embedded": {"threads": [{"type": "note", "body": "x"}]}}, "threads[].id"),
    ],
)
def test_a_missing_or_bad_field_is_a_dead_letter_naming_it(helpscout, event, body, field):
    raw = json.dumps(body).encode()
    answer = helpscout.post_signed("helpscout", raw, event=event)
    assert answer.status_code == 422 and field in answer.json()["error"]
    with session_scope(helpscout.app.extensions["helpdesk_retain"].sessions) as session:
        dead = session.get(Delivery, answer.json()["dead_letter_id"])
        assert dead.state == "dead" and field in dead.error and dead.body == raw
    assert count(helpscout, Ticket) == 0


@pytest.mark.parametrize("event", ["satisfaction.ratings", "tag.created", "customer.deleted"])
def test_an_event_it_does_not_handle_is_ignored(helpscout, event):
    answer = helpscout.post_signed("helpscout", b'{"id": 5}', event=event)
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert count(helpscout, Delivery) == 0


def test_a_redelivered_body_is_a_duplicate(helpscout):
    body = load_fixture("helpscout", "convo_note_created__internal")
    answers = [helpscout.post_signed("helpscout", body, event="convo.note.created") for _ in range(2)]
    assert [a.status_code for a in answers] == [202, 200]
    assert answers[0].json()["delivery_id"].startswith(f"convo.note.created:{CONVO}:")


def test_a_thread_seen_again_in_a_newer_body_is_logged_once(helpscout):
    reply = json.loads(load_fixture("helpscout", "convo_customer_reply_created__threads"))
    helpscout.post_signed("helpscout", json.dumps(reply).encode(), event="convo.customer.reply.created")
    reply["tags"].append({"id": 12, "tag": "churn-risk"})  # re-rendered later, same newest customer thread
    helpscout.post_signed("helpscout", json.dumps(reply).encode(), event="convo.customer.reply.created")
    ticket, comments = stored(helpscout, CONVO)
    assert "churn-risk" in ticket.tags and len(comments) == 1


def test_the_event_header_is_read_from_headers_kept_with_a_dead_letter():
    integration = HelpScoutIntegration(HelpScoutIntegration.Config.model_validate(SOURCE))
    body = load_fixture("helpscout", "convo_status__closed")
    assert integration.parse({"x-helpscout-event": "convo.status"}, body)[0].status == "solved"


def test_tracker_references_in_link_fields_become_links():
    integration = HelpScoutIntegration(HelpScoutIntegration.Config.model_validate(SOURCE))
    headers = {EVENT: "convo.custom-fields"}
    events = integration.parse(headers, load_fixture("helpscout", "convo_custom_fields__bug_link"))
    assert events[0].links == ("WEB-44", "WEB-45", "https://linear.app/acme/issue/ENG-7/export-fails")


def parse_as(event: str, body: bytes) -> list[Any]:
    integration = HelpScoutIntegration(HelpScoutIntegration.Config.model_validate(SOURCE))
    return integration.parse({EVENT: event}, body)


@pytest.mark.parametrize(
    ("thread", "role"),
    [
        ({"type": "chat", "createdBy": {"type": "user"}}, "agent"),
        ({"type": "chat", "createdBy": {"type": "customer"}}, "customer"),
        ({"type": "chat"}, "customer"),  # no createdBy: what the type implies
        ({"type": "phone", "createdBy": {"type": "user"}}, "agent"),
        ({"type": "customer", "createdBy": {"type": "user"}}, "agent"),  # written by an agent for the customer
        ({"type": "reply", "createdBy": {"type": "User"}}, "agent"),
        ({"type": "reply"}, "agent"),
        ({"type": "reply", "createdBy": {"type": "team"}}, "agent"),  # an unknown author type: the thread type
        ({"type": "note", "createdBy": "not an object"}, "agent"),
    ],
)
def test_the_author_role_follows_created_by_then_the_thread_type(thread, role):
    assert author_role(thread) == role


def test_an_agent_chat_reply_is_the_agents_newest_chat_thread_not_the_preview():
    _, event = parse_as("convo.agent.reply.created", load_fixture("helpscout", "convo_agent_reply_created__chat"))
    comment = event.comment
    assert (comment.id, comment.author_role, comment.public) == ("4002", "agent", True)
    assert comment.author_email == "sam@support.example.com"


def test_a_customer_reply_skips_newer_threads_written_by_an_agent():
    body = load_fixture("helpscout", "convo_customer_reply_created__chat")
    _, event = parse_as("convo.customer.reply.created", body)
    assert (event.comment.id, event.comment.author_role) == ("4003", "customer")
    assert event.comment.author_email == "tom@example.org"
    _, agent = parse_as("convo.agent.reply.created", body)
    assert (agent.comment.id, agent.comment.author_role) == ("4004", "agent")


def test_a_chat_conversation_keeps_each_sides_messages_apart(helpscout):
    for name in ("convo_agent_reply_created__chat", "convo_customer_reply_created__chat"):
        answer = helpscout.post_signed("helpscout", load_fixture("helpscout", name), event=event_of(name))
        assert answer.status_code == 202, answer.text
    assert [(role, body[:9]) for role, _, body in stored(helpscout, "123456810")[1]] == [
        ("agent", "Yes: Sett"),
        ("customer", "Found it,"),
    ]


def test_a_merge_updates_the_surviving_conversation(helpscout):
    helpscout.post_signed("helpscout", load_fixture("helpscout", "convo_status__closed"), event="convo.status")
    answer = helpscout.post_signed(
        "helpscout", load_fixture("helpscout", "convo_merged__surviving"), event="convo.merged"
    )
    assert answer.status_code == 202 and answer.json()["status"] == "accepted"
    ticket = helpscout.ticket("helpscout", CONVO)
    assert (ticket["status"], ticket["tags"]) == ("open", ["export", "vip", "merged"])
