"""HTTP delivery shared by notifiers that POST (Slack, webhooks): one keep-alive session per run, and
the answer's status mapped to transient or permanent.

2xx is delivered. 429 and 5xx are transient for the whole channel (the receiver is overloaded or down),
honouring ``Retry-After`` (seconds or an HTTP date, RFC 9110 §10.2.3); 408 and 425 are transient for the
message. Redirects are not followed (a POST must not silently turn into a GET elsewhere, and Standard
Webhooks tells senders not to follow them): 3xx and every other 4xx are permanent, with the start of the
body, where Slack names its reason (``invalid_payload``, ``channel_not_found``, ``no_service``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from .contract import Notifier, NotifierError, OutboundMessage, PermanentError, Sender, TransientError

USER_AGENT = "helpdesk-retain"


def check_url(value: str) -> str:
    """For Config validators: an absolute http(s) URL."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an absolute http:// or https:// URL")
    return value


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify(response: requests.Response) -> NotifierError | None:
    """None for 2xx, else the error the answer means."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    reason = f"HTTP {status}: {response.text[:300].strip()}"
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if status == 429 or status >= 500:
        return TransientError(reason, retry_after=retry_after, whole_channel=True)
    if status in (408, 425):
        return TransientError(reason, retry_after=retry_after)
    if 300 <= status < 400:
        return PermanentError(f"HTTP {status}: redirect to {response.headers.get('Location')!r} not followed")
    return PermanentError(reason)


def post(session: requests.Session, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> None:
    try:
        response = session.post(url, data=body, headers=dict(headers), timeout=timeout, allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientError(f"HTTP connection: {type(exc).__name__}: {exc}", whole_channel=True) from exc
    except requests.RequestException as exc:
        raise TransientError(f"HTTP: {type(exc).__name__}: {exc}") from exc
    error = classify(response)
    if error is not None:
        raise error


class HttpNotifier(Notifier):
    """A notifier that POSTs one request per message; subclasses build it in ``request``."""

    timeout_seconds: float = 10.0

    def request(self, message: OutboundMessage) -> tuple[str, bytes, dict[str, str]]:
        """``(url, body, headers)`` for one message."""
        raise NotImplementedError

    def send(self, message: OutboundMessage) -> None:
        with self.connection() as send:
            send(message)

    @contextmanager
    def connection(self) -> Iterator[Sender]:
        with requests.Session() as session:
            session.headers["User-Agent"] = USER_AGENT

            def send(message: OutboundMessage) -> None:
                url, body, headers = self.request(message)
                post(session, url, body, headers, self.timeout_seconds)

            yield send
