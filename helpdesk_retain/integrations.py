"""The integration contract and the entry-point registry.

An integration turns request headers and raw bytes into typed events (``events.py``) and raises the
typed errors below. It never opens a database session, schedules work or sends anything: core acts.
One instance exists per configured source, built at startup with its frozen, validated config.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

from .events import Event

GROUP = "helpdesk_retain.integrations"


class IntegrationError(Exception):
    """Base class of the errors an integration raises."""


class SignatureError(IntegrationError):
    """The delivery is not authentic (bad, missing or stale signature): answered 401, stored nowhere."""


class UnsupportedEvent(IntegrationError):
    """An event kind the plugin does not handle (a ping, a push): answered 202 "ignored"."""


class PayloadError(IntegrationError):
    """Signed but unparseable, or a required field is missing: answered 422 and kept as a dead letter."""


class NotJSON(PayloadError):
    """The body is not JSON where JSON is required: answered 415 and kept as a dead letter."""


class Challenge(IntegrationError):  # noqa: N818 - a control-flow signal, not a failure
    """A handshake the vendor expects answered with a given body (e.g. Front's X-Front-Challenge)."""

    def __init__(self, body: str, content_type: str = "text/plain") -> None:
        super().__init__(body)
        self.body = body
        self.content_type = content_type


class IntegrationConfig(BaseModel):
    """Keys every source has; a plugin's ``Config`` subclasses this and adds its own (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plugin: str
    secret: SecretStr
    save_tag: str = "saved"
    complaint_tags: tuple[str, ...] = ("complaint",)
    not_complaint_tags: tuple[str, ...] = ("not-complaint", "not_complaint")
    link_fields: tuple[str, ...] = ()


class Integration:
    """Base class of every integration plugin.

    Subclasses set ``slug``, ``Config`` and ``event_kinds`` and implement ``verify`` and ``parse``.
    ``headers`` is a case-insensitive mapping (werkzeug's ``Headers`` or ``CIHeaders``).
    """

    slug: ClassVar[str]
    Config: ClassVar[type[IntegrationConfig]] = IntegrationConfig
    event_kinds: ClassVar[frozenset[str]] = frozenset()
    #: whether verify() checks a timestamp against the replay window
    uses_timestamp: ClassVar[bool] = False
    #: the 2xx answered for accepted and ignored deliveries; some vendors (Linear) want exactly 200
    success_status: ClassVar[int] = 202

    def __init__(self, config: IntegrationConfig, replay_window_seconds: int = 300) -> None:
        self.config = config
        self.replay_window_seconds = replay_window_seconds

    @property
    def secret(self) -> bytes:
        return self.config.secret.get_secret_value().encode()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        raise NotImplementedError

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """The vendor's idempotency key, or None to key the inbox on a hash of the body."""
        return None

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        raise NotImplementedError

    def sign(self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None) -> dict[str, str]:
        """Headers a vendor would send with ``body`` (used by tests, benchmarks and plugin authors)."""
        raise NotImplementedError

    def check_timestamp(self, timestamp: float) -> None:
        """Raise SignatureError when ``timestamp`` (unix seconds) lies outside the replay window."""
        now = datetime.now(UTC).timestamp()
        if abs(now - timestamp) > self.replay_window_seconds:
            raise SignatureError("timestamp outside the replay window")


# ---------------------------------------------------------------------------------------------
# Helpers shared by plugins: one HMAC function for every scheme, constant-time compare, JSON.


def hmac_digest(algorithm: Callable[..., Any], key: bytes, message: bytes, encoding: str) -> str:
    """HMAC of ``message``; ``encoding`` is ``"base64"`` or ``"hex"``."""
    mac = hmac.new(key, message, algorithm).digest()
    return base64.b64encode(mac).decode() if encoding == "base64" else mac.hex()


def require_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise SignatureError(f"missing header {name}")
    return value


def check_digest(expected: str, given: str) -> None:
    """Constant-time comparison; raises SignatureError on mismatch."""
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise SignatureError("signature mismatch")


def load_json(body: bytes) -> Any:
    """Parse a JSON body; vendors sometimes label JSON as form data, so the content type is ignored."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotJSON(f"body is not JSON: {exc}") from exc


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def vocab_key(value: object) -> str:
    """Vendor strings compare case-insensitively, ignoring spaces, hyphens and underscores."""
    return "".join(ch for ch in str(value).lower() if ch not in " -_")


def parse_time(value: object, field: str = "time") -> datetime:
    """Parse ISO-8601 (``Z``, ``+0100``, ``2016-08-18 17:47:36 UTC``) or epoch seconds/ms to aware UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (ValueError, OverflowError, OSError):  # beyond year 9999 (or NaN): not a time any producer means
            raise PayloadError(f"{field}: not a time: {value!r}") from None
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{field}: not a time: {value!r}")
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # Jira: +0100 -> +01:00
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        if text.isdigit():
            return parse_time(int(text), field)
        raise PayloadError(f"{field}: not a time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def dig(data: Any, *path: str | int, field: str | None = None, required: bool = False) -> Any:
    """``data[p0][p1]...`` or None; with ``required`` a missing value raises PayloadError naming it."""
    current = data
    for key in path:
        if isinstance(current, Mapping) and isinstance(key, str):
            current = current.get(key)
        elif isinstance(current, list) and isinstance(key, int) and -len(current) <= key < len(current):
            current = current[key]
        else:
            current = None
        if current is None:
            break
    if current is None and required:
        raise PayloadError(f"missing field: {field or '.'.join(str(p) for p in path)}")
    return current


def id_str(value: object) -> str | None:
    """Vendor ids are stored as strings; ``12.0`` from a float-happy template becomes ``"12"``."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


# ---------------------------------------------------------------------------------------------
# Registry


class PluginLoadError(Exception):
    """An enabled plugin is missing, fails to import or is not an Integration."""


def installed_slugs(group: str = GROUP) -> list[str]:
    """Names of installed plugins, without importing any of them."""
    return sorted(ep.name for ep in entry_points(group=group))


def load_plugin(slug: str, group: str = GROUP) -> type:
    """Import one plugin class by its entry-point name (only enabled plugins are ever imported)."""
    matches = [ep for ep in entry_points(group=group) if ep.name == slug]
    if not matches:
        raise PluginLoadError(f"plugin {slug!r} is not installed (entry point group {group})")
    try:
        cls = matches[0].load()
    except Exception as exc:  # an import-time failure of third-party code must stop startup with its reason
        raise PluginLoadError(f"plugin {slug!r} failed to import: {exc!r}") from exc
    return cls
