"""Linear plugin: signed fixtures through the real endpoint, parse() per fixture, replay window."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import select
from werkzeug.datastructures import Headers

from helpdesk_retain.db import session_scope
from helpdesk_retain.integrations import PayloadError, SignatureError, UnsupportedEvent
from helpdesk_retain.models import Delivery
from helpdesk_retain.plugins.linear.integration import Config, LinearIntegration
from helpdesk_retain.testing import fixture_names, load_fixture, load_fixture_json, signed_parse

SECRET = "test-secret"
SOURCES = {"linear": {"plugin": "linear", "secret": SECRET}}

#: fixture -> (issue, state, transition, is_bug)
EXPECTED = {
    "issue_create__bug": ("ENG-7", "open", True, True),
    "issue_update__canceled": ("ENG-31", "wontfix", True, False),
    "issue_update__chinese": ("ENG-40", "fixed", True, True),
    "issue_update__completed": ("ENG-7", "fixed", True, True),
    "issue_update__duplicate": ("ENG-35", "wontfix", True, True),
    "issue_update__duplicate_state_type": ("ENG-36", "wontfix", True, True),
    "issue_update__minimal": ("ENG-9", "fixed", True, None),
    "issue_update__reopened": ("ENG-7", "open", True, True),
    "issue_update__title_on_completed": ("ENG-7", "fixed", False, True),
    "issue_update__unknown_state_type": ("ENG-7", "open", False, True),
    "issue_update__without_identifier": ("ENG-51", "fixed", True, True),
}


def fresh(body: bytes, at_ms: int | None = None) -> bytes:
    """Linear stamps ``webhookTimestamp`` when it sends; do the same to a stored fixture."""
    stamp = int(time.time() * 1000) if at_ms is None else at_ms
    return re.sub(rb'"webhookTimestamp": \d+', b'"webhookTimestamp": %d' % stamp, body)


def plugin(**config: object) -> LinearIntegration:
    return LinearIntegration(Config(plugin="linear", secret=SECRET, **config))


def parse(integration: LinearIntegration, body: bytes) -> list:
    return signed_parse(integration, fresh(body))


def stored(live) -> list[tuple[str, str | None]]:  # noqa: ANN001
    with session_scope(live.sessions) as session:
        return [(d.state, d.error) for d in session.execute(select(Delivery)).scalars()]


@pytest.fixture
def live(start_server):  # noqa: ANN001, ANN201
    return start_server(sources=SOURCES)


def test_every_fixture_is_accepted_through_the_endpoint(live):
    names = fixture_names("linear")
    for name in names:
        answer = live.post_signed("linear", fresh(load_fixture("linear", name)))
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json()["status"] == "accepted" and answer.json()["events"] == 1, name
    assert [state for state, _ in stored(live)] == ["processed"] * len(names)


def test_every_fixture_has_an_expectation_and_every_event_kind_a_fixture():
    names = fixture_names("linear")
    assert set(names) == set(EXPECTED)
    assert {n.split("__")[0] for n in names} == {k.replace(".", "_") for k in LinearIntegration.event_kinds}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parse_maps_each_fixture_to_its_issue_state(name):
    [event] = parse(plugin(), load_fixture("linear", name))
    assert (event.issue, event.state, event.transition, event.is_bug) == EXPECTED[name]
    assert event.tracker == "linear" and event.occurred_at.utcoffset().total_seconds() == 0


def test_a_completed_issue_carries_its_url_id_time_and_ticket_links():
    [event] = parse(plugin(), load_fixture("linear", "issue_update__completed"))
    assert event.url == "https://linear.app/acme/issue/ENG-7/duplicate-charge-on-payment-retry"
    assert event.external_id == "3443a709-f2b5-46f2-a136-a0445fd43207"
    assert event.occurred_at.isoformat() == "2026-11-22T15:00:02+00:00"
    assert event.links == ("https://acme.zendesk.com/agent/tickets/35436",)


def test_a_chinese_title_survives_intact():
    [event] = parse(plugin(), load_fixture("linear", "issue_update__chinese"))
    assert event.title == "导出报表时重复扣费"


def test_the_identifier_falls_back_to_the_issue_url():
    payload = load_fixture_json("linear", "issue_update__without_identifier")
    del payload["data"]["team"]
    [event] = parse(plugin(), json.dumps(payload).encode())
    assert event.issue == "ENG-51"


def test_the_computed_regression_vector_verifies():
    expected = "1f5f637644edd1b7551c96e61fcee6b5f49aeee77e99eacc1005acbdb6d11a46"
    assert plugin().sign(b'{"id":1}')["linear-signature"] == expected
    plugin().verify(Headers({"Linear-Signature": expected}), b'{"id":1}')


def test_a_stale_webhook_timestamp_is_refused(live):
    body = fresh(load_fixture("linear", "issue_update__completed"), at_ms=int(time.time() * 1000) - 3_600_000)
    answer = live.post_signed("linear", body)
    assert answer.status_code == 401 and "replay window" in answer.json()["detail"]
    assert stored(live) == []


def test_a_body_without_a_webhook_timestamp_is_accepted_as_linears_sdk_does():
    body = load_fixture("linear", "issue_update__minimal")
    assert b"webhookTimestamp" not in body
    plugin().verify(Headers(plugin().sign(body)), body)


def test_a_webhook_timestamp_that_is_not_a_number_is_refused():
    body = b'{"type": "Issue", "action": "update", "webhookTimestamp": "soon"}'
    with pytest.raises(SignatureError):
        plugin().verify(Headers(plugin().sign(body)), body)


def test_it_refuses_a_tampered_body_and_stores_nothing(live):
    body = fresh(load_fixture("linear", "issue_update__completed"))
    headers = live.integration("linear").sign(body)
    assert live.post("linear", body.replace(b'"completed"', b'"canceled"'), headers).status_code == 401
    assert stored(live) == []


def test_it_refuses_a_wrong_secret(live):
    body = fresh(load_fixture("linear", "issue_update__completed"))
    headers = LinearIntegration(Config(plugin="linear", secret="other")).sign(body)
    assert live.post("linear", body, headers).status_code == 401
    assert stored(live) == []


def test_it_refuses_a_delivery_without_a_signature(live):
    body = fresh(load_fixture("linear", "issue_update__completed"))
    headers = live.integration("linear").sign(body)
    del headers["linear-signature"]
    assert live.post("linear", body, headers).status_code == 401
    assert stored(live) == []


def test_a_missing_required_field_is_a_dead_letter_naming_it(live):
    payload = json.loads(fresh(load_fixture("linear", "issue_update__completed")))
    del payload["data"]["state"]
    answer = live.post_signed("linear", json.dumps(payload).encode())
    assert answer.status_code == 422
    assert "data.state.type" in answer.json()["error"] and answer.json()["dead_letter_id"]
    [(state, error)] = stored(live)
    assert state == "dead" and "data.state.type" in error


def test_comments_labels_and_removals_are_ignored(live):
    now = int(time.time() * 1000)
    for kind, action in (("Comment", "create"), ("IssueLabel", "create"), ("Issue", "remove"), ("Project", "update")):
        body = json.dumps({"action": action, "type": kind, "data": {"id": "x"}, "webhookTimestamp": now}).encode()
        answer = live.post_signed("linear", body)
        assert answer.status_code == 200 and answer.json()["status"] == "ignored", kind
    assert stored(live) == []


def test_a_repeated_delivery_is_answered_duplicate(live):
    body = fresh(load_fixture("linear", "issue_update__completed"))
    first = live.post_signed("linear", body, delivery_id="5b0c5f1e-6d1a-4c7e-8d2f-0a1b2c3d4e5f")
    second = live.post_signed("linear", body, delivery_id="5b0c5f1e-6d1a-4c7e-8d2f-0a1b2c3d4e5f")
    assert first.status_code in (200, 202) and second.json()["status"] == "duplicate"


def test_the_duplicate_state_type_is_a_wont_fix_like_canceled():
    [event] = parse(plugin(), load_fixture("linear", "issue_update__duplicate_state_type"))
    assert (event.state, event.transition) == ("wontfix", True)
    assert event.links == ("https://acme.zendesk.com/agent/tickets/35830",)


def test_an_unknown_state_type_is_kept_as_an_update_that_is_no_transition(live):
    """A state type Linear adds later is not a 422: the event (and its links) is applied as a plain update."""
    [event] = parse(plugin(), load_fixture("linear", "issue_update__unknown_state_type"))
    assert (event.state, event.transition) == ("open", False)  # although updatedFrom has the stateId
    answer = live.post_signed("linear", fresh(load_fixture("linear", "issue_update__unknown_state_type")))
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"


def test_an_unknown_state_type_follows_the_completed_and_canceled_times():
    payload = load_fixture_json("linear", "issue_update__unknown_state_type")
    payload["data"]["completedAt"] = "2026-11-24T08:00:00.000Z"
    [event] = parse(plugin(), json.dumps(payload).encode())
    assert (event.state, event.transition) == ("fixed", False)
    payload["data"] |= {"completedAt": None, "canceledAt": "2026-11-24T08:00:00.000Z"}
    [event] = parse(plugin(), json.dumps(payload).encode())
    assert (event.state, event.transition) == ("wontfix", False)


def test_a_state_type_that_is_not_a_string_is_a_payload_error():
    payload = load_fixture_json("linear", "issue_update__minimal")
    payload["data"]["state"]["type"] = 3
    with pytest.raises(PayloadError, match="data.state.type"):
        parse(plugin(), json.dumps(payload).encode())


def test_the_bug_labels_are_configurable_and_only_bugs_filters():
    [event] = parse(plugin(bug_labels=("Feature",)), load_fixture("linear", "issue_update__canceled"))
    assert event.is_bug is True
    with pytest.raises(UnsupportedEvent, match="not a bug"):
        parse(plugin(only_bugs=True), load_fixture("linear", "issue_update__canceled"))


def test_linear_asks_core_for_a_200_answer():
    assert LinearIntegration.success_status == 200
