"""The webhook endpoint's answers (CONTRACT.md), through a real HTTP server."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Delivery, Ticket, TicketLog
from helpdesk_retain.testing import load_fixture


def count(runtime, model) -> int:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def event(ticket_id: str = "T-1", updated: str = "2026-11-20T09:12:00Z", **ticket: object) -> bytes:
    body = {
        "event": "ticket.updated",
        "occurred_at": updated,
        "ticket": {"id": ticket_id, "updated_at": updated, **ticket},
    }
    return json.dumps(body).encode()


def test_it_accepts_a_signed_delivery_and_shows_the_ticket(server):
    answer = server.post_fixture("generic", "generic", "ticket_created__full")
    assert answer.status_code == 202
    assert answer.json()["status"] == "accepted" and answer.json()["events"] == 1
    ticket = server.ticket("generic", "T-100")
    assert ticket["subject"] == "Charged twice for November"
    assert ticket["priority"] == "high" and ticket["tags"] == ["billing", "vip"]
    assert ticket["customer"] == {"email": "ana@example.com", "name": "Ana Lima"}


def test_it_answers_duplicate_for_a_delivery_seen_before(server, runtime):
    body = load_fixture("generic", "ticket_created__full")
    first = server.post_signed("generic", body, delivery_id="msg_same")
    second = server.post_signed("generic", body, delivery_id="msg_same")
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["status"] == "duplicate"
    assert count(runtime, Delivery) == 1


def test_it_ignores_an_event_kind_it_does_not_handle(server, runtime):
    body = json.dumps({"event": "article.published", "occurred_at": "2026-11-20T09:00:00Z"}).encode()
    answer = server.post_signed("generic", body)
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert count(runtime, Delivery) == 0


def test_it_answers_404_for_an_unknown_source(server):
    answer = server.post("nope", b"{}", {"content-type": "application/json"})
    assert answer.status_code == 404 and answer.json()["error"] == "unknown source"


def test_it_refuses_a_tampered_body_and_stores_nothing(server, runtime):
    body = load_fixture("generic", "ticket_created__full")
    headers = server.integration("generic").sign(body)
    answer = server.post("generic", body.replace(b"twice", b"thrice"), headers)
    assert answer.status_code == 401
    assert count(runtime, Delivery) == 0 and count(runtime, Ticket) == 0


def test_it_refuses_a_wrong_secret(server, runtime):
    from helpdesk_retain.plugins.generic.integration import standard_webhooks_signature

    body = load_fixture("generic", "ticket_created__minimal")
    headers = server.integration("generic").sign(body)
    headers["webhook-signature"] = standard_webhooks_signature(
        b"other-key", headers["webhook-id"], headers["webhook-timestamp"], body
    )
    assert server.post("generic", body, headers).status_code == 401
    assert count(runtime, Delivery) == 0


def test_it_refuses_a_stale_timestamp(server, runtime):
    body = load_fixture("generic", "ticket_created__minimal")
    answer = server.post_signed("generic", body, timestamp=int(time.time()) - 3600)
    assert answer.status_code == 401 and "replay window" in answer.json()["detail"]
    assert count(runtime, Delivery) == 0


def test_it_refuses_a_missing_signature_header(server, runtime):
    body = load_fixture("generic", "ticket_created__minimal")
    for missing in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        headers = server.integration("generic").sign(body)
        del headers[missing]
        answer = server.post("generic", body, headers)
        assert answer.status_code == 401, missing
    assert count(runtime, Delivery) == 0


def test_it_refuses_a_body_over_the_limit_with_413(server, runtime):
    body = b'{"event": "ticket.created", "pad": "' + b"x" * 2_000_000 + b'"}'
    answer = server.post_signed("generic", body)
    assert answer.status_code == 413
    assert count(runtime, Delivery) == 0


def test_it_keeps_a_signed_non_json_body_as_a_dead_letter_with_422(server, runtime):
    answer = server.post_signed("generic", b"{not json")
    assert answer.status_code == 422
    with session_scope(runtime.sessions) as session:
        assert session.get(Delivery, answer.json()["dead_letter_id"]).state == "dead"


def test_it_answers_415_for_a_body_that_is_not_json_nor_labelled_json(server, runtime):
    body = b"ticket=T-1&status=open"
    headers = {**server.integration("generic").sign(body), "content-type": "application/x-www-form-urlencoded"}
    answer = server.post("generic", body, headers)
    assert answer.status_code == 415
    dead_id = answer.json()["dead_letter_id"]
    with session_scope(runtime.sessions) as session:
        row = session.get(Delivery, dead_id)
        assert row.state == "dead" and row.body == b"ticket=T-1&status=open"


def test_it_answers_422_naming_the_missing_field_and_keeps_a_dead_letter(server, runtime):
    body = json.dumps({"event": "ticket.created", "occurred_at": "2026-11-20T09:00:00Z", "ticket": {}}).encode()
    answer = server.post_signed("generic", body)
    assert answer.status_code == 422
    assert "ticket.id" in answer.json()["error"]
    assert answer.json()["dead_letter_id"]
    assert count(runtime, Ticket) == 0


def test_an_older_update_does_not_overwrite_newer_fields(server):
    server.post_signed("generic", event(updated="2026-11-20T12:00:00Z", status="pending", subject="new"))
    server.post_signed("generic", event(updated="2026-11-20T10:00:00Z", status="open", subject="old"))
    ticket = server.ticket("generic", "T-1")
    assert ticket["status"] == "pending" and ticket["subject"] == "new"
    assert ticket["updated_at"].startswith("2026-11-20T12:00:00")


def test_the_older_update_is_still_kept_in_the_event_log(server, runtime):
    server.post_signed("generic", event(updated="2026-11-20T12:00:00Z", status="pending"))
    server.post_signed("generic", event(updated="2026-11-20T10:00:00Z", status="open"))
    assert count(runtime, TicketLog) == 2


def test_a_comment_is_appended_to_the_log_once_even_if_delivered_twice_with_new_ids(server, runtime):
    server.post_fixture("generic", "generic", "ticket_created__full")
    body = load_fixture("generic", "comment_created__customer")
    server.post_signed("generic", body, delivery_id="a")
    server.post_signed("generic", body, delivery_id="b")
    with session_scope(runtime.sessions) as session:
        kinds = session.execute(select(TicketLog.kind).order_by(TicketLog.id)).scalars().all()
    assert kinds == ["created", "comment"]


def test_the_spec_published_test_vector_verifies():
    from helpdesk_retain.plugins.generic.integration import standard_webhooks_key, standard_webhooks_signature

    key = standard_webhooks_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = standard_webhooks_signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_any_of_several_signatures_may_match_for_secret_rotation(server):
    body = load_fixture("generic", "ticket_created__minimal")
    headers = server.integration("generic").sign(body)
    headers["webhook-signature"] = "v1,bm90LXRoaXMtb25l " + headers["webhook-signature"]
    assert server.post("generic", body, headers).status_code == 202


def test_a_customer_first_known_by_vendor_id_takes_the_email_when_a_delivery_shows_both(server, runtime):
    from helpdesk_retain.models import Customer

    server.post_signed("generic", event("T-1", requester={"external_id": "u-7"}))
    server.post_signed("generic", event("T-2", requester={"external_id": "u-7", "email": "Bo@Example.com"}))
    with session_scope(runtime.sessions) as session:
        customers = session.execute(select(Customer.key, Customer.email)).all()
    assert customers == [("bo@example.com", "bo@example.com")]
    assert server.ticket("generic", "T-1")["customer"]["email"] == "bo@example.com"
