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
