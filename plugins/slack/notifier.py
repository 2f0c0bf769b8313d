"""Slack notifier: one POST per message to an incoming-webhook URL.

Body: ``{"text", "blocks", "unfurl_links": false, "unfurl_media": false}``. With blocks present Slack shows
them and uses ``text`` for the notification and for clients that cannot render blocks. Slack's limits: 50
blocks per message (longer lists are cut with a note) and 40,000 characters of text. Slack answers 200 ``ok``;
``invalid_payload``, ``no_text`` (400), ``action_prohibited`` (403), ``channel_not_found`` (404),
``channel_is_archived`` (410) are permanent; 429 (with ``Retry-After``) and 5xx are retried. The plain
text is escaped for mrkdwn; blocks arrive rendered (``notify.render``) and are sent as they are.
The webhook URL is the credential: anyone holding it can post, so it is a secret in the config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import Field, SecretStr, field_validator

from helpdesk_retain.config import Settings
from helpdesk_retain.notify.contract import NotifierConfig, OutboundMessage
from helpdesk_retain.notify.http import HttpNotifier, check_url

MAX_BLOCKS = 50
MAX_TEXT = 40_000


class Config(NotifierConfig):
    #: the incoming-webhook URL (``https://hooks.slack.com/services/T.../B.../...``)
    url: SecretStr
    timeout_seconds: float = Field(10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        check_url(value.get_secret_value())
        return value


def escape(text: str) -> str:
    """``text`` is mrkdwn too: &, < and > are control characters there (``<url|label>`` links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(message: OutboundMessage) -> dict[str, Any]:
    blocks: list[Mapping[str, Any]] = list(message.blocks)
    if len(blocks) > MAX_BLOCKS:
        more = len(blocks) - (MAX_BLOCKS - 1)
        note = {"type": "context", "elements": [{"type": "mrkdwn", "text": f"… and {more} more block(s)"}]}
        blocks = [*blocks[: MAX_BLOCKS - 1], note]
    body: dict[str, Any] = {"text": escape(message.text)[:MAX_TEXT], "unfurl_links": False, "unfurl_media": False}
    if blocks:
        body["blocks"] = blocks
    return body


class SlackNotifier(HttpNotifier):
    slug = "slack"
    Config = Config

    def __init__(self, config: Config, settings: Settings) -> None:
        super().__init__(config, settings)
        self.url = config.url.get_secret_value()
        self.timeout_seconds = config.timeout_seconds

    def request(self, message: OutboundMessage) -> tuple[str, bytes, dict[str, str]]:
        body = json.dumps(slack_body(message), ensure_ascii=False).encode()
        return self.url, body, {"Content-Type": "application/json; charset=utf-8"}
