"""Zammad plugin: signed fixtures through the real endpoint, the stored tickets and comments, signatures, errors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from werkzeug.datastructures import Headers

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Delivery, Ticket
from helpdesk_retain.plugins.zammad.integration import ZammadConfig, ZammadIntegration, hub_signature
from helpdesk_retain.testing import fixture_names, load_fixture, load_fixture_json, signed_parse

SECRET = "zammad-hmac-token"
SOURCES = {
    "zammad": {
        "plugin": "zammad",
        "secret": SECRET,
        "link_fields": ["jira_issue"],
        "base_url": "https://support.example.com/",
        "state_map": {"waiting for customer": "pending"},
        "tag_attributes": ["retention_tags"],
    }
}


def plugin(**config: object) -> ZammadIntegration:
    return ZammadIntegration(ZammadConfig(plugin="zammad", secret=SECRET, **config))


def parse(name: str, **config: object) -> list:
    return signed_parse(plugin(**config), load_fixture("zammad", name))


def stored_ticket(live, external_id: str) -> Ticket:  # noqa: ANN001
    with session_scope(live.sessions) as session:
        stmt = select(Ticket).where(Ticket.source == "zammad", Ticket.external_id == external_id)
        ticket = session.execute(stmt).scalar_one()
        session.expunge(ticket)
        return ticket


@pytest.fixture
def live(start_server):  # noqa: ANN001, ANN201
    return start_server(sources=SOURCES)


def test_every_fixture_is_accepted_through_the_endpoint(live):
    for name in fixture_names("zammad"):
        answer = live.post_fixture("zammad", "zammad", name)
        assert answer.status_code == 202, (name, answer.text)
        assert answer.json()["status"] == "accepted" and answer.json()["events"] >= 1, name
    assert live.count(Delivery) == len(fixture_names("zammad"))


def test_every_event_kind_has_a_fixture_and_every_fixture_a_kind():
    names = fixture_names("zammad")
    assert {n.split("__")[0] for n in names} == {k.replace(".", "_") for k in ZammadIntegration.event_kinds}
    assert {"ticket_created__minimal", "ticket_created__full", "ticket_created__chinese"} <= set(names)


def test_a_new_ticket_with_its_first_article_is_stored_with_customer_and_opening_comment(live):
    assert live.post_fixture("zammad", "zammad", "ticket_created__full").json()["events"] == 2
    ticket = live.ticket("zammad", "81")
    assert ticket["subject"] == "Charged twice for November"
    assert (ticket["status"], ticket["priority"], ticket["channel"]) == ("new", "high", "email")
    assert ticket["tags"] == ["billing", "vip"]
    assert ticket["customer"] == {"email": "emily@example.com", "name": "Emily Adams"}
    assert ticket["created_at"].startswith("2026-11-20T09:12:00")
    assert ticket["assignee_email"] is None  # owner "-" is Zammad's system user
    [(role, public, body)] = live.comments("zammad", "81")
    assert (role, public) == ("customer", True)
    assert body.startswith("Hello,\nI was charged twice for November") and "<div>" not in body


def test_the_stored_ticket_keeps_number_url_custom_attributes_and_description(live):
    live.post_fixture("zammad", "zammad", "ticket_created__full")
    ticket = stored_ticket(live, "81")
    assert ticket.display_id == "10081"
    assert ticket.url == "https://support.example.com/#ticket/zoom/81"
    assert ticket.custom_fields == {
        "jira_issue": "https://acme.atlassian.net/browse/APP-12",
        "plan": "pro",
        "contract_renewal": "2027-01-31",
        "retention_tags": "billing, vip",
    }
    assert "cancel my subscription" in (ticket.description or "")


def test_chinese_text_is_kept_intact(live):
    live.post_fixture("zammad", "zammad", "ticket_created__chinese")
    ticket = live.ticket("zammad", "82")
    assert ticket["subject"] == "导出数据失败，我要取消订阅"
    assert ticket["tags"] == ["投诉", "导出"] and ticket["customer"]["name"] == "李伟"
    [(role, _, body)] = live.comments("zammad", "82")
    assert role == "customer" and "我已经三次尝试导出我们的数据" in body and "取消订阅" in body


def test_an_agent_reply_and_an_internal_note_keep_their_role_and_visibility(live):
    for name in ("ticket_created__full", "article_created__agent_reply", "article_created__internal_note"):
        assert live.post_fixture("zammad", "zammad", name).status_code == 202
    logged = live.comments("zammad", "81")
    assert [(role, public) for role, public, _ in logged] == [("customer", True), ("agent", True), ("agent", False)]
    assert logged[2][2] == "Refund issued in Stripe; customer mentioned cancelling. See APP-12."
    ticket = live.ticket("zammad", "81")
    assert ticket["status"] == "on_hold" and ticket["assignee_email"] == "sam@example.com"


def test_closed_is_solved_and_the_save_tag_arrives(live):
    live.post_fixture("zammad", "zammad", "ticket_created__full")
    live.post_fixture("zammad", "zammad", "ticket_updated__closed")
    ticket = live.ticket("zammad", "81")
    assert ticket["status"] == "solved" and ticket["tags"] == ["billing", "vip", "saved"]


def test_state_and_priority_given_as_objects_are_mapped(live):
    live.post_fixture("zammad", "zammad", "ticket_created__minimal")
    assert live.ticket("zammad", "80")["status"] == "new"
    live.post_fixture("zammad", "zammad", "ticket_updated__merged")
    ticket = live.ticket("zammad", "80")
    assert (ticket["status"], ticket["priority"]) == ("closed", "low")


def test_a_custom_payload_with_string_values_is_understood(live):
    live.post_fixture("zammad", "zammad", "article_created__custom_payload")
    ticket = live.ticket("zammad", "81")
    assert (ticket["status"], ticket["priority"], ticket["tags"]) == ("open", "urgent", ["billing", "vip"])
    assert live.comments("zammad", "81") == [
        ("customer", True, "Charged again this morning. This is the third time, I want to talk to a manager.")
    ]


def test_a_configured_custom_state_is_mapped_and_an_unknown_one_changes_nothing(live):
    ticket = load_fixture_json("zammad", "ticket_created__minimal")["ticket"]
    first = dict(ticket, state="waiting for customer", updated_at="2026-11-20T09:00:00Z")
    live.post_signed("zammad", json.dumps({"ticket": first}).encode())
    assert live.ticket("zammad", "80")["status"] == "pending"
    second = dict(ticket, state="escalated to legal", updated_at="2026-11-20T10:00:00Z")
    assert live.post_signed("zammad", json.dumps({"ticket": second}).encode()).status_code == 202
    assert live.ticket("zammad", "80")["status"] == "pending"


def test_tags_come_from_the_configured_attributes_and_an_unresolved_placeholder_is_no_tag():
    [event] = parse("ticket_updated__closed")
    assert event.tags is None  # Zammad's webhooks carry no tags: without tag_attributes the delivery does not say
    [event] = parse("ticket_updated__closed", tag_attributes=("retention_tags",))
    assert event.tags == ("billing", "vip", "saved")
    event = parse("article_created__custom_payload", tag_attributes=("retention_tags",))[0]
    assert event.tags == ("billing", "vip")
    payload = load_fixture_json("zammad", "ticket_created__minimal")
    payload["ticket"].update(saved=True, complaint=False)
    integration = plugin(tag_attributes=("saved", "complaint"))
    body = json.dumps(payload).encode()
    assert integration.parse(Headers(integration.sign(body)), body)[0].tags == ("saved",)


def test_tracker_links_come_from_the_configured_link_fields():
    [event] = parse("ticket_updated__closed", link_fields=("Jira Issue",))
    assert event.links == ("https://acme.atlassian.net/browse/APP-12",)
    [event] = parse("ticket_updated__closed")
    assert event.links == ()


def test_the_kind_is_read_from_the_payload():
    assert [e.kind for e in parse("ticket_created__full")] == ["ticket.created", "comment.created"]
    assert [e.kind for e in parse("ticket_created__minimal")] == ["ticket.created"]
    assert [e.kind for e in parse("article_created__agent_reply")] == ["ticket.updated", "comment.created"]
    assert [e.kind for e in parse("ticket_updated__closed")] == ["ticket.updated"]


def test_a_repeated_delivery_id_is_a_duplicate(live):
    body = load_fixture("zammad", "ticket_created__full")
    first = live.post_signed("zammad", body, delivery_id="d-1")
    second = live.post_signed("zammad", body, delivery_id="d-1")
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["status"] == "duplicate" and second.json()["delivery_id"] == "d-1"


def test_the_signature_matches_the_reference_vector():
    assert hub_signature(b"test-secret", b'{"id":1}') == "sha1=2972b03cb2df08f8a910b9b442610258608f7d42"
    headers = ZammadIntegration(ZammadConfig(plugin="zammad", secret="test-secret")).sign(b'{"id":1}')
    assert headers["X-Hub-Signature"] == "sha1=2972b03cb2df08f8a910b9b442610258608f7d42"


def test_a_tampered_body_is_refused_and_nothing_is_stored(live):
    body = load_fixture("zammad", "ticket_created__full")
    headers = live.integration("zammad").sign(body)
    answer = live.post("zammad", body.replace(b"charged twice", b"charged three times"), headers)
    assert answer.status_code == 401
    assert live.count(Delivery) == 0 and live.count(Ticket) == 0


def test_a_wrong_secret_is_refused(live):
    body = load_fixture("zammad", "ticket_created__full")
    headers = live.integration("zammad").sign(body)
    headers["X-Hub-Signature"] = hub_signature(b"another-token", body)
    assert live.post("zammad", body, headers).status_code == 401
    assert live.count(Delivery) == 0 and live.count(Ticket) == 0


def test_an_unsigned_delivery_is_refused(live):
    body = load_fixture("zammad", "ticket_created__full")
    headers = live.integration("zammad").sign(body)
    del headers["X-Hub-Signature"]
    answer = live.post("zammad", body, headers)
    assert answer.status_code == 401 and "X-Hub-Signature" in answer.json()["detail"]
    assert live.count(Delivery) == 0 and live.count(Ticket) == 0


def test_a_missing_ticket_id_is_a_dead_letter_naming_the_field(live):
    payload = load_fixture_json("zammad", "ticket_created__full")
    del payload["ticket"]["id"]
    answer = live.post_signed("zammad", json.dumps(payload).encode())
    assert answer.status_code == 422 and "ticket.id" in answer.json()["error"]
    with session_scope(live.sessions) as session:
        dead = session.get(Delivery, answer.json()["dead_letter_id"])
        assert dead.state == "dead" and "ticket.id" in dead.error
    assert live.count(Ticket) == 0


def test_an_article_without_a_sender_is_a_dead_letter_naming_the_field(live):
    payload = load_fixture_json("zammad", "article_created__agent_reply")
    del payload["article"]["sender"]
    answer = live.post_signed("zammad", json.dumps(payload).encode())
    assert answer.status_code == 422 and "article.sender" in answer.json()["error"]


def test_a_payload_without_a_ticket_is_ignored(live):
    answer = live.post_signed("zammad", json.dumps({"text": "Ticket 10081 was updated"}).encode())
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert live.count(Delivery) == 0


def test_article_ids_rendered_as_text_by_a_custom_payload_find_the_first_article(live):
    assert [e.kind for e in parse("ticket_created__custom_payload")] == ["ticket.created", "comment.created"]
    live.post_fixture("zammad", "zammad", "ticket_created__custom_payload")
    ticket = live.ticket("zammad", "83")
    assert (ticket["status"], ticket["customer"]["email"]) == ("new", "olga@example.com")
    assert live.comments("zammad", "83") == [
        ("customer", True, "Our invoice for November shows our old company name. Please correct it.")
    ]
    assert stored_ticket(live, "83").description.startswith("Our invoice for November")


@pytest.mark.parametrize(
    ("ids", "kind"),
    [
        ("201, 202", "ticket.created"),
        ("[202, 201]", "ticket.created"),
        ("#{ticket.article_ids}", "ticket.updated"),  # unresolved: article_count decides (absent: a further article)
        (["201", 202, True, None, "x"], "ticket.created"),  # junk elements are skipped
    ],
)
def test_article_ids_as_a_list_or_text_are_read(ids, kind):
    """``kind`` is the first event's: ``ticket.created`` for an opening article, else the ticket's update."""
    payload = load_fixture_json("zammad", "ticket_created__full")
    payload["ticket"].update(article_ids=ids, article_count=None)
    payload["article"]["id"] = 201
    assert signed_parse(plugin(), json.dumps(payload).encode())[0].kind == kind


@pytest.mark.parametrize("ids", [201, {"0": 201}, True, 2.5])
def test_article_ids_of_another_type_are_a_dead_letter_not_a_crash(live, ids):
    payload = load_fixture_json("zammad", "article_created__agent_reply")
    payload["ticket"]["article_ids"] = ids
    answer = live.post_signed("zammad", json.dumps(payload).encode())
    assert answer.status_code == 422 and "ticket.article_ids" in answer.json()["error"]
    with session_scope(live.sessions) as session:
        dead = session.get(Delivery, answer.json()["dead_letter_id"])
        assert dead.state == "dead" and "ticket.article_ids" in dead.error
    assert live.count(Ticket) == 0
