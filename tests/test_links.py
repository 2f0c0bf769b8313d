"""The link extractor on its own: URL forms, bare keys, structured fields, tags, ticket URLs in issues."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from helpdesk_retain.config import LinksSettings, TagPattern
from helpdesk_retain.events import Comment, TicketEvent
from helpdesk_retain.links import extractor, make_ref, ticket_refs

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PLAIN = extractor(LinksSettings())
CONFIGURED = extractor(
    LinksSettings(
        jira_projects=("APP", "OPS"),
        linear_teams=("WEB",),
        jira_hosts=("jira.example.com",),
        tag_patterns=(TagPattern(pattern=r"bug-(?P<team>[a-z]+)-(?P<n>\d+)", tracker="linear", issue="{team}-{n}"),),
    )
)


def pairs(text: str, ex=CONFIGURED) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(r.tracker, r.issue) for r in ex.in_text(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://github.com/acme/app/issues/123", ("github", "acme/app#123")),
        ("see https://github.com/acme/app/issues/123?utm=mail&x=1 please", ("github", "acme/app#123")),
        ("https://github.com/acme/app/issues/123#issuecomment-99", ("github", "acme/app#123")),
        ("(https://github.com/acme/app/issues/123).", ("github", "acme/app#123")),
        ("[bug](https://github.com/acme/app/issues/123)", ("github", "acme/app#123")),
        ('<a href="https://github.com/acme/app/issues/123">x</a>', ("github", "acme/app#123")),
        ("http://www.github.com/acme/my.app-2/issues/0123/", ("github", "acme/my.app-2#123")),
        ("typed by hand: github.com/acme/app/issues/7", ("github", "acme/app#7")),
        ("客户说https://github.com/acme/app/issues/123。谢谢", ("github", "acme/app#123")),
        ("https://gitlab.com/acme/app/-/issues/5", ("gitlab", "acme/app#5")),
        ("https://git.example.com:8443/grp/sub/deeper/proj/-/issues/42?x=y", ("gitlab", "grp/sub/deeper/proj#42")),
        ("https://gitlab.com/acme/app/-/work_items/6", ("gitlab", "acme/app#6")),
        ("https://acme.atlassian.net/browse/APP-12", ("jira", "APP-12")),
        ("https://acme.atlassian.net/browse/app-12?focusedCommentId=1", ("jira", "APP-12")),
        ("https://acme.atlassian.net/jira/software/projects/APP/boards/1?selectedIssue=APP-13", ("jira", "APP-13")),
        ("https://acme.atlassian.net/jira/software/c/projects/APP/issues/APP-14", ("jira", "APP-14")),
        ("https://acme.atlassian.net/servicedesk/customer/portal/2/HELP-9", ("jira", "HELP-9")),
        ("https://jira.example.com/browse/CORE-3, thanks", ("jira", "CORE-3")),
        ("问题见 https://acme.atlassian.net/browse/APP-12。", ("jira", "APP-12")),
        ("https://linear.app/acme/issue/WEB-44/login-button-does-nothing", ("linear", "WEB-44")),
        ("https://linear.app/acme/issue/web-45", ("linear", "WEB-45")),
        ("linear.app/acme/issue/ENG-7/x!", ("linear", "ENG-7")),
    ],
)
def test_it_recognises_tracker_urls_in_their_many_forms(text, expected):
    assert pairs(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "https://github.com/acme/app/pull/5",
        "https://github.com/acme/app/issues",
        "https://example.com/acme/app/issues/5",
        "https://gitlab.com/acme/-/issues/5x",
        "https://acme.atlassian.net/wiki/spaces/APP/pages/1",
        "https://example.com/browse/APP-12",
        "https://linear.app/acme/project/web-redesign",
        "no links here, only APP-12 for an unconfigured extractor",
    ],
)
def test_it_ignores_urls_that_do_not_name_an_issue(text):
    assert pairs(text, PLAIN) == []


def test_the_canonical_url_drops_query_strings_and_slugs():
    refs = PLAIN.in_text(
        "https://github.com/acme/app/issues/9?a=1 https://linear.app/acme/issue/WEB-44/slug?x "
        "https://acme.atlassian.net/browse/APP-1?y https://gitlab.com/a/b/-/issues/3#note_1"
    )
    assert [r.url for r in refs] == [
        "https://github.com/acme/app/issues/9",
        "https://linear.app/acme/issue/WEB-44",
        "https://acme.atlassian.net/browse/APP-1",
        "https://gitlab.com/a/b/-/issues/3",
    ]


def test_bare_keys_count_only_for_configured_projects_and_teams():
    text = "Probably APP-12 again (see OPS-3); WEB-44 too, not ENG-7 or APPX-1 or MYAPP-2 or APP-12-b."
    assert pairs(text) == [("jira", "APP-12"), ("jira", "OPS-3"), ("linear", "WEB-44")]


def test_bare_keys_are_found_inside_chinese_text():
    assert pairs("你好，这个问题和APP-12有关，WEB-44也是。") == [("jira", "APP-12"), ("linear", "WEB-44")]


def test_a_bare_key_inside_an_unrelated_url_is_not_a_link():
    assert pairs("notes: https://wiki.example.com/pages/APP-12-postmortem and /APP-13") == []


def test_a_bare_key_is_case_sensitive_since_jira_keys_are_upper_case():
    assert pairs("the app-12 thing") == []


def test_references_are_deduplicated_and_kept_in_order_of_appearance():
    text = (
        "WEB-44 then https://github.com/Acme/App/issues/1 and https://github.com/acme/app/issues/1 "
        "and https://acme.atlassian.net/browse/APP-12 and APP-12 and https://linear.app/a/issue/WEB-44"
    )
    assert pairs(text) == [("linear", "WEB-44"), ("github", "Acme/App#1"), ("jira", "APP-12")]


def test_github_and_gitlab_paths_match_case_insensitively_and_keys_upper_case():
    assert make_ref("github", "Acme/App#0012").key == make_ref("github", "acme/app#12").key == "acme/app#12"
    assert make_ref("gitlab", "Grp/Proj#3").key == "grp/proj#3"
    assert make_ref("Jira", "app-012") == make_ref("jira", "APP-12")


def test_a_structured_value_may_hold_a_bare_key_or_the_normalized_form():
    assert [(r.tracker, r.issue) for r in PLAIN.in_value(["APP-12", " acme/app#3 ", 42, None])] == [
        ("jira", "APP-12"),
        ("github", "acme/app#3"),
    ]
    assert [(r.tracker, r.issue) for r in CONFIGURED.in_value("web-44")] == [("linear", "WEB-44")]
    assert [r.issue for r in PLAIN.in_value({"key": "APP-1", "url": "https://acme.atlassian.net/browse/APP-1"})] == [
        "APP-1"
    ]


def test_tags_match_the_configured_pattern_only_as_a_whole():
    assert [(r.tracker, r.issue) for r in CONFIGURED.in_tag("bug-web-44")] == [("linear", "WEB-44")]
    assert CONFIGURED.in_tag("not-bug-web-44") == []
    assert CONFIGURED.in_tag("bug-web") == []


def test_a_ticket_event_yields_each_reference_once_with_where_it_was_first_found():
    ev = TicketEvent(
        kind="comment.created",
        external_id="T-1",
        occurred_at=AT,
        subject="Crash on login (WEB-44)",
        description="Same as https://github.com/acme/app/issues/1",
        tags=("vip", "bug-web-44", "bug-ops-2"),
        custom_fields={"jira": "OPS-9", "other": "APP-77"},
        links=("https://github.com/acme/app/issues/1", "https://gitlab.com/a/b/-/issues/2"),
        comment=Comment(id="C-1", body="also APP-5", public=False, author_role="agent", created_at=AT),
    )
    found = [(f.ref.tracker, f.ref.issue, f.origin) for f in CONFIGURED.ticket_refs(ev, ["jira"])]
    assert found == [
        ("linear", "WEB-44", "subject"),
        ("github", "acme/app#1", "description"),
        ("jira", "APP-5", "comment:C-1"),
        ("jira", "OPS-9", "field:jira"),
        ("linear", "OPS-2", "tag:bug-ops-2"),
        ("gitlab", "a/b#2", "integration"),
    ]


def test_only_configured_custom_fields_are_read():
    ev = TicketEvent(kind="ticket.updated", external_id="T-1", occurred_at=AT, custom_fields={"x": "APP-1"})
    assert PLAIN.ticket_refs(ev, []) == []
    assert [f.origin for f in PLAIN.ticket_refs(ev, ["x"])] == ["field:x"]


def test_the_extractor_is_compiled_once_per_settings():
    assert extractor(LinksSettings(jira_projects=("APP",))) is extractor(LinksSettings(jira_projects=("APP",)))


def test_help_desk_ticket_urls_in_an_issue_are_recognised_by_their_path():
    refs = ticket_refs(
        [
            "Reported in https://acme.zendesk.com/agent/tickets/35436, and "
            "https://support.acme.com/agent/tickets/9 (host-mapped); 见https://desk.acme.com/#ticket/zoom/81。",
            "https://acme.freshdesk.com/a/tickets/7 https://secure.helpscout.net/conversation/123/45 "
            "https://app.frontapp.com/open/cnv_abc1 https://desk.example.com/t/5",
        ]
    )
    assert [(r.plugin, r.host, r.external_id) for r in refs] == [
        ("zendesk", "acme.zendesk.com", "35436"),
        ("zendesk", "support.acme.com", "9"),
        ("zammad", "desk.acme.com", "81"),
        ("freshdesk", "acme.freshdesk.com", "7"),
        ("helpscout", "secure.helpscout.net", "123"),
        ("front", "app.frontapp.com", "cnv_abc1"),
        (None, "", ""),
    ]
    assert refs[-1].url == "https://desk.example.com/t/5"


def test_a_long_text_without_links_is_scanned_without_matches():
    text = ("Lorem ipsum dolor sit amet, 顾客服务 APPLE-1 app-2 #3 " * 2000) + "APP-9"
    assert pairs(text) == [("jira", "APP-9")]
