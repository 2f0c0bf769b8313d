"""Generic plugin: every fixture through the real endpoint; an issue's ``links`` link back the tickets they name.

Signature checks, duplicates and the ticket shape are in ``tests/test_webhooks.py``.
"""

from __future__ import annotations

import json

import pytest

from helpdesk_retain.events import IssueEvent
from helpdesk_retain.integrations import IntegrationConfig
from helpdesk_retain.plugins.generic.integration import GenericIntegration
from helpdesk_retain.testing import GENERIC_TEST_SECRET, LiveServer, fixture_names, load_fixture

TICKET_URL = "https://support.example.com/tickets/T-100"


def plugin() -> GenericIntegration:
    return GenericIntegration(IntegrationConfig(plugin="generic", secret=GENERIC_TEST_SECRET))


def parse(body: bytes) -> list:
    integration = plugin()
    return integration.parse(integration.sign(body), body)


def post_ticket(server: LiveServer, ticket_id: str, url: str) -> None:
    body = {"event": "ticket.created", "occurred_at": "2026-11-20T09:12:00Z", "ticket": {"id": ticket_id, "url": url}}
    assert server.post_signed("generic", json.dumps(body).encode()).status_code == 202


@pytest.mark.parametrize("name", fixture_names("generic"))
def test_every_fixture_is_accepted(server, name):
    answer = server.post_fixture("generic", "generic", name)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "accepted" and answer.json()["events"] == 1


def test_an_issue_passes_its_links_on_as_given():
    [event] = parse(load_fixture("generic", "issue_updated__with_links"))
    assert isinstance(event, IssueEvent)
    assert (event.tracker, event.issue, event.state) == ("jira", "APP-12", "fixed")
    assert event.links == (TICKET_URL, "https://acme.zendesk.com/agent/tickets/35436")


def test_an_issue_without_links_has_none_and_a_lone_url_counts_as_one():
    [plain] = parse(load_fixture("generic", "issue_updated__fixed"))
    assert plain.links == ()
    body = {"event": "issue.updated", "occurred_at": "2026-11-22T15:00:00Z",
            "issue": {"tracker": "jira", "id": "APP-12", "state": "open", "links": TICKET_URL}}  # fmt: skip
    [lone] = parse(json.dumps(body).encode())
    assert lone.links == (TICKET_URL,)


def test_an_issue_with_links_links_back_the_ticket_whose_url_it_names(server):
    post_ticket(server, "T-100", TICKET_URL)
    post_ticket(server, "T-200", "https://support.example.com/tickets/T-200")
    answer = server.post_fixture("generic", "generic", "issue_updated__with_links")
    assert answer.status_code == 202 and answer.json()["status"] == "accepted", answer.text
    linked = [(x["tracker"], x["issue"], x["state"]) for x in server.ticket("generic", "T-100")["bug_links"]]
    assert linked == [("jira", "APP-12", "fixed")]
    assert server.ticket("generic", "T-200")["bug_links"] == []


@pytest.mark.parametrize(
    "payload",
    [
        {"event": ["ticket.created"], "occurred_at": "2026-11-20T09:12:00Z", "ticket": {"id": "T-1"}},
        {"event": {}, "occurred_at": "2026-11-20T09:12:00Z", "ticket": {"id": "T-1"}},
        {"event": "ticket.created", "occurred_at": 10**17, "ticket": {"id": "T-1"}},
        {"event": "ticket.created", "occurred_at": 1e300, "ticket": {"id": "T-1"}},
        {"event": "comment.created", "occurred_at": "2026-11-20T09:12:00Z", "ticket": {"id": "T-1"},
         "comment": {"id": "c1", "body": "hi", "author_role": "customer", "public": "maybe"}},
    ],
    ids=["event-list", "event-object", "epoch-year-3e9", "epoch-1e300", "public-not-boolean"],
)  # fmt: skip
def test_a_badly_typed_field_is_422_and_a_dead_letter_not_a_500(server, runtime, payload):
    from helpdesk_retain.db import session_scope
    from helpdesk_retain.models import Delivery

    answer = server.post_signed("generic", json.dumps(payload).encode())
    assert answer.status_code == 422, answer.text
    with session_scope(runtime.sessions) as session:
        assert session.get(Delivery, answer.json()["dead_letter_id"]).state == "dead"


@pytest.mark.parametrize(("given", "public"), [(None, True), ("false", False), ("TRUE", True), (False, False)])
def test_comment_public_null_means_unsaid_and_string_booleans_are_read(given, public):
    body = {"event": "comment.created", "occurred_at": "2026-11-20T09:12:00Z", "ticket": {"id": "T-1"},
            "comment": {"id": "c1", "body": "hi", "author_role": "customer", "public": given}}  # fmt: skip
    [event] = parse(json.dumps(body).encode())
    assert event.comment.public is public


def test_a_whsec_secret_without_its_base64_padding_verifies_as_the_padded_one():
    from helpdesk_retain.plugins.generic.integration import standard_webhooks_key

    padded = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"[:30] + "=="  # 30 chars: 22 bytes, 2 padding characters
    assert standard_webhooks_key(padded.rstrip("=")) == standard_webhooks_key(padded)


def test_a_whsec_secret_that_is_not_base64_stops_startup_naming_the_key():
    from helpdesk_retain.config import ConfigError, settings_from_dict
    from helpdesk_retain.runtime import build_runtime

    raw = {
        "database": {"url": "sqlite://"},
        "sources": {"generic": {"plugin": "generic", "secret": "whsec_!!notbase64"}},
    }
    with pytest.raises(ConfigError, match=r"sources\.generic\.secret"):
        build_runtime(settings_from_dict(raw, environ={}))


def test_a_parser_bug_keeps_the_body_as_a_dead_letter_that_replays_once_fixed(server, runtime, monkeypatch):
    from helpdesk_retain import inbox
    from helpdesk_retain.db import session_scope
    from helpdesk_retain.models import Delivery
    from helpdesk_retain.plugins.generic import integration as generic

    def broken(payload):  # noqa: ANN001, ANN202
        raise KeyError("a bug")

    body = load_fixture("generic", "ticket_created__minimal")
    monkeypatch.setattr(generic, "parse_payload", broken)
    answer = server.post_signed("generic", body)
    assert answer.status_code == 422, answer.text
    dead_id = answer.json()["dead_letter_id"]
    assert inbox.replay(runtime, dead_id).startswith("still dead: KeyError")
    monkeypatch.undo()
    assert inbox.replay(runtime, dead_id) == "processed"
    with session_scope(runtime.sessions) as session:
        assert session.get(Delivery, dead_id).state == "processed"
