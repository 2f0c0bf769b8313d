"""Test kit for the dashboard: users, and a ``requests`` session that signs in and sends CSRF tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import requests

from ..db import session_scope
from ..runtime import Runtime
from .accounts import create_user

PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_user(rt: Runtime, email: str, role: str = "agent", password: str = PASSWORD, name: str | None = None) -> None:
    with session_scope(rt.sessions) as session:
        create_user(session, email, role, password, datetime.now(UTC), name)


class WebSession:
    """A browser-like client: cookies, the page's CSRF token, no redirects followed unless asked."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.token: str | None = None

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        response = self.http.get(self.base_url + path, timeout=30, **kwargs)
        found = CSRF_INPUT.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def csrf(self) -> str:
        if self.token is None:
            self.get("/login")
        assert self.token is not None, "no CSRF token on the page"
        return self.token

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> requests.Response:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf())
        kwargs.setdefault("allow_redirects", False)
        return self.http.post(self.base_url + path, data=form, timeout=30, **kwargs)

    def login(self, email: str, password: str = PASSWORD) -> requests.Response:
        self.get("/login")
        response = self.post("/login", {"email": email, "password": password, "next": "/"})
        self.token = None  # a new session has a new token
        self.get("/tickets")
        return response

    def close(self) -> None:
        self.http.close()


# --- events for a scenario, posted through the real webhook endpoint -------------------------------------

#: a calendar open around the clock and one TAT policy, so every ticket gets clocks
ALWAYS_OPEN = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
TAT_SETTINGS: dict[str, Any] = {
    "calendars": {"always": {"timezone": "UTC", "hours": ALWAYS_OPEN}},
    "tat": {
        "policies": [{"name": "standard", "calendar": "always", "targets": {"first_response": 120, "resolution": 2880}}]
    },
}


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def post_event(server: Any, event: str, at: datetime, **payload: Any) -> requests.Response:
    """Post one generic-source event, signed (``server`` is a ``helpdesk_retain.testing.LiveServer``)."""
    import json

    response = server.post_signed("generic", json.dumps({"event": event, "occurred_at": iso(at), **payload}).encode())
    assert response.status_code in (200, 202), response.text
    return response


def post_ticket(server: Any, tid: str, at: datetime, subject: str, description: str = "", *,
                customer: str = "ana@example.com", name: str | None = None, assignee: str | None = None,
                priority: str = "normal", tags: list[str] | None = None) -> None:  # fmt: skip
    ticket = {
        "id": tid, "subject": subject, "description": description, "status": "open", "priority": priority,
        "channel": "email", "tags": tags or [], "created_at": iso(at), "updated_at": iso(at),
        "requester": {"email": customer, "name": name},
    }  # fmt: skip
    if assignee:
        ticket["assignee"] = {"email": assignee}
    post_event(server, "ticket.created", at, ticket=ticket)


def post_customer(
    server: Any, email: str, at: datetime, mrr_minor: int, currency: str = "USD", plan: str = "pro"
) -> None:
    customer = {"email": email, "status": "active", "mrr_minor": mrr_minor, "currency": currency, "plan": plan,
                "updated_at": iso(at)}  # fmt: skip
    post_event(server, "customer.updated", at, customer=customer)


def post_issue(server: Any, issue: str, url: str, state: str, at: datetime, title: str = "A bug") -> None:
    fields = {"tracker": "github", "id": issue, "url": url, "state": state, "title": title, "updated_at": iso(at)}
    post_event(server, "issue.updated", at, issue=fields)
