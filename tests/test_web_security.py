"""The dashboard is secure by default: sign-in, roles, CSRF, throttling, escaping, cookies (real HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models.users import LoginAttempt, User, WebSecret
from helpdesk_retain.runtime import build_runtime
from helpdesk_retain.testing import LiveServer
from helpdesk_retain.web.testing import PASSWORD, WebSession, add_user, post_ticket
from helpdesk_retain.web_app import build_app

NOW = datetime.now(UTC)
WEEK = f"{NOW.isocalendar().year}-W{NOW.isocalendar().week:02d}"
PAGES = ["/", "/tickets", "/tickets/generic/T-1", "/followups", "/at-risk", "/dead-letters", "/digest-preview",
         f"/digest-preview/{WEEK}", "/settings", "/admin/users", "/admin/tokens"]  # fmt: skip
FORMS = ["/saves", "/followups/1/done", "/dead-letters/1/replay", "/dead-letters/1/discard", "/admin/users",
         "/admin/users/1", "/admin/tokens", "/admin/tokens/1/revoke", "/logout"]  # fmt: skip
ADMIN_ONLY = ["/dead-letters", "/admin/users", "/admin/tokens"]
LEAD_ONLY = ["/digest-preview", f"/digest-preview/{WEEK}", "/settings", f"/digest/{WEEK}"]


@pytest.fixture
def site(start_server):  # noqa: ANN001, ANN201
    server = start_server()
    rt = server.app.extensions["helpdesk_retain"]
    for email, role in (("agent@example.com", "agent"), ("lead@example.com", "lead"), ("admin@example.com", "admin")):
        add_user(rt, email, role)
    post_ticket(server, "T-1", NOW - timedelta(hours=1), "Hello", "A question", assignee="agent@example.com")
    return server


def signed_in(server: LiveServer, email: str) -> WebSession:
    web = WebSession(server.url)
    assert web.login(email).status_code == 302
    return web


def test_every_page_sends_an_anonymous_visitor_to_the_sign_in_page(site):
    web = WebSession(site.url)
    for path in PAGES:
        answer = web.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"].startswith("/login?next="), path


def test_every_form_refuses_an_anonymous_post_even_with_a_valid_csrf_token(site):
    web = WebSession(site.url)
    web.get("/login")  # an anonymous session with its own valid token
    for path in FORMS:
        answer = web.post(path, {"amount": "10", "currency": "USD", "source": "generic", "external_id": "T-1"})
        assert answer.status_code == 401, path
        assert "Please sign in" in answer.text


def test_a_form_post_without_a_csrf_token_is_refused_and_changes_nothing(site):
    web = signed_in(site, "agent@example.com")
    form = {"source": "generic", "external_id": "T-1", "amount": "49.00", "currency": "USD", "interval": "month"}
    assert web.post("/saves", form, csrf=False).status_code == 400
    assert web.post("/saves", {**form, "csrf_token": "forged"}, csrf=False).status_code == 400
    assert site.ticket("generic", "T-1")["save"] is None
    assert web.post("/saves", form).status_code == 302
    assert site.ticket("generic", "T-1")["save"]["amount_minor"] == 4900


def test_a_csrf_token_of_another_session_is_refused(site):
    other = WebSession(site.url)
    other.get("/login")
    web = signed_in(site, "agent@example.com")
    form = {"source": "generic", "external_id": "T-1", "amount": "1", "currency": "USD", "csrf_token": other.csrf()}
    assert web.post("/saves", form, csrf=False).status_code == 400


def test_an_agent_cannot_reach_lead_or_admin_pages_or_forms(site):
    web = signed_in(site, "agent@example.com")
    for path in ADMIN_ONLY + LEAD_ONLY:
        assert web.get(path).status_code == 403, path
    for path in ["/admin/users", "/admin/users/1", "/admin/tokens", "/admin/tokens/1/revoke", "/dead-letters/1/replay"]:
        assert web.post(path, {"role": "admin", "active": "y", "name": "x"}).status_code == 403, path
    with session_scope(site.app.extensions["helpdesk_retain"].sessions) as session:
        assert session.execute(select(User.role).where(User.email == "agent@example.com")).scalar_one() == "agent"


def test_a_lead_sees_the_digest_and_settings_but_not_admin_pages(site):
    web = signed_in(site, "lead@example.com")
    for path in LEAD_ONLY:
        assert web.get(path, allow_redirects=True).status_code == 200, path
    for path in ADMIN_ONLY:
        assert web.get(path).status_code == 403, path


def test_the_digest_in_a_browser_needs_a_signed_in_lead(site):
    anonymous = WebSession(site.url).get(f"/digest/{WEEK}")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    assert signed_in(site, "agent@example.com").get(f"/digest/{WEEK}").status_code == 403


def test_wrong_passwords_are_throttled_per_account_and_then_even_the_right_one_waits(site):
    web = WebSession(site.url)
    web.get("/login")
    for _ in range(5):
        assert web.post("/login", {"email": "agent@example.com", "password": "wrong password!"}).status_code == 401
    refused = web.post("/login", {"email": "agent@example.com", "password": "wrong password!"})
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert web.post("/login", {"email": "agent@example.com", "password": PASSWORD}).status_code == 429
    assert signed_in(site, "lead@example.com").get("/").status_code == 200  # other accounts are not locked


def test_wrong_passwords_from_one_address_are_throttled_across_accounts(start_server):
    server = start_server(extra={"web": {"login_failures_per_ip": 3}})
    web = WebSession(server.url)
    web.get("/login")
    for n in range(3):
        assert web.post("/login", {"email": f"user{n}@example.com", "password": "wrong password!"}).status_code == 401
    assert web.post("/login", {"email": "user9@example.com", "password": "wrong password!"}).status_code == 429


def test_the_throttle_counts_failures_of_every_process_sharing_the_database(site, settings):
    second_rt = build_runtime(site.app.extensions["helpdesk_retain"].settings)
    second = LiveServer(build_app(runtime=second_rt))
    try:
        for n in range(5):
            web = WebSession((site if n % 2 else second).url)
            web.get("/login")
            assert web.post("/login", {"email": "admin@example.com", "password": "nope nope nope"}).status_code == 401
        web = WebSession(second.url)
        web.get("/login")
        assert web.post("/login", {"email": "admin@example.com", "password": PASSWORD}).status_code == 429
    finally:
        second.stop()
        second_rt.close()


def test_a_successful_sign_in_clears_the_accounts_failures(site):
    web = WebSession(site.url)
    web.get("/login")
    for _ in range(4):
        web.post("/login", {"email": "agent@example.com", "password": "wrong password!"})
    assert web.login("agent@example.com").status_code == 302
    with session_scope(site.app.extensions["helpdesk_retain"].sessions) as session:
        keys = set(session.execute(select(LoginAttempt.key)).scalars())
    assert "account:agent@example.com" not in keys and "ip:127.0.0.1" in keys


def test_ticket_text_with_script_tags_is_rendered_escaped(site):
    evil = "<script>alert('pwned')</script>"
    post_ticket(site, "T-2", NOW, f"{evil} refund", f"I want a refund {evil} <img src=x onerror=alert(1)>")
    body = json.dumps({"event": "comment.created", "occurred_at": NOW.isoformat(), "ticket": {"id": "T-2"},
                       "comment": {"id": "C-9", "body": evil, "public": True, "author_role": "customer",
                                   "created_at": NOW.isoformat()}}).encode()  # fmt: skip
    assert site.post_signed("generic", body).status_code == 202
    web = signed_in(site, "agent@example.com")
    for path in ["/tickets/generic/T-2", "/tickets?q=refund", "/"]:
        page = web.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
    page = web.get("/tickets/generic/T-2").text
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_pages_forbid_framing_and_inline_scripts(site):
    answer = signed_in(site, "agent@example.com").get("/")
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["X-Frame-Options"] == "DENY" and answer.headers["Cache-Control"] == "no-store"


def test_the_session_cookie_is_httponly_samesite_lax_and_not_secure_over_plain_http(site):
    answer = WebSession(site.url)
    answer.get("/login")
    response = answer.post("/login", {"email": "agent@example.com", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


@pytest.mark.parametrize(("trust_proxy", "secure"), [(True, True), (False, False)])
def test_behind_a_trusted_https_proxy_the_cookie_is_secure(start_server, trust_proxy, secure):
    server = start_server(extra={"web": {"trust_proxy": trust_proxy}})
    add_user(server.app.extensions["helpdesk_retain"], "agent@example.com")
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "retain.example"}
    page = requests.get(f"{server.url}/login", headers=headers, timeout=10)
    assert ("Secure" in page.headers["Set-Cookie"]) is secure
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"csrf_token": token, "email": "agent@example.com", "password": PASSWORD}
    # the cookie goes back by hand: a client only returns a Secure cookie over HTTPS, and the proxy's leg is plain
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    headers |= {"Cookie": cookie, "Referer": "https://retain.example/login"}  # Flask-WTF checks it over HTTPS
    answer = requests.post(f"{server.url}/login", data=form, headers=headers, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert ("Secure" in answer.headers["Set-Cookie"]) is secure


def test_the_generated_session_key_is_kept_so_a_restart_keeps_users_signed_in(site):
    web = signed_in(site, "agent@example.com")
    rt = site.app.extensions["helpdesk_retain"]
    with session_scope(rt.sessions) as session:
        assert session.execute(select(WebSecret.name)).scalars().all() == ["session_key"]
    restarted_rt = build_runtime(rt.settings)
    restarted = LiveServer(build_app(runtime=restarted_rt))
    try:
        web.base_url = restarted.url
        assert web.get("/").status_code == 200
    finally:
        restarted.stop()
        restarted_rt.close()


def test_a_configured_secret_key_is_used_and_nothing_is_generated(start_server):
    server = start_server(extra={"web": {"secret_key": "k" * 40}})
    add_user(server.app.extensions["helpdesk_retain"], "agent@example.com")
    assert signed_in(server, "agent@example.com").get("/").status_code == 200
    assert server.app.secret_key == "k" * 40
    with session_scope(server.app.extensions["helpdesk_retain"].sessions) as session:
        assert session.execute(select(WebSecret)).first() is None


def test_sign_in_never_redirects_to_another_site(site):
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example", "/tickets?q=x"]:
        web = WebSession(site.url)
        web.get("/login")
        answer = web.post("/login", {"email": "agent@example.com", "password": PASSWORD, "next": target})
        assert answer.headers["Location"] == (target if target.startswith("/t") else "/"), target


def test_a_deactivated_user_is_signed_out_at_the_next_request(site):
    agent = signed_in(site, "agent@example.com")
    admin = signed_in(site, "admin@example.com")
    with session_scope(site.app.extensions["helpdesk_retain"].sessions) as session:
        agent_id = session.execute(select(User.id).where(User.email == "agent@example.com")).scalar_one()
    assert admin.post(f"/admin/users/{agent_id}", {"role": "agent"}).status_code == 302  # "active" unticked
    assert agent.get("/").status_code == 302
    assert agent.login("agent@example.com").status_code == 401


def test_webhooks_and_the_json_api_need_no_csrf_token(site):
    post_ticket(site, "T-3", NOW, "Fine", "no csrf here")
    body = {"source": "generic", "external_id": "T-3", "amount_minor": 100, "currency": "EUR"}
    assert site.api("POST", "/api/saves", json=body).status_code == 201
    assert site.http.post(f"{site.url}/nope", data={}, timeout=10).status_code == 404
