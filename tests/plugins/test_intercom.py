"""Intercom plugin: signed fixtures through the real endpoint, conversations, tickets, contacts, signatures, errors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from werkzeug.datastructures import Headers

from helpdesk_retain.db import session_scope
from helpdesk_retain.events import CustomerEvent
from helpdesk_retain.models import Customer, Delivery, Ticket
from helpdesk_retain.plugins.intercom.integration import IntercomConfig, IntercomIntegration, hub_signature
from helpdesk_retain.testing import fixture_names, load_fixture, load_fixture_json, signed_parse

SECRET = "intercom-client-secret"
SOURCES = {
    "intercom": {
        "plugin": "intercom",
        "secret": SECRET,
        "link_fields": ["Jira issue"],
        "status_attribute": "account_status",
    }
}
CONVERSATION = "215472621202693"
TICKET = "215472629311235"


def plugin(**config: object) -> IntercomIntegration:
    return IntercomIntegration(IntercomConfig(plugin="intercom", secret=SECRET, **config))


def parse(name: str, **config: object) -> list:
    return signed_parse(plugin(**config), load_fixture("intercom", name))


def post(live, *names: str) -> None:  # noqa: ANN001
    for name in names:
        answer = live.post_fixture("intercom", "intercom", name)
        assert answer.status_code == 202 and answer.json()["status"] == "accepted", (name, answer.text)


@pytest.fixture
def live(start_server):  # noqa: ANN001, ANN201
    return start_server(sources=SOURCES)


def test_every_fixture_is_accepted_through_the_endpoint(live):
    names = fixture_names("intercom")
    post(live, *names)
    with session_scope(live.sessions) as session:
        states = session.execute(select(Delivery.state)).scalars().all()
    assert states == ["processed"] * len(names)


def test_every_topic_has_a_fixture_and_every_fixture_a_topic():
    names = fixture_names("intercom")
    assert {n.split("__")[0] for n in names} == {k.replace(".", "_") for k in IntercomIntegration.event_kinds}
    assert {"conversation_user_created__minimal", "conversation_user_created__full"} <= set(names)
    assert "conversation_user_created__chinese" in names


def test_a_new_conversation_is_a_ticket_with_its_first_message(live):
    post(live, "conversation_user_created__full")
    ticket = live.ticket("intercom", CONVERSATION)
    assert (ticket["subject"], ticket["status"], ticket["tags"]) == ("Data export", "open", ["billing"])
    assert ticket["customer"] == {"email": "ada@example.com", "name": "Ada Lovelace"}
    assert ticket["created_at"].startswith("2026-11-20T09:00:00")
    assert live.comments("intercom", CONVERSATION) == [
        ("customer", True, "Hi, how do I export all our data?\n\nWe are thinking about cancelling our plan.")
    ]


def test_a_minimal_conversation_from_a_lead_is_stored(live):
    post(live, "conversation_user_created__minimal")
    ticket = live.ticket("intercom", "215472621202700")
    assert ticket["status"] == "open" and ticket["customer"] == {"email": None, "name": None}
    assert live.comments("intercom", "215472621202700") == [("customer", True, "Password reset link does not work.")]


def test_chinese_text_is_kept_intact(live):
    post(live, "conversation_user_created__chinese")
    ticket = live.ticket("intercom", "215472621202800")
    assert ticket["subject"] == "发票重复扣费" and ticket["tags"] == ["投诉"] and ticket["channel"] == "email"
    assert ticket["customer"] == {"email": "li.wei@example.cn", "name": "李伟"}
    [(role, public, body)] = live.comments("intercom", "215472621202800")
    assert (role, public) == ("customer", True)
    assert body == "你好，我们这个月被重复扣费了两次。\n\n请尽快退款，否则我们会取消订阅。"


def test_replies_notes_and_bot_answers_keep_their_role_and_visibility(live):
    post(
        live,
        "conversation_user_created__full",
        "conversation_user_replied__customer",
        "conversation_admin_replied__reply",
        "conversation_admin_noted__note",
    )
    logged = live.comments("intercom", CONVERSATION)
    assert [(role, public) for role, public, _ in logged] == [
        ("customer", True),
        ("customer", True),
        ("agent", True),
        ("agent", False),
    ]
    assert logged[1][2] == "Still no answer? This is really frustrating."
    assert "Settings → Data" in logged[2][2] and "<b>" not in logged[2][2]
    post(live, "conversation_operator_replied__bot")
    assert live.comments("intercom", "215472621202700") == [
        ("system", True, "Thanks! The team typically replies in a few hours.")
    ]


def test_conversation_states_and_priority_are_mapped(live):
    post(live, "conversation_user_created__full", "conversation_priority_updated__priority")
    assert live.ticket("intercom", CONVERSATION)["priority"] == "high"
    expected = {
        "conversation_admin_snoozed__until_tomorrow": "on_hold",
        "conversation_admin_unsnoozed__timer": "open",
        "conversation_admin_closed__with_reply": "solved",
        "conversation_admin_opened__reopened": "open",
    }
    for name, status in expected.items():
        post(live, name)
        assert live.ticket("intercom", CONVERSATION)["status"] == status, name
    ticket = live.ticket("intercom", CONVERSATION)
    assert ticket["tags"] == ["billing", "saved"] and ticket["priority"] == "normal"
    assert ("agent", True, "Glad we could keep you on board, Ada! Closing this for now.") in live.comments(
        "intercom", CONVERSATION
    )


def test_an_assignment_sets_the_assignee(live):
    post(live, "conversation_user_created__full", "conversation_admin_assigned__to_admin")
    assert live.ticket("intercom", CONVERSATION)["assignee_email"] == "sam@example.com"
    assert len(live.comments("intercom", CONVERSATION)) == 1  # an assignment without a message is not a comment


def test_an_admin_initiated_conversation_opens_with_an_agent_message(live):
    post(live, "conversation_admin_single_created__outbound")
    ticket = live.ticket("intercom", "215472621202900")
    assert ticket["subject"] == "Your export is ready" and ticket["channel"] == "email"
    assert live.comments("intercom", "215472621202900") == [
        ("agent", True, "Hi Ada, the export bug (APP-12) is fixed; your export is attached.")
    ]


def test_a_ticket_follows_its_state_categories_and_keeps_its_number(live):
    post(live, "ticket_created__customer_ticket")
    ticket = live.ticket("intercom", TICKET)
    assert (ticket["subject"], ticket["status"], ticket["type"]) == (
        "Export fails for large accounts",
        "new",
        "Bug report",
    )
    expected = {
        "ticket_admin_assigned__admin": "open",
        "ticket_state_updated__waiting_on_customer": "pending",
        "ticket_closed__resolved": "solved",
    }
    for name, status in expected.items():
        post(live, name)
        assert live.ticket("intercom", TICKET)["status"] == status, name
    with session_scope(live.sessions) as session:
        stored = session.execute(select(Ticket).where(Ticket.external_id == TICKET)).scalar_one()
        assert stored.display_id == "66040342" and stored.custom_fields["Platforms"] == "Web, API"
        assert stored.description == "CSV export times out after 30 seconds for our workspace (12k contacts)."


def test_ticket_replies_and_notes_are_comments(live):
    post(live, "ticket_created__customer_ticket", "ticket_admin_replied__reply")
    post(live, "ticket_contact_replied__reply", "ticket_note_created__note")
    assert [(role, public) for role, public, _ in live.comments("intercom", TICKET)] == [
        ("system", True),
        ("agent", True),
        ("customer", True),
        ("agent", False),
    ]
    assert live.comments("intercom", TICKET)[2][2] == "Any news? Our board meeting needs this export tomorrow."


def test_a_reply_on_a_back_office_ticket_is_not_public():
    payload = load_fixture_json("intercom", "ticket_admin_replied__reply")
    payload["data"]["item"]["ticket"]["is_shared"] = False
    integration = plugin()
    body = json.dumps(payload).encode()
    events = integration.parse(Headers(integration.sign(body)), body)
    assert [e.comment.public for e in events if e.comment] == [False]


def test_tracker_links_come_from_the_configured_attributes():
    event = parse("ticket_attribute_updated__jira_link", link_fields=("jira issue",))[0]
    assert event.links == ("https://acme.atlassian.net/browse/APP-12",)
    [event, _] = parse("conversation_admin_replied__reply", link_fields=("Jira issue",))
    assert event.links == ("https://acme.atlassian.net/browse/APP-12",) and event.custom_fields["Plan"] == "pro"


def test_contact_topics_update_the_customer(live):
    post(live, "contact_user_created__minimal", "conversation_user_created__full", "contact_user_updated__cancelled")
    with session_scope(live.sessions) as session:
        grace = session.execute(select(Customer).where(Customer.email == "grace@example.com")).scalar_one()
        ada = session.execute(select(Customer).where(Customer.email == "ada@example.com")).scalar_one()
        assert grace.status == "active"
        assert (ada.status, ada.plan, ada.name) == ("cancelled", "pro", "Ada Lovelace")


def test_a_lead_without_email_is_a_customer_keyed_by_its_intercom_id():
    [event] = parse("contact_lead_created__lead")
    assert isinstance(event, CustomerEvent)
    assert (event.email, event.external_id, event.status) == (None, "6962000000000000000000aa", None)


def test_ping_is_answered_and_ignored(live):
    body = json.dumps(
        {"type": "notification_event", "app_id": "abc123def", "topic": "ping", "id": "notif_ping_1",
         "created_at": 1795251600, "data": {"type": "notification_event_data", "item": {"type": "ping",
         "message": "Something for you to react to"}}}
    ).encode()  # fmt: skip
    answer = live.post_signed("intercom", body)
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert live.count(Delivery) == 0


def test_the_notification_id_is_the_delivery_id(live):
    first = live.post_fixture("intercom", "intercom", "conversation_user_replied__customer")
    second = live.post_fixture("intercom", "intercom", "conversation_user_replied__customer")
    assert first.json()["delivery_id"] == "notif_9d2bc71d-ac2f-4f2d-9a3c-f4213dd90001"
    assert second.status_code == 200 and second.json()["status"] == "duplicate"


def test_the_signature_matches_the_reference_vector():
    assert hub_signature(b"test-secret", b'{"id":1}') == "sha1=2972b03cb2df08f8a910b9b442610258608f7d42"
    headers = IntercomIntegration(IntercomConfig(plugin="intercom", secret="test-secret")).sign(b'{"id":1}')
    assert headers["X-Hub-Signature"] == "sha1=2972b03cb2df08f8a910b9b442610258608f7d42"


def test_a_tampered_body_is_refused_and_nothing_is_stored(live):
    body = load_fixture("intercom", "conversation_user_created__full")
    headers = live.integration("intercom").sign(body)
    assert live.post("intercom", body.replace(b"cancelling", b"upgrading"), headers).status_code == 401
    assert live.count(Delivery) == 0 and live.count(Ticket) == 0


def test_a_wrong_secret_is_refused(live):
    body = load_fixture("intercom", "conversation_user_created__full")
    headers = {"X-Hub-Signature": hub_signature(b"another-secret", body), "Content-Type": "application/json"}
    assert live.post("intercom", body, headers).status_code == 401
    assert live.count(Delivery) == 0 and live.count(Ticket) == 0


def test_an_unsigned_delivery_is_refused(live):
    body = load_fixture("intercom", "conversation_user_created__full")
    answer = live.post("intercom", body, {"Content-Type": "application/json"})
    assert answer.status_code == 401 and "X-Hub-Signature" in answer.json()["detail"]
    assert live.count(Delivery) == 0 and live.count(Ticket) == 0


def test_a_missing_item_id_is_a_dead_letter_naming_the_field(live):
    payload = load_fixture_json("intercom", "conversation_admin_replied__reply")
    del payload["data"]["item"]["id"]
    answer = live.post_signed("intercom", json.dumps(payload).encode())
    assert answer.status_code == 422 and "data.item.id" in answer.json()["error"]
    with session_scope(live.sessions) as session:
        dead = session.get(Delivery, answer.json()["dead_letter_id"])
        assert dead.state == "dead" and "data.item.id" in dead.error
    assert live.count(Ticket) == 0


def test_an_unknown_author_type_is_a_dead_letter_naming_the_field(live):
    payload = load_fixture_json("intercom", "conversation_user_replied__customer")
    payload["data"]["item"]["conversation_parts"]["conversation_parts"][0]["author"]["type"] = "alien"
    answer = live.post_signed("intercom", json.dumps(payload).encode())
    assert answer.status_code == 422 and "author.type" in answer.json()["error"]
