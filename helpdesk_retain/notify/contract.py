"""The notifier contract: what a plugin in entry-point group ``helpdesk_retain.notifiers`` implements.

A notifier delivers one rendered ``OutboundMessage`` over one medium (SMTP, a Slack incoming webhook, a
signed HTTP POST) and says how a failure should be treated by raising ``TransientError`` (try again later)
or ``PermanentError`` (stop). It never opens a database session, routes or retries: core
(``notify.delivery``) claims each message before the side effect and records the outcome after.
One instance exists per configured channel, built from its frozen, validated config.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from ..config import Settings

GROUP = "helpdesk_retain.notifiers"


class NotifierError(Exception):
    """Base class of the errors a notifier raises."""


class TransientError(NotifierError):
    """Worth retrying: connection refused, timeout, SMTP 4xx, HTTP 5xx or 429.

    ``retry_after``: seconds the other side asked us to wait (HTTP ``Retry-After``), used instead of the
    backoff. ``whole_channel``: the medium itself is unavailable (server down, rate-limited), so the other
    messages of the channel in the same run wait too instead of each failing in turn.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, whole_channel: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.whole_channel = whole_channel


class PermanentError(NotifierError):
    """Retrying cannot help (SMTP 5xx, HTTP 4xx): the message is marked failed with this error."""


class NotifierConfig(BaseModel):
    """Keys every channel has; a plugin's ``Config`` subclasses this and adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plugin: str


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML part shows with ``<img src="cid:{cid}">``."""

    cid: str
    content_type: str
    data: bytes

    def to_json(self) -> dict[str, str]:
        return {"cid": self.cid, "content_type": self.content_type, "base64": base64.b64encode(self.data).decode()}


@dataclass(frozen=True)
class OutboundMessage:
    """One message as a notifier receives it.

    ``uid`` is stable across retries: the email Message-ID, the Standard Webhooks ``webhook-id`` and the
    outbox file name, so a receiver (or the outbox folder) sees a retry as the same message.
    ``recipient`` is an address for email; for Slack and webhooks it says whom the message concerns.
    ``blocks`` is Slack Block Kit for the message; ``data`` its machine-readable form
    (``{"type": "followup.reminder", ...}``) for webhooks.
    """

    uid: str
    kind: str
    channel: str
    recipient: str
    subject: str
    text: str
    created_at: datetime
    html: str | None = None
    images: tuple[InlineImage, ...] = ()
    blocks: tuple[Mapping[str, Any], ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


Sender = Callable[[OutboundMessage], None]


class Notifier:
    """Base class of every notifier plugin: set ``slug`` and ``Config``, implement ``send``."""

    slug: ClassVar[str]
    Config: ClassVar[type[NotifierConfig]] = NotifierConfig
    #: True when ``recipient`` must be an email address (the message is addressed to a person)
    addresses_people: ClassVar[bool] = False

    def __init__(self, config: NotifierConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings

    def send(self, message: OutboundMessage) -> None:
        """Deliver one message; raise TransientError or PermanentError on failure."""
        raise NotImplementedError

    @contextmanager
    def connection(self) -> Iterator[Sender]:
        """A sender for several messages in a row (email keeps one SMTP connection open); closed on exit."""
        yield self.send
