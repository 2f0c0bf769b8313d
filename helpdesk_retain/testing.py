"""Test kit shared with plugin authors: fixtures, signing, a live HTTP server on 127.0.0.1.

Usage in a plugin test::

    body = load_fixture("zendesk", "ticket_created__minimal")
    answer = server.post("zendesk", body, signed_headers(server.integration("zendesk"), body))
"""

from __future__ import annotations

import asyncio
import email
import json
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from .integrations import Integration

PLUGINS_PACKAGE = "helpdesk_retain.plugins"
#: the Standard Webhooks spec's published test secret, used for the generic source in tests
GENERIC_TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def fixture_dir(slug: str) -> Path:
    return Path(str(resources.files(PLUGINS_PACKAGE).joinpath(slug, "fixtures")))


def fixture_names(slug: str) -> list[str]:
    return sorted(p.stem for p in fixture_dir(slug).glob("*.json"))


def load_fixture(slug: str, name: str) -> bytes:
    """The raw bytes of ``plugins/<slug>/fixtures/<name>.json`` (signed as-is, never re-serialised)."""
    return (fixture_dir(slug) / f"{name}.json").read_bytes()


def load_fixture_json(slug: str, name: str) -> Any:
    return json.loads(load_fixture(slug, name))


def ticket_values(external_id: str, at: Any, **fields: Any) -> dict[str, Any]:
    """The columns of a minimal generic ticket row, every time column at ``at`` (an aware datetime)."""
    return {
        "source": "generic",
        "external_id": external_id,
        "status": "open",
        "created_at": at,
        "updated_at": at,
        "first_seen_at": at,
        **fields,
    }


def signed_headers(integration: Integration, body: bytes, **kwargs: Any) -> dict[str, str]:
    """Headers the vendor would send with ``body``, signed with the integration's configured secret."""
    return integration.sign(body, **kwargs)


class LiveServer:
    """A real HTTP server on 127.0.0.1 (werkzeug, threaded) serving ``app`` until ``stop()``."""

    def __init__(self, app: Flask, token: str | None = None) -> None:
        self.app = app
        self.token = token
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.http = requests.Session()

    def integration(self, source: str) -> Integration:
        return self.app.extensions["helpdesk_retain"].integrations[source]

    def post(self, source: str, body: bytes, headers: Mapping[str, str] | None = None) -> requests.Response:
        return self.http.post(f"{self.url}/webhooks/{source}", data=body, headers=dict(headers or {}), timeout=30)

    def post_signed(self, source: str, body: bytes, **sign_kwargs: Any) -> requests.Response:
        return self.post(source, body, signed_headers(self.integration(source), body, **sign_kwargs))

    def post_fixture(self, source: str, slug: str, name: str, **sign_kwargs: Any) -> requests.Response:
        return self.post_signed(source, load_fixture(slug, name), **sign_kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(kwargs.pop("headers", {}))
        return self.http.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.api("GET", path, **kwargs)

    def ticket(self, source: str, external_id: str) -> dict[str, Any]:
        response = self.get(f"/api/tickets/{source}/{external_id}")
        assert response.status_code == 200, response.text
        return response.json()

    @property
    def sessions(self) -> Any:
        """The sessionmaker of this server's runtime (tests read what a request stored)."""
        return self.app.extensions["helpdesk_retain"].sessions

    def count(self, model: Any) -> int:
        """Rows of ``model``'s table in this server's database."""
        from sqlalchemy import func, select

        from .db import session_scope

        with session_scope(self.sessions) as session:
            return session.execute(select(func.count()).select_from(model)).scalar_one()

    def comments(self, source: str, external_id: str) -> list[tuple[str, bool, str]]:
        """(author_role, public, body) of the ticket's logged comments, oldest first."""
        from sqlalchemy import select

        from .db import session_scope
        from .models import Ticket, TicketLog

        with session_scope(self.sessions) as session:
            rows = session.execute(
                select(TicketLog.author_role, TicketLog.public, TicketLog.body)
                .join(Ticket, Ticket.id == TicketLog.ticket_id)
                .where(Ticket.source == source, Ticket.external_id == external_id, TicketLog.kind == "comment")
                .order_by(TicketLog.at, TicketLog.id)
            ).all()
        return [tuple(row) for row in rows]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.http.close()


# ---------------------------------------------------------------------------------------------
# Outbound: a real SMTP server and a real HTTP server on 127.0.0.1 that record what they receive.


def sample_message(channel: str = "email", row_id: int = 41) -> Any:
    """The rendered reminder of ``plugins/email/fixtures/followup_reminder__two_tickets.json`` as a notifier
    receives it (an ``OutboundMessage``): the common input of the notifier plugins' tests."""
    from datetime import datetime
    from types import SimpleNamespace

    from .notify.outbox import to_outbound

    row = load_fixture_json("email", "followup_reminder__two_tickets")
    row.update(channel=channel, created_at=datetime.fromisoformat(row["created_at"]))
    return to_outbound(SimpleNamespace(id=row_id, **row))


def signed_parse(integration: Integration, body: bytes, **sign: Any) -> list[Any]:
    """Sign ``body`` as the vendor would, verify it as the endpoint does (case-insensitive headers), parse it."""
    from werkzeug.datastructures import Headers

    headers = Headers(integration.sign(body, **sign))
    integration.verify(headers, body)
    return integration.parse(headers, body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return bool(predicate())
        time.sleep(interval)
    return True


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts, in ``received``.

    ``stop()`` then ``start()`` simulates an outage on the same port; ``reject = (550, "5.1.1 No such
    user")`` answers every RCPT with that reply; ``delay_seconds`` slows each DATA down. Optional
    ``tls_context`` offers STARTTLS (``require_starttls`` insists on it), ``ssl_context`` serves implicit
    TLS, and ``auth = (user, password)`` requires AUTH LOGIN / PLAIN with those credentials.
    """

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        auth: tuple[str, str] | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        self.port = free_port()
        self.tls_context, self.require_starttls, self.ssl_context = tls_context, require_starttls, ssl_context
        self.auth, self.delay_seconds = auth, delay_seconds
        self.reject: tuple[int, str] | None = None
        self.received: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        kwargs: dict[str, Any] = {"tls_context": self.tls_context, "require_starttls": self.require_starttls}
        if self.auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self._controller = Controller(
            _SinkHandler(self), hostname="127.0.0.1", port=self.port, ssl_context=self.ssl_context, **kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """An ``[smtp]`` table pointing at this server."""
        return {"host": "127.0.0.1", "port": self.port, "timeout_seconds": 5.0, **overrides}

    def keep(self, mail: ReceivedMail) -> None:
        with self._lock:
            self.received.append(mail)

    def message_ids(self) -> list[str]:
        with self._lock:
            return [str(m.message["Message-ID"]) for m in self.received]

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == self.auth
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if self.sink.reject is not None:
            code, text = self.sink.reject
            return f"{code} {text}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.sink.delay_seconds:
            await asyncio.sleep(self.sink.delay_seconds)
        self.sink.keep(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpSink:
    """A real HTTP server on 127.0.0.1 that records every request in ``requests``.

    Answers come from ``respond(status, body, headers)`` calls, in order, then ``200 ok`` (what a Slack
    incoming webhook answers).
    """

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self._answers: list[tuple[int, bytes, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> HttpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, status: int, body: bytes | str = b"", headers: Mapping[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._answers.append((status, data, dict(headers or {})))

    def _answer(self, request: ReceivedRequest) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            self.requests.append(request)
            return self._answers.pop(0) if self._answers else (200, b"ok", {})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, data, extra = sink._answer(ReceivedRequest("POST", self.path, headers, body))
                self.send_response(status)
                for name, value in {"Content-Type": "text/plain", **extra}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet in tests
                pass

        return Handler
