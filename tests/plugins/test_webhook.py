"""Webhook notifier: Standard Webhooks signatures checked with the standardwebhooks library, on a real
local HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from helpdesk_retain.config import ConfigError, settings_from_dict
from helpdesk_retain.db import session_scope
from helpdesk_retain.models.messages import Message
from helpdesk_retain.notify import PermanentError
from helpdesk_retain.notify.channels import notifier_class
from helpdesk_retain.notify.delivery import run_due_messages
from helpdesk_retain.notify.outbox import enqueue
from helpdesk_retain.plugins.webhook.notifier import Config, WebhookNotifier
from helpdesk_retain.runtime import build_runtime
from helpdesk_retain.testing import GENERIC_TEST_SECRET, HttpSink, load_fixture_json, sample_message

SECRET = GENERIC_TEST_SECRET
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def http() -> Iterator[HttpSink]:
    sink = HttpSink().start()
    yield sink
    sink.stop()


def webhook(url: str) -> WebhookNotifier:
    return WebhookNotifier(Config(plugin="webhook", url=url, secret=SECRET), settings_from_dict({}, environ={}))


def test_the_webhook_channel_is_registered_under_its_entry_point():
    assert notifier_class("webhook") is WebhookNotifier


def test_a_reminder_is_posted_signed_as_the_fixture_shows(http):
    message = sample_message("webhook")
    webhook(f"{http.url}/hooks/helpdesk").send(message)
    [request] = http.requests
    assert request.path == "/hooks/helpdesk" and request.headers["webhook-id"] == message.uid
    assert Webhook(SECRET).verify(request.body, request.headers) == load_fixture_json(
        "webhook", "followup_reminder__two_tickets"
    )


def test_a_forged_body_does_not_verify(http):
    webhook(http.url).send(sample_message("webhook"))
    request = http.requests[0]
    forged = request.body.replace(b"sam@example.com", b"eve@example.com")
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(SECRET).verify(forged, request.headers)


def test_a_retry_keeps_its_webhook_id_and_is_signed_again(http, make_settings):
    channels = {"hook": {"plugin": "webhook", "url": f"{http.url}/in", "secret": SECRET}}
    rt = build_runtime(make_settings(extra={"notify": {"channels": channels, "default_channels": ["hook"]}}))
    try:
        with session_scope(rt.sessions) as session:
            data = {"type": "tat.alert", "events": [{"id": 7, "kind": "breach"}]}
            enqueue(
                session,
                dedupe_key="k",
                kind="tat.alert",
                channel="hook",
                recipient="sam@example.com",
                subject="TAT: 1 breach",
                text="Breached",
                data=data,
                now=NOW,
            )
        http.respond(503, "busy")
        assert run_due_messages(rt, NOW) == 1
        with session_scope(rt.sessions) as session:
            retry_at = session.query(Message).one().next_attempt_at
        assert run_due_messages(rt, retry_at) == 1
    finally:
        rt.close()
    first, second = http.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    payload = Webhook(SECRET).verify(second.body, second.headers)
    assert payload["type"] == "tat.alert"
    assert payload["data"] == {
        "events": [{"id": 7, "kind": "breach"}],
        "recipient": "sam@example.com",
        "subject": "TAT: 1 breach",
        "text": "Breached",
    }
    assert json.loads(first.body) == payload


def test_any_4xx_but_429_is_permanent(http):
    http.respond(410, "gone")
    with pytest.raises(PermanentError, match="HTTP 410: gone"):
        webhook(http.url).send(sample_message("webhook"))


@pytest.mark.parametrize(
    ("secret", "problem"),
    [("whsec_c2hvcnQ=", "too short"), ("whsec_%%%", "not valid base64")],
)
def test_a_weak_or_malformed_secret_stops_startup(secret, problem):
    table = {"plugin": "webhook", "url": "https://example.com/in", "secret": secret}
    with pytest.raises(ConfigError, match=rf"notify\.channels\.hook\.secret: Value error, .*{problem}"):
        settings_from_dict({"notify": {"channels": {"hook": table}, "default_channels": ["hook"]}}, environ={})
