"""GitLab plugin: signed fixtures through the real endpoint, parse() per fixture, both auth schemes."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select
from werkzeug.datastructures import Headers

from helpdesk_retain.db import session_scope
from helpdesk_retain.integrations import SignatureError, UnsupportedEvent
from helpdesk_retain.models import Delivery
from helpdesk_retain.plugins.generic.integration import standard_webhooks_key, standard_webhooks_signature
from helpdesk_retain.plugins.gitlab.integration import Config, GitlabIntegration
from helpdesk_retain.testing import fixture_names, load_fixture, load_fixture_json, signed_parse

TOKEN = "gl-test-token-7f3a"
SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's published test secret
SOURCES = {"gitlab": {"plugin": "gitlab", "secret": TOKEN}}

#: fixture -> (issue, state, transition, is_bug)
EXPECTED = {
    "issue_close__chinese": ("acme/platform/billing#52", "fixed", True, True),
    "issue_close__duplicate": ("acme/platform/billing#35", "wontfix", True, True),
    "issue_close__fixed": ("acme/platform/billing#23", "fixed", True, True),
    "issue_close__minimal": ("acme/app#5", "fixed", True, None),
    "issue_close__task_work_item": ("acme/platform/billing#41", "fixed", True, True),
    "issue_close__wontfix_label": ("acme/platform/billing#31", "wontfix", True, False),
    "issue_open__full": ("acme/platform/billing#23", "open", True, True),
    "issue_reopen__full": ("acme/platform/billing#23", "open", True, True),
    "issue_update__label_on_closed": ("acme/platform/billing#23", "fixed", False, True),
    "note_issue__ticket_link": ("acme/platform/billing#23", "open", False, True),
}


def plugin(**config: object) -> GitlabIntegration:
    return GitlabIntegration(Config(plugin="gitlab", secret=TOKEN, **config))


def parse(integration: GitlabIntegration, body: bytes, **sign: object) -> list:
    return signed_parse(integration, body, **sign)


def stored(live) -> list[tuple[str, str | None]]:  # noqa: ANN001
    with session_scope(live.sessions) as session:
        return [(d.state, d.error) for d in session.execute(select(Delivery)).scalars()]


@pytest.fixture
def live(start_server):  # noqa: ANN001, ANN201
    return start_server(sources=SOURCES)


def test_every_fixture_is_accepted_through_the_endpoint(live):
    names = fixture_names("gitlab")
    for name in names:
        answer = live.post_fixture("gitlab", "gitlab", name)
        assert answer.status_code == 202, (name, answer.text)
        assert answer.json()["status"] == "accepted" and answer.json()["events"] == 1, name
    assert [state for state, _ in stored(live)] == ["processed"] * len(names)


def test_every_fixture_has_an_expectation_and_every_event_kind_a_fixture():
    names = fixture_names("gitlab")
    assert set(names) == set(EXPECTED)
    assert {n.split("__")[0] for n in names} == {k.replace(".", "_") for k in GitlabIntegration.event_kinds}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parse_maps_each_fixture_to_its_issue_state(name):
    [event] = parse(plugin(), load_fixture("gitlab", name))
    assert (event.issue, event.state, event.transition, event.is_bug) == EXPECTED[name]
    assert event.tracker == "gitlab" and event.occurred_at.utcoffset().total_seconds() == 0


def test_a_closed_issue_carries_its_url_id_time_and_ticket_links():
    [event] = parse(plugin(), load_fixture("gitlab", "issue_close__fixed"))
    assert event.url == "https://gitlab.example.com/acme/platform/billing/-/issues/23"
    assert event.external_id == "91820" and event.occurred_at.isoformat() == "2026-11-22T15:00:02+00:00"
    assert event.links == ("https://acme.zendesk.com/agent/tickets/35436",)


def test_iso_times_and_chinese_titles_are_read():
    [event] = parse(plugin(), load_fixture("gitlab", "issue_close__chinese"))
    assert event.title == "导出报表时重复扣费" and event.occurred_at.isoformat() == "2026-11-24T03:20:00+00:00"


def test_a_note_takes_the_issue_url_from_the_note_and_links_from_its_text():
    [event] = parse(plugin(), load_fixture("gitlab", "note_issue__ticket_link"))
    assert event.url == "https://gitlab.example.com/acme/platform/billing/-/issues/23"
    assert "https://acme.zendesk.com/agent/tickets/35780" in event.links


def test_the_signing_token_scheme_is_accepted(start_server):
    live = start_server(sources={"gitlab": {"plugin": "gitlab", "secret": TOKEN, "signing_token": SIGNING}})
    answer = live.post_fixture("gitlab", "gitlab", "issue_close__fixed")
    assert answer.status_code == 202 and answer.json()["events"] == 1


def test_a_signature_made_with_the_signing_token_verifies_by_the_spec_formula():
    body = load_fixture("gitlab", "issue_close__fixed")
    ts = str(int(time.time()))
    signature = standard_webhooks_signature(standard_webhooks_key(SIGNING), "msg_1", ts, body)
    headers = Headers({"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": signature})
    plugin(signing_token=SIGNING).verify(headers, body)
    assert plugin().delivery_id(headers, body) == "msg_1"


def test_with_a_signing_token_configured_the_plain_token_alone_is_refused(start_server):
    live = start_server(sources={"gitlab": {"plugin": "gitlab", "secret": TOKEN, "signing_token": SIGNING}})
    body = load_fixture("gitlab", "issue_close__fixed")
    answer = live.post("gitlab", body, live.integration("gitlab").sign(body, scheme="token"))
    assert answer.status_code == 401
    assert stored(live) == []


def test_a_stale_signing_timestamp_is_refused(start_server):
    live = start_server(sources={"gitlab": {"plugin": "gitlab", "secret": TOKEN, "signing_token": SIGNING}})
    answer = live.post_fixture("gitlab", "gitlab", "issue_close__fixed", timestamp=int(time.time()) - 3600)
    assert answer.status_code == 401 and "replay window" in answer.json()["detail"]
    assert stored(live) == []


def test_a_signing_token_that_is_not_base64_stops_startup():
    with pytest.raises(ValueError, match="base64"):
        Config(plugin="gitlab", secret=TOKEN, signing_token="whsec_not base64!")


def test_it_refuses_a_tampered_body_and_stores_nothing(start_server):
    live = start_server(sources={"gitlab": {"plugin": "gitlab", "secret": TOKEN, "signing_token": SIGNING}})
    body = load_fixture("gitlab", "issue_close__fixed")
    headers = live.integration("gitlab").sign(body)
    assert live.post("gitlab", body.replace(b'"close"', b'"reopen"'), headers).status_code == 401
    assert stored(live) == []


def test_it_refuses_a_wrong_token(live):
    body = load_fixture("gitlab", "issue_close__fixed")
    headers = live.integration("gitlab").sign(body) | {"x-gitlab-token": "guessed"}
    assert live.post("gitlab", body, headers).status_code == 401
    assert stored(live) == []


def both_schemes(body: bytes, token: str = TOKEN, signing: str = SIGNING, **sign: object) -> dict[str, str]:
    """A hook with a Secret token and a Signing token: GitLab sends X-Gitlab-Token and the webhook-* headers."""
    signer = GitlabIntegration(Config(plugin="gitlab", secret=token, signing_token=signing))
    return signer.sign(body, scheme="signature", **sign) | {"x-gitlab-token": token}


def test_a_hook_with_both_tokens_is_accepted_when_only_the_secret_token_is_configured(live):
    body = load_fixture("gitlab", "issue_close__fixed")
    answer = live.post("gitlab", body, both_schemes(body))
    assert answer.status_code == 202 and answer.json()["events"] == 1, answer.text
    assert [state for state, _ in stored(live)] == ["processed"]


def test_without_a_signing_token_the_secret_token_decides_and_the_signature_headers_are_ignored():
    body = load_fixture("gitlab", "issue_close__fixed")
    headers = both_schemes(body) | {"webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl"}
    plugin().verify(Headers(headers), body)  # the token is right; the signature is not looked at
    stale = both_schemes(body, timestamp=int(time.time()) - 3600)
    plugin().verify(Headers(stale), body)  # nor its timestamp


def test_with_both_schemes_a_wrong_secret_token_is_refused(live):
    body = load_fixture("gitlab", "issue_close__fixed")
    # the signature is even valid for the plain secret used as a key: it must not rescue a wrong token
    headers = plugin().sign(body, scheme="signature") | {"x-gitlab-token": "guessed"}
    assert live.post("gitlab", body, headers).status_code == 401
    assert live.post("gitlab", body, both_schemes(body) | {"x-gitlab-token": "guessed"}).status_code == 401
    assert stored(live) == []


def test_a_plain_secret_token_is_never_used_as_a_signing_key():
    body = load_fixture("gitlab", "issue_close__fixed")
    headers = plugin().sign(body, scheme="signature")  # keyed with the secret token's bytes, no X-Gitlab-Token
    with pytest.raises(SignatureError, match="x-gitlab-token"):
        plugin().verify(Headers(headers), body)


def test_a_whsec_secret_verifies_a_signature_only_delivery_within_the_replay_window():
    integration = GitlabIntegration(Config(plugin="gitlab", secret=SIGNING))
    body = load_fixture("gitlab", "issue_close__fixed")
    integration.verify(Headers(integration.sign(body, scheme="signature")), body)
    stale = integration.sign(body, scheme="signature", timestamp=int(time.time()) - 3600)
    with pytest.raises(SignatureError, match="replay window"):
        integration.verify(Headers(stale), body)
    with pytest.raises(SignatureError):
        integration.verify(Headers(both_schemes(body, signing="whsec_" + "A" * 43 + "=")), body)


def test_with_a_signing_token_configured_the_signature_decides_even_beside_a_token():
    integration = plugin(signing_token=SIGNING)
    body = load_fixture("gitlab", "issue_close__fixed")
    integration.verify(Headers(both_schemes(body)), body)
    forged = both_schemes(body) | {"webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl"}
    with pytest.raises(SignatureError):
        integration.verify(Headers(forged), body)


def test_it_refuses_a_delivery_without_the_token(live):
    body = load_fixture("gitlab", "issue_close__fixed")
    headers = live.integration("gitlab").sign(body)
    del headers["x-gitlab-token"]
    assert live.post("gitlab", body, headers).status_code == 401
    assert stored(live) == []


def test_a_missing_required_field_is_a_dead_letter_naming_it(live):
    payload = load_fixture_json("gitlab", "issue_close__fixed")
    del payload["object_attributes"]["iid"]
    answer = live.post_signed("gitlab", json.dumps(payload).encode())
    assert answer.status_code == 422
    assert "object_attributes.iid" in answer.json()["error"] and answer.json()["dead_letter_id"]
    [(state, error)] = stored(live)
    assert state == "dead" and "object_attributes.iid" in error


def test_a_push_and_a_merge_request_note_are_ignored(live):
    push = {"object_kind": "push", "ref": "refs/heads/main", "project": {"path_with_namespace": "acme/app"}}
    note = load_fixture_json("gitlab", "note_issue__ticket_link")
    note["object_attributes"]["noteable_type"] = "MergeRequest"
    for payload in (push, note):
        answer = live.post_signed("gitlab", json.dumps(payload).encode())
        assert answer.status_code == 202 and answer.json()["status"] == "ignored", payload["object_kind"]
    assert stored(live) == []


def test_a_resent_request_is_answered_duplicate(live):
    body = load_fixture("gitlab", "issue_close__fixed")
    first = live.post_signed("gitlab", body, delivery_id="f6a1c7e4-2b0d-4f3e-9a8c-1d2e3f4a5b6c")
    second = live.post_signed("gitlab", body, delivery_id="f6a1c7e4-2b0d-4f3e-9a8c-1d2e3f4a5b6c")
    assert (first.status_code, second.status_code) == (202, 200)


def test_epics_and_configured_work_item_types_are_ignored():
    payload = load_fixture_json("gitlab", "issue_close__task_work_item")
    epic = payload | {"project": None, "object_attributes": payload["object_attributes"] | {"type": "Epic"}}
    with pytest.raises(UnsupportedEvent):
        parse(plugin(), json.dumps(epic).encode())
    with pytest.raises(UnsupportedEvent, match="Task"):
        parse(plugin(ignored_work_item_types=("task",)), json.dumps(payload).encode())


def test_a_canceled_work_item_status_is_a_wontfix():
    payload = load_fixture_json("gitlab", "issue_close__task_work_item")
    payload["object_attributes"]["status"] = {"name": "Won't do", "category": "canceled"}
    [event] = parse(plugin(), json.dumps(payload).encode())
    assert event.state == "wontfix"


def test_an_update_that_changes_the_state_is_a_transition():
    payload = load_fixture_json("gitlab", "issue_update__label_on_closed")
    payload["changes"]["state_id"] = {"previous": 1, "current": 2}
    [event] = parse(plugin(), json.dumps(payload).encode())
    assert event.transition is True


def test_sign_names_the_hook_from_the_body():
    assert plugin().sign(load_fixture("gitlab", "note_issue__ticket_link"))["x-gitlab-event"] == "Note Hook"
    assert plugin().sign(load_fixture("gitlab", "issue_close__fixed"))["x-gitlab-event"] == "Issue Hook"


def test_the_wontfix_labels_are_configurable():
    [event] = parse(plugin(wontfix_labels=("backend",)), load_fixture("gitlab", "issue_close__fixed"))
    assert event.state == "wontfix"


def test_verification_fails_closed_without_any_credentials():
    with pytest.raises(SignatureError):
        plugin().verify(Headers({"Content-Type": "application/json"}), b"{}")
