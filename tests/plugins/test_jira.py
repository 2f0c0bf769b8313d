"""Jira plugin: signed fixtures through the real endpoint, parse() per fixture, signature vectors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from werkzeug.datastructures import Headers

from helpdesk_retain.db import session_scope
from helpdesk_retain.integrations import PayloadError, UnsupportedEvent
from helpdesk_retain.models import Delivery
from helpdesk_retain.models.links import Issue
from helpdesk_retain.plugins.jira.integration import Config, JiraIntegration
from helpdesk_retain.testing import fixture_names, load_fixture, load_fixture_json, signed_parse

SECRET = "test-secret"
SOURCES = {"jira": {"plugin": "jira", "secret": SECRET}}

#: fixture -> (issue, state, transition, is_bug)
EXPECTED = {
    "comment_created__ticket_link": ("APP-7", "open", False, None),
    "comment_created__wontfix_status": ("APP-21", "wontfix", False, False),
    "comment_updated__ticket_link": ("APP-12", "fixed", False, True),
    "issue_created__bug": ("APP-12", "open", True, True),
    "issue_updated__chinese": ("APP-40", "fixed", True, True),
    "issue_updated__commented": ("APP-12", "open", False, True),
    "issue_updated__duplicate": ("APP-25", "wontfix", True, True),
    "issue_updated__fixed": ("APP-12", "fixed", True, True),
    "issue_updated__minimal": ("APP-7", "fixed", True, None),
    "issue_updated__priority_on_done": ("APP-12", "fixed", False, True),
    "issue_updated__reopened": ("APP-12", "open", True, True),
    "issue_updated__resolution_fixed": ("APP-30", "fixed", True, True),
    "issue_updated__wontfix": ("APP-20", "wontfix", True, False),
}


def plugin(**config: object) -> JiraIntegration:
    return JiraIntegration(Config(plugin="jira", secret=SECRET, **config))


def parse(integration: JiraIntegration, body: bytes) -> list:
    return signed_parse(integration, body)


def parse_json(payload: object, **config: object) -> list:
    return parse(plugin(**config), json.dumps(payload).encode())


def stored(live) -> list[tuple[str, str | None]]:  # noqa: ANN001
    with session_scope(live.sessions) as session:
        return [(d.state, d.error) for d in session.execute(select(Delivery)).scalars()]


@pytest.fixture
def live(start_server):  # noqa: ANN001, ANN201
    return start_server(sources=SOURCES)


def test_every_fixture_is_accepted_through_the_endpoint(live):
    names = fixture_names("jira")
    for name in names:
        answer = live.post_fixture("jira", "jira", name)
        assert answer.status_code == 202, (name, answer.text)
        assert answer.json()["status"] == "accepted" and answer.json()["events"] == 1, name
    assert [state for state, _ in stored(live)] == ["processed"] * len(names)


def test_every_fixture_has_an_expectation_and_every_event_kind_a_fixture():
    names = fixture_names("jira")
    assert set(names) == set(EXPECTED)
    assert {n.split("__")[0] for n in names} == set(JiraIntegration.event_kinds)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parse_maps_each_fixture_to_its_issue_state(name):
    [event] = parse(plugin(), load_fixture("jira", name))
    assert (event.issue, event.state, event.transition, event.is_bug) == EXPECTED[name]
    assert event.tracker == "jira" and event.occurred_at.utcoffset().total_seconds() == 0


def test_a_fixed_issue_carries_its_browse_url_id_time_and_ticket_links():
    [event] = parse(plugin(), load_fixture("jira", "issue_updated__fixed"))
    assert event.url == "https://acme.atlassian.net/browse/APP-12" and event.external_id == "10012"
    assert event.occurred_at.isoformat() == "2026-11-22T15:00:02.114000+00:00"
    assert event.links == ("https://acme.zendesk.com/agent/tickets/35436",)


def test_a_comment_delivered_as_an_update_adds_its_ticket_links():
    [event] = parse(plugin(), load_fixture("jira", "issue_updated__commented"))
    assert "https://acme.zendesk.com/agent/tickets/35777" in event.links


def test_a_comment_event_carries_the_ticket_links_of_its_comment_and_is_no_transition():
    [event] = parse(plugin(), load_fixture("jira", "comment_created__ticket_link"))
    assert event.links == ("https://acme.zendesk.com/agent/tickets/35801",)
    assert (event.transition, event.title, event.external_id) == (False, "Export fails for large accounts", "10007")
    assert event.url == "https://acme.atlassian.net/browse/APP-7"
    assert event.occurred_at.isoformat() == "2026-11-21T11:16:00+00:00"


def test_an_edited_comment_carries_the_links_of_its_new_body():
    [event] = parse(plugin(), load_fixture("jira", "comment_updated__ticket_link"))
    assert event.links == (
        "https://acme.zendesk.com/agent/tickets/35777",
        "https://acme.zendesk.com/agent/tickets/35812",
    )
    assert (event.state, event.transition) == ("fixed", False)


def test_a_comment_in_atlassian_document_format_is_read():
    payload = load_fixture_json("jira", "comment_created__ticket_link")
    url = "https://acme.zendesk.com/agent/tickets/35802"
    payload["comment"]["body"] = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": f"Also {url}"}]}],
    }
    [event] = parse_json(payload)
    assert event.links == (url,)


def test_a_comment_time_falls_back_to_the_comment_update():
    payload = load_fixture_json("jira", "comment_updated__ticket_link")
    del payload["timestamp"]
    [event] = parse_json(payload)
    assert event.occurred_at.isoformat() == "2026-11-23T08:05:00+00:00"


def test_a_comment_on_a_done_issue_whose_resolution_the_event_omits_is_ignored():
    """Comment events trim the resolution: "Done" could be Won't Do, so no state is claimed (202 ignored)."""
    payload = load_fixture_json("jira", "comment_updated__ticket_link")
    del payload["issue"]["fields"]["resolution"]
    with pytest.raises(UnsupportedEvent, match="resolution"):
        parse_json(payload)
    del payload["issue"]["fields"]["status"]["statusCategory"]
    with pytest.raises(UnsupportedEvent, match="resolution"):
        parse_json(payload)


def test_a_comment_whose_issue_has_no_status_is_a_payload_error():
    payload = load_fixture_json("jira", "comment_created__ticket_link")
    del payload["issue"]["fields"]["status"]
    with pytest.raises(PayloadError, match="issue.fields.status"):
        parse_json(payload)


def test_a_comment_never_changes_a_stored_wont_fix_into_fixed(live):
    assert live.post_fixture("jira", "jira", "issue_updated__wontfix").json()["status"] == "accepted"
    comment = load_fixture_json("jira", "comment_updated__ticket_link")
    comment["issue"] = load_fixture_json("jira", "issue_updated__wontfix")["issue"]
    del comment["issue"]["fields"]["resolution"]  # as a comment event trims it: "Done" alone
    answer = live.post_signed("jira", json.dumps(comment).encode())
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    comment["issue"]["fields"]["resolution"] = {"name": "Won't Do"}
    assert live.post_signed("jira", json.dumps(comment).encode()).json()["status"] == "accepted"
    with session_scope(live.sessions) as session:
        [(state, cycle)] = session.execute(select(Issue.state, Issue.fix_cycle).where(Issue.key == "APP-20")).all()
        assert (state, cycle) == ("wontfix", 0)  # a change to fixed would have started a fix cycle


def test_a_localised_resolution_and_chinese_summary_are_read():
    [event] = parse(plugin(), load_fixture("jira", "issue_updated__chinese"))
    assert (event.state, event.title) == ("fixed", "导出报表时重复扣费")


def test_the_time_falls_back_to_the_issue_updated_field():
    payload = load_fixture_json("jira", "issue_updated__fixed")
    del payload["timestamp"]
    [event] = parse_json(payload)
    assert event.occurred_at.isoformat() == "2026-11-22T15:00:02.114000+00:00"


def test_the_computed_regression_vector_verifies():
    expected = "sha256=1f5f637644edd1b7551c96e61fcee6b5f49aeee77e99eacc1005acbdb6d11a46"
    assert plugin().sign(b'{"id":1}')["x-hub-signature"] == expected
    plugin().verify(Headers({"x-hub-signature": expected}), b'{"id":1}')


def test_it_refuses_a_tampered_body_and_stores_nothing(live):
    body = load_fixture("jira", "issue_updated__fixed")
    headers = live.integration("jira").sign(body)
    assert live.post("jira", body.replace(b'"Done"', b'"Won\'t Do"'), headers).status_code == 401
    assert stored(live) == []


def test_it_refuses_a_wrong_secret(live):
    body = load_fixture("jira", "issue_updated__fixed")
    headers = JiraIntegration(Config(plugin="jira", secret="other")).sign(body)
    assert live.post("jira", body, headers).status_code == 401
    assert stored(live) == []


def test_it_refuses_an_unsigned_delivery(live):
    body = load_fixture("jira", "issue_updated__fixed")
    headers = live.integration("jira").sign(body)
    del headers["x-hub-signature"]
    assert live.post("jira", body, headers).status_code == 401
    sha1 = {**headers, "X-Hub-Signature": "sha1=2972b03cb2df08f8a910b9b442610258608f7d42"}
    assert live.post("jira", body, sha1).status_code == 401
    assert stored(live) == []


def test_a_missing_required_field_is_a_dead_letter_naming_it(live):
    payload = load_fixture_json("jira", "issue_updated__fixed")
    del payload["issue"]["key"]
    answer = live.post_signed("jira", json.dumps(payload).encode())
    assert answer.status_code == 422
    assert "issue.key" in answer.json()["error"] and answer.json()["dead_letter_id"]
    [(state, error)] = stored(live)
    assert state == "dead" and "issue.key" in error


def test_comment_deleted_sprint_and_delete_events_are_ignored(live):
    events = ("comment_deleted", "jira:issue_deleted", "sprint_started", "jira:worklog_updated")
    for name in events:
        body = json.dumps({"timestamp": 1795359602000, "webhookEvent": name, "issue": {"key": "APP-1"}}).encode()
        answer = live.post_signed("jira", body)
        assert answer.status_code == 202 and answer.json()["status"] == "ignored", name
    assert stored(live) == []


def test_a_retry_with_the_same_identifier_is_answered_duplicate(live):
    body = load_fixture("jira", "issue_updated__fixed")
    first = live.post_signed("jira", body, delivery_id="8b6e1b1c-1c0b-4f0e-9e7e-1c2d3e4f5a6b")
    second = live.post_signed("jira", body, delivery_id="8b6e1b1c-1c0b-4f0e-9e7e-1c2d3e4f5a6b")
    assert (first.status_code, second.status_code) == (202, 200)


def test_a_status_category_other_than_done_is_open_even_with_a_stale_resolution():
    payload = load_fixture_json("jira", "issue_updated__reopened")
    payload["issue"]["fields"]["resolution"] = {"name": "Done"}  # a workflow that forgot to clear it
    [event] = parse_json(payload)
    assert event.state == "open"


def test_without_a_status_the_resolution_decides():
    payload = load_fixture_json("jira", "issue_updated__minimal")
    del payload["issue"]["fields"]["status"]
    assert parse_json(payload)[0].state == "fixed"
    payload["issue"]["fields"]["resolution"] = None
    assert parse_json(payload)[0].state == "open"


def test_the_wontfix_resolutions_and_bug_types_are_configurable():
    payload = load_fixture_json("jira", "issue_updated__chinese")  # resolution "完成"
    [event] = parse_json(payload, wontfix_resolutions=("完成",), bug_issue_types=("Defect",))
    assert (event.state, event.is_bug) == ("wontfix", False)


def test_only_bugs_ignores_other_issue_types():
    with pytest.raises(UnsupportedEvent, match="not a bug"):
        parse(plugin(only_bugs=True), load_fixture("jira", "issue_updated__wontfix"))
