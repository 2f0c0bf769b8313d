"""Routing from ``[notify]``: per assignee, per team, default; and the checks that stop a bad config."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk_retain.config import ConfigError, NotifySettings, settings_from_dict
from helpdesk_retain.notify.routing import Route, assignee_routes, lead_routes

SLACK = {"plugin": "slack", "url": "https://hooks.slack.com/services/T/B/x"}


def notify(**table: Any) -> NotifySettings:
    return settings_from_dict({"notify": table}, environ={}).notify


ROUTED = notify(
    channels={"email": {"plugin": "email"}, "billing-slack": SLACK},
    default_channels=["email"],
    recipients=["support@example.com"],
    team_lead="head@example.com",
    teams={
        "billing": {"members": ["Sam@Example.com", "kim@example.com"], "channels": ["email", "billing-slack"],
                    "lead": "billing-lead@example.com"},
        "web": {"members": ["lee@example.com"]},
    },
    assignees={"KIM@example.com": {"channels": ["billing-slack"]}, "lee@example.com": {"email": "lee@home.example"}},
)  # fmt: skip


def test_without_a_notify_section_reminders_go_to_the_assignee_by_email():
    assert assignee_routes(notify(), "sam@example.com") == [Route("email", "sam@example.com")]


def test_a_team_member_gets_the_team_s_channels_one_slack_message_naming_them():
    assert assignee_routes(ROUTED, "sam@example.com") == [
        Route("email", "sam@example.com"),
        Route("billing-slack", "sam@example.com"),
    ]


def test_an_assignee_s_own_routing_wins_over_the_team_s():
    assert assignee_routes(ROUTED, "Kim@example.com") == [Route("billing-slack", "kim@example.com")]
    assert assignee_routes(ROUTED, "lee@example.com") == [Route("email", "lee@home.example")]


def test_an_agent_in_no_team_gets_the_default_channels():
    assert assignee_routes(ROUTED, "new@example.com") == [Route("email", "new@example.com")]


def test_work_without_an_assignee_goes_to_the_default_recipients():
    assert assignee_routes(ROUTED, None) == [Route("email", "support@example.com")]
    assert assignee_routes(notify(), None) == []


def test_escalations_go_to_the_team_lead_else_the_global_lead_else_the_recipients():
    assert lead_routes(ROUTED, "sam@example.com") == [
        Route("email", "billing-lead@example.com"),
        Route("billing-slack", "billing-lead@example.com"),
    ]
    assert lead_routes(ROUTED, "lee@example.com") == [Route("email", "head@example.com")]
    assert lead_routes(notify(recipients=["support@example.com"]), "x@example.com") == [
        Route("email", "support@example.com")
    ]


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"default_channels": ["slack"]}, "notify.default_channels: unknown channel 'slack'"),
        ({"teams": {"a": {"channels": ["pager"]}}}, "notify.teams.a.channels: unknown channel 'pager'"),
        ({"assignees": {"x@example.com": {"channels": ["sms"]}}}, "notify.assignees.x@example.com.channels: unknown"),
        ({"channels": {"x": {"plugin": "carrier-pigeon"}}}, "notify.channels.x.plugin: plugin 'carrier-pigeon' is not"),
        ({"channels": {"x": {"url": "https://x"}}}, "notify.channels: Value error, x.plugin: Field required"),
        ({"ticket_urls": {"zendesk": "https://x/{ticket}"}}, "notify.ticket_urls.zendesk: bad template"),
        ({"on_stale": "maybe"}, "notify.on_stale: Input should be 'retry' or 'fail'"),
    ],
)
def test_a_bad_notify_section_stops_startup_naming_the_key(table, problem):
    with pytest.raises(ConfigError) as caught:
        settings_from_dict({"notify": table}, environ={})
    assert any(line.startswith(problem) for line in caught.value.problems), caught.value.problems
