"""GitHub plugin: signed fixtures through the real endpoint, parse() per fixture, signature vectors."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from werkzeug.datastructures import Headers

from helpdesk_retain import inbox
from helpdesk_retain.db import session_scope
from helpdesk_retain.integrations import PayloadError, UnsupportedEvent
from helpdesk_retain.models import Delivery
from helpdesk_retain.plugins.github.integration import Config, GithubIntegration
from helpdesk_retain.testing import fixture_names, load_fixture, load_fixture_json, signed_parse

SECRET = "It's a Secret to Everybody"  # GitHub's published test secret
SOURCES = {"github": {"plugin": "github", "secret": SECRET}}

#: fixture -> (issue, state, transition, is_bug)
EXPECTED = {
    "issue_comment_created__ticket_link": ("acme/app#123", "open", False, True),
    "issue_comment_edited__ticket_link": ("acme/app#123", "open", False, True),
    "issues_closed__chinese": ("acme/app#150", "fixed", True, True),
    "issues_closed__completed": ("acme/app#123", "fixed", True, True),
    "issues_closed__duplicate": ("acme/app#140", "wontfix", True, True),
    "issues_closed__minimal": ("acme/app#7", "fixed", True, None),
    "issues_closed__not_planned": ("acme/app#131", "wontfix", True, False),
    "issues_closed__null_reason": ("acme/app#98", "fixed", True, True),
    "issues_closed__null_reason_wontfix_label": ("acme/app#99", "wontfix", True, False),
    "issues_edited__closed_issue": ("acme/app#123", "fixed", False, True),
    "issues_labeled__bug": ("acme/app#160", "open", False, True),
    "issues_opened__full": ("acme/app#123", "open", True, True),
    "issues_reopened__full": ("acme/app#123", "open", True, True),
    "issues_unlabeled__bug": ("acme/app#160", "open", False, False),
}


def plugin(**config: object) -> GithubIntegration:
    return GithubIntegration(Config(plugin="github", secret=SECRET, **config))


def parse(integration: GithubIntegration, body: bytes, **sign: object) -> list:
    return signed_parse(integration, body, **sign)


def stored(live) -> list[tuple[str, str | None]]:  # noqa: ANN001
    with session_scope(live.sessions) as session:
        return [(d.state, d.error) for d in session.execute(select(Delivery)).scalars()]


@pytest.fixture
def live(start_server):  # noqa: ANN001, ANN201
    return start_server(sources=SOURCES)


def test_every_fixture_is_accepted_through_the_endpoint(live):
    names = fixture_names("github")
    for name in names:
        answer = live.post_fixture("github", "github", name)
        assert answer.status_code == 202, (name, answer.text)
        assert answer.json()["status"] == "accepted" and answer.json()["events"] == 1, name
    assert [state for state, _ in stored(live)] == ["processed"] * len(names)


def test_every_fixture_has_an_expectation_and_every_event_kind_a_fixture():
    names = fixture_names("github")
    assert set(names) == set(EXPECTED)
    assert {n.split("__")[0] for n in names} == {k.replace(".", "_") for k in GithubIntegration.event_kinds}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parse_maps_each_fixture_to_its_issue_state(name):
    [event] = parse(plugin(), load_fixture("github", name))
    assert (event.issue, event.state, event.transition, event.is_bug) == EXPECTED[name]
    assert event.tracker == "github" and event.occurred_at.tzinfo is not None
    assert event.occurred_at.utcoffset() == UTC.utcoffset(None)


def test_a_fixed_issue_carries_its_url_title_id_and_ticket_links():
    [event] = parse(plugin(), load_fixture("github", "issues_closed__completed"))
    assert event.url == "https://github.com/acme/app/issues/123"
    assert event.title == "Duplicate charge on payment retry" and event.external_id == "2417391234"
    assert event.occurred_at.isoformat() == "2026-11-22T15:00:00+00:00"
    assert event.links == (
        "https://acme.zendesk.com/agent/tickets/35436",
        "https://acme.zendesk.com/agent/tickets/35502",
    )


def test_a_comment_adds_the_ticket_urls_it_mentions():
    [event] = parse(plugin(), load_fixture("github", "issue_comment_created__ticket_link"))
    assert "https://acme.zendesk.com/agent/tickets/35777" in event.links


def test_an_edited_comment_adds_the_ticket_urls_of_its_new_body():
    [event] = parse(plugin(), load_fixture("github", "issue_comment_edited__ticket_link"))
    assert "https://acme.zendesk.com/agent/tickets/35840" in event.links
    assert "https://acme.zendesk.com/agent/tickets/35777" not in event.links  # the old body is not read
    assert event.transition is False


def test_an_edited_comment_on_a_closed_issue_is_no_transition():
    payload = load_fixture_json("github", "issue_comment_edited__ticket_link")
    payload["issue"] |= {"state": "closed", "state_reason": "completed"}
    [event] = parse(plugin(), json.dumps(payload).encode())
    assert (event.state, event.transition) == ("fixed", False)


def test_an_edited_pull_request_comment_and_a_deleted_comment_are_ignored(live):
    edited = load_fixture_json("github", "issue_comment_edited__ticket_link")
    edited["issue"]["pull_request"] = {"url": "https://api.github.com/repos/acme/app/pulls/123"}
    deleted = load_fixture_json("github", "issue_comment_created__ticket_link") | {"action": "deleted"}
    for payload in (edited, deleted):
        answer = live.post_signed("github", json.dumps(payload).encode(), event="issue_comment")
        assert answer.status_code == 202 and answer.json()["status"] == "ignored", payload["action"]
    assert stored(live) == []


def test_a_chinese_title_survives_intact():
    [event] = parse(plugin(), load_fixture("github", "issues_closed__chinese"))
    assert event.title == "账单页面：重复扣费后无法退款"


def test_the_published_test_vector_verifies():
    body = b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert plugin().sign(body, event="issues")["x-hub-signature-256"] == expected
    plugin().verify(Headers({"X-Hub-Signature-256": expected}), body)


def test_the_computed_regression_vector_verifies():
    integration = GithubIntegration(Config(plugin="github", secret="test-secret"))
    expected = "sha256=1f5f637644edd1b7551c96e61fcee6b5f49aeee77e99eacc1005acbdb6d11a46"
    assert integration.sign(b'{"id":1}')["x-hub-signature-256"] == expected


def test_it_refuses_a_tampered_body_and_stores_nothing(live):
    body = load_fixture("github", "issues_closed__completed")
    headers = live.integration("github").sign(body)
    answer = live.post("github", body.replace(b"completed", b"not_planned"), headers)
    assert answer.status_code == 401
    assert stored(live) == []


def test_it_refuses_a_wrong_secret(live):
    body = load_fixture("github", "issues_closed__completed")
    headers = GithubIntegration(Config(plugin="github", secret="not-the-secret")).sign(body)
    assert live.post("github", body, headers).status_code == 401
    assert stored(live) == []


def test_it_refuses_a_delivery_without_the_sha256_signature(live):
    body = load_fixture("github", "issues_closed__completed")
    headers = live.integration("github").sign(body)
    del headers["x-hub-signature-256"]
    assert live.post("github", body, headers).status_code == 401
    legacy = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert live.post("github", body, {**headers, "X-Hub-Signature": legacy}).status_code == 401
    assert stored(live) == []


def test_a_missing_required_field_is_a_dead_letter_naming_it(live):
    payload = load_fixture_json("github", "issues_closed__completed")
    del payload["repository"]
    answer = live.post_signed("github", json.dumps(payload).encode())
    assert answer.status_code == 422
    assert "repository.full_name" in answer.json()["error"] and answer.json()["dead_letter_id"]
    [(state, error)] = stored(live)
    assert state == "dead" and "repository.full_name" in error


def test_a_ping_and_a_push_are_ignored(live):
    ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 12345678, "hook": {"type": "Repository"}})
    push = json.dumps({"ref": "refs/heads/main", "commits": [], "repository": {"full_name": "acme/app"}})
    for body, event in ((ping, "ping"), (push, "push")):
        answer = live.post_signed("github", body.encode(), event=event)
        assert answer.status_code == 202 and answer.json()["status"] == "ignored", event
    assert stored(live) == []


def test_sign_names_the_event_from_the_body():
    assert (
        plugin().sign(load_fixture("github", "issue_comment_created__ticket_link"))["x-github-event"] == "issue_comment"
    )
    assert plugin().sign(b'{"zen": "Design for failure.", "hook_id": 1}')["x-github-event"] == "ping"


def test_a_redelivery_is_answered_duplicate(live):
    body = load_fixture("github", "issues_closed__completed")
    first = live.post_signed("github", body, delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    second = live.post_signed("github", body, delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["status"] == "duplicate"


def test_form_mode_is_parsed_and_its_form_bytes_are_what_is_signed(live):
    payload = load_fixture("github", "issues_closed__not_planned").decode()
    body = urlencode({"payload": payload}).encode()
    answer = live.post_signed("github", body, event="issues")
    assert answer.status_code == 202 and answer.json()["events"] == 1
    [event] = parse(plugin(), body, event="issues")
    assert (event.issue, event.state) == ("acme/app#131", "wontfix")


def test_a_pull_request_comment_is_ignored():
    payload = load_fixture_json("github", "issue_comment_created__ticket_link")
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/acme/app/pulls/123"}
    with pytest.raises(UnsupportedEvent):
        parse(plugin(), json.dumps(payload).encode())


def test_an_issues_action_without_state_meaning_is_ignored():
    payload = load_fixture_json("github", "issues_labeled__bug") | {"action": "assigned"}
    with pytest.raises(UnsupportedEvent):
        parse(plugin(), json.dumps(payload).encode())


def test_a_delivery_without_an_event_header_is_a_payload_error():
    body = load_fixture("github", "issues_closed__completed")
    headers = Headers(plugin().sign(body))
    del headers["X-GitHub-Event"]
    with pytest.raises(PayloadError, match="X-GitHub-Event"):
        plugin().parse(headers, body)


def test_the_wontfix_and_bug_labels_are_configurable():
    body = load_fixture("github", "issues_closed__null_reason")  # labelled "bug", closed without a reason
    [event] = parse(plugin(wontfix_labels=("Bug",), bug_labels=("defect",)), body)
    assert (event.state, event.is_bug) == ("wontfix", False)


def test_only_bugs_ignores_issues_that_are_not_bugs(start_server):
    live = start_server(sources={"github": {"plugin": "github", "secret": SECRET, "only_bugs": True}})
    assert live.post_fixture("github", "github", "issues_closed__not_planned").json()["status"] == "ignored"
    assert live.post_fixture("github", "github", "issues_closed__completed").json()["status"] == "accepted"


def test_a_stored_delivery_parses_again_from_its_stored_headers(live):
    body = urlencode({"payload": load_fixture("github", "issues_closed__completed").decode()}).encode()
    assert live.post_signed("github", body, event="issues").status_code == 202
    rt = live.app.extensions["helpdesk_retain"]
    with session_scope(rt.sessions) as session:
        row = session.execute(select(Delivery)).scalar_one()
        [event] = inbox.parse_stored(rt, row)  # headers come back as a plain dict with lower-case names
    assert (event.issue, event.state) == ("acme/app#123", "fixed")
