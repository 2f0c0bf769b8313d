"""Webhook notifier: a JSON POST signed per Standard Webhooks (https://www.standardwebhooks.com/).

Body: ``{"type": "followup.reminder", "timestamp": "<ISO 8601>", "data": {...}}``. Headers: ``webhook-id``
(the message uid, the same on every retry, so the receiver can drop a repeat), ``webhook-timestamp`` (unix
seconds of this attempt) and ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with
the base64-decoded part of a ``whsec_`` secret. Any Standard Webhooks library verifies it, e.g. Python's
``standardwebhooks.Webhook(secret).verify(body, headers)``. Redirects are not followed (as the spec asks);
2xx is delivered, 429 / 5xx / connection errors are retried, any other answer is permanent.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import Field, SecretStr, field_validator

from helpdesk_retain.config import Settings
from helpdesk_retain.notify.contract import NotifierConfig, OutboundMessage
from helpdesk_retain.notify.http import HttpNotifier, check_url
from helpdesk_retain.plugins.generic.integration import standard_webhooks_key, standard_webhooks_signature


class Config(NotifierConfig):
    url: str
    #: ``whsec_<base64>`` as Standard Webhooks libraries generate it (any other string is used as its bytes)
    secret: SecretStr
    timeout_seconds: float = Field(10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(standard_webhooks_key(value.get_secret_value())) < 16:  # ValueError for bad base64
            raise ValueError("too short: use at least 16 bytes of key (whsec_ + 24 base64 characters)")
        return value


def webhook_body(message: OutboundMessage) -> dict[str, Any]:
    data = {k: v for k, v in message.data.items() if k != "type"}
    data.update(recipient=message.recipient or None, subject=message.subject, text=message.text)
    return {
        "type": message.data.get("type", message.kind),
        "timestamp": message.created_at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }


class WebhookNotifier(HttpNotifier):
    slug = "webhook"
    Config = Config

    def __init__(self, config: Config, settings: Settings) -> None:
        super().__init__(config, settings)
        self.url = config.url
        self.key = standard_webhooks_key(config.secret.get_secret_value())
        self.timeout_seconds = config.timeout_seconds

    def request(self, message: OutboundMessage) -> tuple[str, bytes, dict[str, str]]:
        body = json.dumps(webhook_body(message), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message.uid,
            "webhook-timestamp": timestamp,
            "webhook-signature": standard_webhooks_signature(self.key, message.uid, timestamp, body),
        }
        return self.url, body, headers
