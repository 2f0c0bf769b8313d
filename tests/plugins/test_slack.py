"""Slack notifier against a real local HTTP server standing in for the incoming webhook."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from helpdesk_retain.config import ConfigError, settings_from_dict
from helpdesk_retain.db import session_scope
from helpdesk_retain.models.messages import Message
from helpdesk_retain.notify import PermanentError, TransientError
from helpdesk_retain.notify.channels import notifier_class
from helpdesk_retain.notify.delivery import run_due_messages
from helpdesk_retain.notify.outbox import enqueue
from helpdesk_retain.plugins.slack.notifier import Config, SlackNotifier
from helpdesk_retain.runtime import build_runtime
from helpdesk_retain.testing import HttpSink, free_port, load_fixture_json, sample_message

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def http() -> Iterator[HttpSink]:
    sink = HttpSink().start()
    yield sink
    sink.stop()


def slack(url: str) -> SlackNotifier:
    return SlackNotifier(Config(plugin="slack", url=url), settings_from_dict({}, environ={}))


def test_the_slack_channel_is_registered_under_its_entry_point():
    assert notifier_class("slack") is SlackNotifier


def test_a_reminder_is_posted_as_the_fixture_shows(http):
    slack(f"{http.url}/services/T1/B2/xyz").send(sample_message("slack"))
    [request] = http.requests
    assert (request.method, request.path) == ("POST", "/services/T1/B2/xyz")
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.json() == load_fixture_json("slack", "followup_reminder__two_tickets")


def test_slack_s_answers_map_to_transient_or_permanent(http):
    notifier = slack(http.url)
    http.respond(500, "rollup_error")
    with pytest.raises(TransientError, match="HTTP 500: rollup_error") as caught:
        notifier.send(sample_message("slack"))
    assert caught.value.whole_channel
    for status, reason in ((404, "channel_not_found"), (400, "invalid_payload"), (410, "channel_is_archived")):
        http.respond(status, reason)
        with pytest.raises(PermanentError, match=f"HTTP {status}: {reason}"):
            notifier.send(sample_message("slack"))
    http.respond(302, headers={"Location": "https://elsewhere.example.com/"})
    with pytest.raises(PermanentError, match="redirect to 'https://elsewhere.example.com/' not followed"):
        notifier.send(sample_message("slack"))


def test_a_refused_connection_is_transient_for_the_channel():
    with pytest.raises(TransientError) as caught:
        slack(f"http://127.0.0.1:{free_port()}/hook").send(sample_message("slack"))
    assert caught.value.whole_channel


def test_a_429_is_retried_after_the_delay_slack_asks_for(http, make_settings):
    rt = build_runtime(
        make_settings(
            extra={
                "notify": {
                    "default_channels": ["slack"],
                    "channels": {"slack": {"plugin": "slack", "url": f"{http.url}/hook"}},
                }
            }
        )
    )
    try:
        with session_scope(rt.sessions) as session:
            enqueue(session, dedupe_key="k", kind="test", channel="slack", recipient="", subject="S", text="T", now=NOW)
        http.respond(429, "rate_limited", {"Retry-After": "120"})
        assert run_due_messages(rt, NOW) == 1
        with session_scope(rt.sessions) as session:
            row = session.query(Message).one()
            assert (row.state, row.attempts) == ("pending", 1)
            assert NOW + timedelta(seconds=120) <= row.next_attempt_at <= NOW + timedelta(seconds=125)
        assert run_due_messages(rt, NOW + timedelta(seconds=119)) == 0
        assert run_due_messages(rt, row.next_attempt_at) == 1
        with session_scope(rt.sessions) as session:
            assert session.query(Message).one().state == "sent"
        assert len(http.requests) == 2
    finally:
        rt.close()


def test_more_than_fifty_blocks_are_cut_with_a_note(http):
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    slack(http.url).send(replace(sample_message("slack"), blocks=(section,) * 60))
    blocks = http.requests[0].json()["blocks"]
    assert len(blocks) == 50 and blocks[-1]["elements"][0]["text"] == "… and 11 more block(s)"


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"plugin": "slack"}, r"notify\.channels\.ops\.url: Field required"),
        (
            {"plugin": "slack", "url": "hooks.slack.com/services/x"},
            r"notify\.channels\.ops\.url: Value error, expected",
        ),
    ],
)
def test_a_slack_channel_without_a_usable_url_stops_startup(table, problem):
    with pytest.raises(ConfigError, match=problem):
        settings_from_dict({"notify": {"channels": {"ops": table}, "default_channels": ["ops"]}}, environ={})
