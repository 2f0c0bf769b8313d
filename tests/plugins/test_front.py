"""Front plugin: application and rule webhooks through the real endpoint, the challenge, signatures, errors."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select
from werkzeug.datastructures import Headers

from helpdesk_retain.db import session_scope
from helpdesk_retain.integrations import SignatureError
from helpdesk_retain.models import Delivery, Ticket
from helpdesk_retain.plugins.front.integration import FrontConfig, FrontIntegration, app_signature, rule_signature
from helpdesk_retain.testing import fixture_names, load_fixture, load_fixture_json, signed_parse

SECRET = "front-app-signing-key"
RULE_SECRET = "front-company-api-secret"
SOURCES = {"front": {"plugin": "front", "secret": SECRET, "rule_secret": RULE_SECRET, "link_fields": ["Jira issue"]}}
CONVERSATION = "cnv_55c8c149"


def plugin(**config: object) -> FrontIntegration:
    return FrontIntegration(FrontConfig(plugin="front", secret=SECRET, **config))


def parse(name: str, **config: object) -> list:
    return signed_parse(plugin(**config), load_fixture("front", name))


def post(live, *names: str) -> None:  # noqa: ANN001
    for name in names:
        answer = live.post_fixture("front", "front", name)
        assert answer.status_code == 202 and answer.json()["status"] == "accepted", (name, answer.text)


def rule_headers(body: bytes, secret: str = RULE_SECRET) -> dict[str, str]:
    return {"X-Front-Signature": rule_signature(secret.encode(), body), "Content-Type": "application/json"}


@pytest.fixture
def live(start_server):  # noqa: ANN001, ANN201
    return start_server(sources=SOURCES)


def test_every_fixture_is_accepted_through_the_endpoint(live):
    names = fixture_names("front")
    post(live, *names)
    assert live.count(Delivery) == len(names)


def test_every_event_type_has_a_fixture_and_every_fixture_a_type():
    names = fixture_names("front")
    assert {n.split("__")[0] for n in names} == set(FrontIntegration.event_kinds)
    assert {"inbound__minimal", "inbound__full", "inbound__chinese"} <= set(names)


def test_an_inbound_message_opens_a_ticket_with_the_customer_message(live):
    post(live, "inbound__full")
    ticket = live.ticket("front", CONVERSATION)
    assert (ticket["subject"], ticket["status"], ticket["priority"]) == ("Refund please", "open", "urgent")
    assert ticket["tags"] == ["Urgent", "billing"] and ticket["channel"] == "email"
    assert ticket["customer"] == {"email": "calculon@momsbot.com", "name": None}
    assert ticket["created_at"].startswith("2026-11-20T09:12:00")  # the message, a few seconds before the stamp
    assert live.comments("front", CONVERSATION) == [
        ("customer", True, "Hi,\nwe were charged twice for November.\nPlease refund me or we cancel.")
    ]
    with session_scope(live.sessions) as session:
        stored = session.execute(select(Ticket).where(Ticket.external_id == CONVERSATION)).scalar_one()
        assert stored.url == "https://app.frontapp.com/open/cnv_55c8c149"
        assert stored.custom_fields == {
            "Jira issue": "https://acme.atlassian.net/browse/APP-12",
            "Plan": "pro",
            "Seats": "25",
        }


def test_a_minimal_inbound_event_is_stored(live):
    post(live, "inbound__minimal")
    ticket = live.ticket("front", "cnv_00000001")
    assert (ticket["subject"], ticket["status"], ticket["customer"]["email"]) == (
        "Login broken",
        "open",
        "olga@example.com",
    )
    assert live.comments("front", "cnv_00000001") == [("customer", True, "I cannot log in.")]


def test_chinese_text_is_kept_intact(live):
    post(live, "inbound__chinese")
    ticket = live.ticket("front", "cnv_cn000001")
    assert ticket["subject"] == "发票重复扣费" and ticket["tags"] == ["投诉"]
    assert live.comments("front", "cnv_cn000001") == [
        ("customer", True, "你好，我们这个月被重复扣费了两次。\n请尽快退款，否则我们会取消订阅。")
    ]


def test_replies_comments_and_mentions_keep_their_role_and_visibility(live):
    post(live, "inbound__full", "out_reply__agent", "comment__internal", "mention__teammate")
    assert [(role, public) for role, public, _ in live.comments("front", CONVERSATION)] == [
        ("customer", True),
        ("agent", True),
        ("agent", False),  # the mention repeats the comment's id: logged once
    ]
    assert live.ticket("front", CONVERSATION)["assignee_email"] == "leela@planet-express.com"


def test_an_outbound_message_opens_a_ticket_with_an_agent_message(live):
    post(live, "outbound__new_conversation")
    ticket = live.ticket("front", "cnv_66d9d250")
    assert ticket["status"] == "solved"
    assert live.comments("front", "cnv_66d9d250") == [
        ("agent", True, "Hi Calculon, the export bug (APP-12) is fixed. Your export is attached.")
    ]


def test_conversation_events_move_the_status(live):
    post(live, "inbound__full")
    expected = {
        "assign__teammate": "open",
        "archive__teammate": "solved",
        "reopen__teammate": "open",
        "reminder__snooze_expired": "open",
    }
    for name, status in expected.items():
        post(live, name)
        assert live.ticket("front", CONVERSATION)["status"] == status, name
    post(live, "trash__teammate")
    assert live.ticket("front", "cnv_keo696")["status"] == "closed"
    post(live, "restore__teammate")
    assert live.ticket("front", "cnv_keo696")["status"] == "open"


def test_tags_carry_the_save_and_the_urgent_tag_sets_the_priority(live):
    post(live, "inbound__full", "tag__saved")
    ticket = live.ticket("front", CONVERSATION)
    assert ticket["tags"] == ["Urgent", "billing", "saved"] and ticket["priority"] == "urgent"
    post(live, "untag__urgent")
    ticket = live.ticket("front", CONVERSATION)
    assert ticket["tags"] == ["billing", "saved"] and ticket["priority"] == "normal"


def test_a_status_missing_from_an_event_preview_follows_from_the_event_type():
    payload = load_fixture_json("front", "archive__teammate")
    payload["payload"]["conversation"] = {"id": CONVERSATION}
    integration = plugin()
    body = json.dumps(payload).encode()
    [event] = integration.parse(Headers(integration.sign(body)), body)
    assert (event.status, event.tags, event.priority) == ("solved", None, None)


def test_front_links_and_configured_fields_become_tracker_links():
    [event] = parse("link_added__jira", link_fields=("jira issue",))
    assert event.links == ("https://acme.atlassian.net/browse/APP-77", "https://acme.atlassian.net/browse/APP-12")


def test_the_challenge_is_echoed_with_200_and_nothing_is_stored(live):
    body = json.dumps({"type": "sync", "authorization": {"id": "cmp_123"}}).encode()
    headers = live.integration("front").sign(body)
    headers["X-Front-Challenge"] = "ch_9f8e7d6c5b4a"
    answer = live.post("front", body, headers)
    assert answer.status_code == 200 and answer.text == "ch_9f8e7d6c5b4a"
    assert live.count(Delivery) == 0


def test_an_unsigned_challenge_is_refused(live):
    body = json.dumps({"type": "sync", "authorization": {"id": "cmp_123"}}).encode()
    answer = live.post("front", body, {"X-Front-Challenge": "ch_1", "Content-Type": "application/json"})
    assert answer.status_code == 401


def test_a_sync_without_a_challenge_is_ignored(live):
    answer = live.post_signed("front", json.dumps({"type": "sync", "authorization": {"id": "cmp_123"}}).encode())
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"


def test_a_legacy_rule_webhook_is_verified_with_the_api_secret(live):
    body = load_fixture("front", "inbound__rule_webhook")
    answer = live.post("front", body, rule_headers(body))
    assert answer.status_code == 202 and answer.json()["delivery_id"] == "evt_28duq11"
    assert live.comments("front", CONVERSATION) == [("customer", True, "Any update? This is really frustrating.")]
    assert live.post("front", body, rule_headers(body)).json()["status"] == "duplicate"
    assert live.post("front", body, rule_headers(body, SECRET)).status_code == 401  # the app key signs app webhooks


def test_rule_webhooks_can_be_turned_off():
    body = load_fixture("front", "inbound__rule_webhook")
    with pytest.raises(SignatureError, match="rule webhooks"):
        plugin(accept_rule_webhooks=False).verify(Headers(rule_headers(body, SECRET)), body)


def test_the_event_id_is_the_delivery_id(live):
    first = live.post_fixture("front", "front", "inbound__full")
    second = live.post_fixture("front", "front", "inbound__full")
    assert first.json()["delivery_id"] == "evt_28duo2q"
    assert second.status_code == 200 and second.json()["status"] == "duplicate"


def test_the_signatures_match_the_reference_vectors():
    assert rule_signature(b"test-secret", b'{"id":1}') == "KXKwPLLfCPipELm0QmECWGCPfUI="
    expected = "Y4JU0XTYE+xRI1DUI9hv2Usnxm8LLM9UkIKXaQQYVZQ="
    assert app_signature(b"test-secret", "1614265330000", b'{"id":1}') == expected
    integration = FrontIntegration(FrontConfig(plugin="front", secret="test-secret"), replay_window_seconds=10**10)
    for timestamp in (1614265330000, 1614265330):  # ms as Front sends it, or seconds
        headers = integration.sign(b'{"id":1}', timestamp=timestamp)
        assert headers["X-Front-Signature"] == expected
        assert headers["X-Front-Request-Timestamp"] == "1614265330000"
        integration.verify(Headers(headers), b'{"id":1}')


def test_a_stale_timestamp_is_refused(live):
    body = load_fixture("front", "inbound__full")
    answer = live.post_signed("front", body, timestamp=int(time.time()) - 3600)
    assert answer.status_code == 401 and "replay window" in answer.json()["detail"]
    assert live.count(Delivery) == 0


def test_a_tampered_body_is_refused_and_nothing_is_stored(live):
    body = load_fixture("front", "inbound__full")
    headers = live.integration("front").sign(body)
    assert live.post("front", body.replace(b"charged twice", b"charged once"), headers).status_code == 401
    assert live.count(Delivery) == 0 and live.count(Ticket) == 0


def test_a_wrong_secret_is_refused(live):
    body = load_fixture("front", "inbound__full")
    headers = live.integration("front").sign(body)
    headers["X-Front-Signature"] = app_signature(b"another-key", headers["X-Front-Request-Timestamp"], body)
    assert live.post("front", body, headers).status_code == 401
    assert live.count(Delivery) == 0 and live.count(Ticket) == 0


def test_a_missing_signature_is_refused(live):
    body = load_fixture("front", "inbound__full")
    headers = live.integration("front").sign(body)
    del headers["X-Front-Signature"]
    answer = live.post("front", body, headers)
    assert answer.status_code == 401 and "X-Front-Signature" in answer.json()["detail"]
    assert live.count(Delivery) == 0 and live.count(Ticket) == 0


def test_a_missing_conversation_id_is_a_dead_letter_naming_the_field(live):
    payload = load_fixture_json("front", "inbound__full")
    del payload["payload"]["conversation"]["id"]
    answer = live.post_signed("front", json.dumps(payload).encode())
    assert answer.status_code == 422 and "payload.conversation.id" in answer.json()["error"]
    with session_scope(live.sessions) as session:
        dead = session.get(Delivery, answer.json()["dead_letter_id"])
        assert dead.state == "dead" and "payload.conversation.id" in dead.error
    assert live.count(Ticket) == 0


def test_an_unknown_event_type_is_ignored(live):
    payload = load_fixture_json("front", "tag__saved")
    payload["type"] = payload["payload"]["type"] = "sending_error"
    answer = live.post_signed("front", json.dumps(payload).encode())
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"


def test_a_ticket_status_category_wins_over_the_legacy_status(live):
    post(live, "inbound__full", "assign__ticket_waiting")
    ticket = live.ticket("front", CONVERSATION)
    assert (ticket["status"], ticket["assignee_email"]) == ("pending", "leela@planet-express.com")


@pytest.mark.parametrize(
    ("status", "category", "expected"),
    [
        ("assigned", "waiting", "pending"),
        ("assigned", "open", "open"),
        ("unassigned", "resolved", "solved"),
        ("snoozed", "open", "open"),
        ("assigned", "Waiting", "pending"),  # compared like vocabulary
        ("deleted", "open", "closed"),  # a deleted or archived conversation left the inbox, whatever its category
        ("archived", "waiting", "solved"),
        ("assigned", None, "open"),  # no ticketing: the legacy status
        ("snoozed", None, "on_hold"),
        ("assigned", "no-such-category", "open"),
    ],
)
def test_the_status_follows_status_category_then_the_legacy_status(status, category, expected):
    payload = load_fixture_json("front", "assign__ticket_waiting")
    payload["payload"]["conversation"].update(status=status, status_category=category)
    [event] = signed_parse(plugin(), json.dumps(payload).encode())
    assert event.status == expected
