"""Test kit shared with plugin authors: fixtures, signing, a live HTTP server on 127.0.0.1.

Usage in a plugin test::

    body = load_fixture("zendesk", "ticket_created__minimal")
    answer = server.post("zendesk", body, signed_headers(server.integration("zendesk"), body))
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from .integrations import Integration

PLUGINS_PACKAGE = "helpdesk_retain.plugins"


def fixture_dir(slug: str) -> Path:
    return Path(str(resources.files(PLUGINS_PACKAGE).joinpath(slug, "fixtures")))


def fixture_names(slug: str) -> list[str]:
    return sorted(p.stem for p in fixture_dir(slug).glob("*.json"))


def load_fixture(slug: str, name: str) -> bytes:
    """The raw bytes of ``plugins/<slug>/fixtures/<name>.json`` (signed as-is, never re-serialised)."""
    return (fixture_dir(slug) / f"{name}.json").read_bytes()


def load_fixture_json(slug: str, name: str) -> Any:
    return json.loads(load_fixture(slug, name))


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

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.http.close()
