"""A save tagged in each help desk that has tags is recorded with its amount, through the real endpoint.

Each case takes the plugin's own fixture (vendor payload), adds the save tag and the save's custom fields the
way that help desk sends them (per its README), signs it with the plugin and posts it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from helpdesk_retain.testing import load_fixture_json


def zendesk(body: dict[str, Any]) -> None:
    body["ticket.tags"] += " saved"  # {{ticket.tags}} renders space-separated


def zammad(body: dict[str, Any]) -> None:
    body["ticket"].update(saved=True, save_amount="49.00", save_currency="EUR", save_interval="yearly")


def intercom(body: dict[str, Any]) -> None:
    body["data"]["item"]["custom_attributes"].update({"save_amount": "49.00", "save_offer": "2 months free"})


def front(body: dict[str, Any]) -> None:
    body["payload"]["conversation"]["custom_fields"]["Save amount"] = "49.00"


def unchanged(body: dict[str, Any]) -> None:
    return None


#: plugin -> (fixture, change, source keys, extra settings, ticket id, expected save)
CASES: dict[str, tuple[str, Callable[[dict[str, Any]], None], dict[str, Any], dict[str, Any], str, dict[str, Any]]] = {
    "zendesk": (
        "ticket_updated__trigger_flat",
        zendesk,
        {"secret": "zd-signing-secret", "field_names": {"360002": "save_amount"}},
        {},
        "35436",
        {"amount_minor": 4900, "currency": "USD", "interval": "month"},
    ),
    "freshdesk": (
        "ticket_updated__snapshot",  # tags "billing, refund request, saved", cf_save_amount 49.00, USD
        unchanged,
        {"secret": "fd-webhook-secret-4c1e0b7a"},
        {},
        "12",
        {"amount_minor": 4900, "currency": "USD", "interval": "month"},
    ),
    "helpscout": (
        "convo_tags__saved",  # tag "saved", custom field "Save amount" 49.00
        unchanged,
        {"secret": "hs-secret-2b8e41f0c3", "field_names": {"Save amount": "save_amount"}},
        {},
        "123456789",
        {"amount_minor": 4900, "currency": "USD", "interval": "month"},
    ),
    "zammad": (
        "ticket_updated__closed",
        zammad,
        {"secret": "zammad-hmac-token", "tag_attributes": ["saved"]},
        {},
        "81",
        {"amount_minor": 4900, "currency": "EUR", "interval": "year"},
    ),
    "intercom": (
        "conversation_admin_closed__with_reply",  # tagged "saved" by the admin
        intercom,
        {"secret": "intercom-client-secret"},
        {},
        "215472621202693",
        {"amount_minor": 4900, "currency": "USD", "interval": "month", "offer": "2 months free"},
    ),
    "front": (
        "tag__saved",  # tags Urgent, billing, saved
        front,
        {"secret": "front-app-signing-key"},
        {"saves": {"source_fields": {"front": {"amount": "Save amount"}}}},
        "cnv_55c8c149",
        {"amount_minor": 4900, "currency": "USD", "interval": "month"},
    ),
}


@pytest.mark.parametrize("plugin", sorted(CASES))
def test_a_save_tagged_in_the_help_desk_is_recorded_with_its_amount(start_server, plugin):
    fixture, change, source, extra, ticket_id, expected = CASES[plugin]
    live = start_server(sources={plugin: {"plugin": plugin, **source}}, extra=extra)
    body = load_fixture_json(plugin, fixture)
    change(body)
    answer = live.post_signed(plugin, json.dumps(body).encode())
    assert answer.status_code == 202, answer.text
    save = live.ticket(plugin, ticket_id)["save"]
    assert save is not None and save["outcome"] == "pending"
    assert {k: save[k] for k in expected} == expected
    again = live.post_signed(plugin, json.dumps(body).encode(), delivery_id="another-delivery-id")
    assert again.status_code in (200, 202)
    page = live.get("/api/saves?since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z").json()
    assert len(page["items"]) == 1  # the same save twice is one save
