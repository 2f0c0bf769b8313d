"""Bug links through the real endpoint: what a ticket links, where from, and the issue state it shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from helpdesk_retain.buglinks import tickets_for
from helpdesk_retain.db import session_scope
from helpdesk_retain.events import IssueEvent, TicketEvent
from helpdesk_retain.inbox import accept
from helpdesk_retain.ingest import Context, apply_events
from helpdesk_retain.links import ticket_refs
from helpdesk_retain.models import Ticket
from helpdesk_retain.models.links import BugLink
from helpdesk_retain.testing import GENERIC_TEST_SECRET, load_fixture

ISSUE_URL = "https://github.com/acme/app/issues/123"


def post(server, kind: str, at: str = "2026-11-20T09:00:00Z", **payload) -> None:  # noqa: ANN001
    body = json.dumps({"event": kind, "occurred_at": at, **payload}).encode()
    answer = server.post_signed("generic", body)
    assert answer.status_code == 202, answer.text


def ticket(server, tid: str = "T-1", **fields) -> None:  # noqa: ANN001
    post(server, "ticket.created", ticket={"id": tid, "updated_at": "2026-11-20T09:00:00Z", **fields})


def comment(server, tid: str, cid: str, body: str, **fields) -> None:  # noqa: ANN001
    c = {"id": cid, "body": body, "public": True, "author_role": "customer", "created_at": "2026-11-20T10:00:00Z"}
    post(server, "comment.created", "2026-11-20T10:00:00Z", ticket={"id": tid}, comment={**c, **fields})


def issue(server, id_: str, state: str, at: str, tracker: str = "github") -> None:  # noqa: ANN001
    post(server, "issue.updated", at, issue={"tracker": tracker, "id": id_, "state": state, "updated_at": at})


def links(server, tid: str = "T-1") -> list[dict]:
    return server.ticket("generic", tid)["bug_links"]


def origins(runtime) -> dict[str, str]:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        return dict(session.execute(select(BugLink.issue, BugLink.origin)).all())


def test_a_url_in_the_description_links_the_issue_as_open_until_the_tracker_says_more(server, runtime):
    ticket(server, description=f"It charged me twice, dev says {ISSUE_URL}?from=mail.")
    assert links(server) == [{"tracker": "github", "issue": "acme/app#123", "state": "open", "url": ISSUE_URL}]
    assert origins(runtime) == {"acme/app#123": "description"}


def test_a_url_in_a_comment_links_the_issue(server, runtime):
    ticket(server)
    comment(server, "T-1", "C-7", "客户反馈：https://gitlab.com/acme/web/-/issues/5。")
    assert [(x["tracker"], x["issue"]) for x in links(server)] == [("gitlab", "acme/web#5")]
    assert origins(runtime) == {"acme/web#5": "comment:C-7"}


def test_a_configured_custom_field_links_the_issue(start_server):
    source = {"plugin": "generic", "secret": GENERIC_TEST_SECRET, "link_fields": ["jira_issue"]}
    server = start_server(sources={"generic": source})
    ticket(server, custom_fields={"jira_issue": "APP-12", "notes": "OPS-1"})
    assert [(x["tracker"], x["issue"]) for x in links(server)] == [("jira", "APP-12")]


def test_a_bare_jira_key_links_only_for_a_configured_project(start_server):
    server = start_server(extra={"links": {"jira_projects": ["APP"]}})
    ticket(server, "T-1", description="Looks like APP-12 again; unrelated to OPS-4.")
    ticket(server, "T-2", description="no key here: app-12")
    assert [(x["tracker"], x["issue"], x["state"]) for x in links(server, "T-1")] == [("jira", "APP-12", "open")]
    assert links(server, "T-2") == []


def test_a_tag_matching_the_configured_pattern_links_a_linear_issue(start_server):
    pattern = {"pattern": r"bug-(?P<team>[a-z]+)-(?P<n>\d+)", "tracker": "linear", "issue": "{team}-{n}"}
    server = start_server(extra={"links": {"tag_patterns": [pattern]}})
    ticket(server, tags=["vip", "bug-web-44"])
    assert [(x["tracker"], x["issue"]) for x in links(server)] == [("linear", "WEB-44")]


def test_the_same_issue_found_in_many_places_is_linked_once_with_its_first_origin(server, runtime):
    ticket(server, description=f"see {ISSUE_URL}", links=[ISSUE_URL, "https://github.com/ACME/App/issues/123"])
    comment(server, "T-1", "C-1", f"still broken {ISSUE_URL}")
    post(server, "ticket.updated", "2026-11-20T11:00:00Z", ticket={"id": "T-1", "description": f"{ISSUE_URL} !"})
    assert len(links(server)) == 1
    assert origins(runtime) == {"acme/app#123": "description"}


def test_the_fixture_with_links_and_a_key_field_links_both(start_server):
    source = {"plugin": "generic", "secret": GENERIC_TEST_SECRET, "link_fields": ["bug_key"]}
    server = start_server(sources={"generic": source})
    assert server.post_fixture("generic", "generic", "ticket_created__full").status_code == 202
    assert [(x["tracker"], x["issue"]) for x in links(server, "T-100")] == [
        ("jira", "APP-12"),
        ("github", "acme/app#123"),
    ]


@pytest.mark.parametrize(
    ("states", "shown"),
    [(["fixed"], "fixed"), (["wontfix"], "wontfix"), (["fixed", "open"], "open"), (["open", "fixed"], "fixed")],
)
def test_the_link_shows_the_issue_state_the_tracker_reported_last(server, states, shown):
    ticket(server, description=ISSUE_URL)
    for hour, state in enumerate(states, start=12):
        issue(server, "acme/app#123", state, f"2026-11-22T{hour}:00:00Z")
    assert links(server)[0]["state"] == shown


def test_an_older_issue_event_does_not_overwrite_a_newer_state(server):
    ticket(server, description=ISSUE_URL)
    issue(server, "acme/app#123", "fixed", "2026-11-22T15:00:00Z")
    issue(server, "acme/app#123", "open", "2026-11-22T14:00:00Z")
    assert links(server)[0]["state"] == "fixed"


def test_the_generic_fixed_fixture_marks_a_linked_ticket_fixed(server):
    ticket(server, links=[ISSUE_URL])
    assert server.post_fixture("generic", "generic", "issue_updated__fixed").status_code == 202
    assert links(server) == [{"tracker": "github", "issue": "acme/app#123", "state": "fixed", "url": ISSUE_URL}]


def test_an_issue_naming_a_stored_ticket_url_links_that_ticket(server, runtime):
    ticket(server, "T-9", url="https://desk.example.com/tickets/9")
    event = IssueEvent(
        tracker="jira",
        issue="APP-3",
        state="open",
        occurred_at=datetime(2026, 11, 21, tzinfo=UTC),
        links=("https://desk.example.com/tickets/9", "https://desk.example.com/tickets/10"),
    )
    accept(runtime, "generic", "issue-links-1", {}, b"{}", [event])
    assert [(x["tracker"], x["issue"]) for x in links(server, "T-9")] == [("jira", "APP-3")]
    assert origins(runtime) == {"APP-3": "issue"}


def test_zendesk_and_zammad_ticket_urls_map_to_the_sources_of_those_plugins(runtime):
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with session_scope(runtime.sessions) as session:
        for source, external_id in (("zd", "35436"), ("zd_other", "35436"), ("desk", "81"), ("generic", "81")):
            ctx = Context(session, runtime.settings, source, None, now)
            apply_events(
                ctx, [TicketEvent(kind="ticket.created", external_id=external_id, occurred_at=now)], runtime.steps
            )
    sources = {
        "zd": {"plugin": "zendesk", "subdomain": "acme"},
        "zd_other": {"plugin": "zendesk", "subdomain": "other"},
        "desk": {"plugin": "zammad"},
        "generic": {"plugin": "generic"},
    }
    refs = ticket_refs(["https://acme.zendesk.com/agent/tickets/35436 and https://desk.acme.com/#ticket/zoom/81"])
    with session_scope(runtime.sessions) as session:
        found = tickets_for(session, sources, refs)
        named = session.execute(select(Ticket.source).where(Ticket.id.in_(found)).order_by(Ticket.source)).scalars()
        assert list(named) == ["desk", "zd"]


def test_a_ticket_from_the_generic_source_and_a_github_close_link_up_as_fixed(start_server):
    server = start_server(sources={"bugs": {"plugin": "github", "secret": "It's a Secret to Everybody"}})
    ticket(server, "T-42", description=f"Reported upstream: {ISSUE_URL}")
    body = load_fixture("github", "issues_closed__completed")
    answer = server.post("bugs", body, server.integration("bugs").sign(body, event="issues"))
    assert answer.status_code == 202, answer.text
    assert [(x["tracker"], x["issue"], x["state"]) for x in links(server, "T-42")] == [
        ("github", "acme/app#123", "fixed")
    ]


def test_a_github_reopen_shows_the_link_open_again(start_server):
    server = start_server(sources={"bugs": {"plugin": "github", "secret": "It's a Secret to Everybody"}})
    ticket(server, "T-42", description=ISSUE_URL)
    for name in ("issues_closed__completed", "issues_reopened__full"):
        body = load_fixture("github", name)
        assert server.post("bugs", body, server.integration("bugs").sign(body, event="issues")).status_code == 202
    assert links(server, "T-42")[0]["state"] == "open"
