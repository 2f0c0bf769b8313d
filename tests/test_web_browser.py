"""The dashboard in Debian's Chromium (Playwright), against the real HTTP server: the core journeys.

Screenshots go to ``test-artifacts/`` (gitignored). One browser for the module; each test gets a fresh
server, database and browser context.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from helpdesk_retain.followups import run_due_reminders
from helpdesk_retain.inbox import keep_dead_letter
from helpdesk_retain.testing import LiveServer
from helpdesk_retain.web.testing import PASSWORD, TAT_SETTINGS, add_user, iso, post_customer, post_issue, post_ticket

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
NOW = datetime.now(UTC).replace(microsecond=0)
BUG = "https://github.com/acme/app/issues/7"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium); .ci/run installs it")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(start_server) -> LiveServer:  # noqa: ANN001
    server = start_server(extra={**TAT_SETTINGS, "followups": {"delay_minutes": 0}})
    rt = server.app.extensions["helpdesk_retain"]
    add_user(rt, "sam@example.com", "agent", name="Sam")
    add_user(rt, "root@example.com", "admin")
    t0 = NOW - timedelta(hours=3)
    post_ticket(server, "T-1", t0, "How do I add a teammate?", "Where is the invite button?", customer="bo@example.com",
                assignee="sam@example.com")  # fmt: skip
    post_ticket(server, "T-2", t0 + timedelta(minutes=7), "Charged twice, I want to cancel",
                "I was charged twice this month. This is unacceptable, please cancel my account.",
                customer="ana@example.com", name="Ana Lima", assignee="sam@example.com", priority="high")  # fmt: skip
    post_customer(server, "ana@example.com", t0, 4900)
    return server


def page_for(browser: Browser, site: LiveServer, email: str, *, javascript: bool = True, locale: str = "en-US") -> Page:
    context = browser.new_context(
        java_script_enabled=javascript, locale=locale, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.goto(f"{site.url}/")
    expect(page).to_have_url(f"{site.url}/login?next=/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site.url}/")
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_agent_finds_a_complaint_records_a_save_without_javascript_and_sees_it_in_the_overview(browser, site):
    page = page_for(browser, site, "sam@example.com", javascript=False)
    expect(page.get_by_test_id("saves-count")).to_have_text("0")
    page.get_by_role("link", name="Tickets").click()
    page.get_by_label("Complaints").check()
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.tickets tbody tr")).to_have_count(1)
    shot(page, "tickets-complaints")
    page.get_by_role("link", name="Charged twice, I want to cancel").click()
    expect(page.locator("mark", has_text="please cancel my account")).to_be_visible()
    page.get_by_label("Recurring amount kept").fill("49.00")
    page.get_by_label("Currency").fill("USD")
    page.get_by_label("Why the customer wanted to leave").fill("Double charge")
    page.get_by_label("What kept them (offer)").fill("Refund of the duplicate and one month free")
    page.get_by_role("button", name="Record the save").click()
    expect(page.get_by_text("Save recorded.")).to_be_visible()
    expect(page.get_by_test_id("save-summary")).to_contain_text("$49.00")
    shot(page, "ticket-saved")
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_test_id("saves-count")).to_have_text("1")
    expect(page.get_by_text("$49.00 MRR")).to_be_visible()
    shot(page, "overview-after-save")
    assert site.ticket("generic", "T-2")["save"]["amount_minor"] == 4900
    page.context.close()


def test_an_agent_marks_a_follow_up_done_in_place(browser, site):
    post_ticket(site, "T-3", NOW - timedelta(hours=1), "Export page shows an error", f"See {BUG}",
                customer="cy@example.com", assignee="sam@example.com")  # fmt: skip
    post_issue(site, "acme/app#7", BUG, "open", NOW - timedelta(days=1), "Export page error")
    post_issue(site, "acme/app#7", BUG, "fixed", NOW - timedelta(minutes=20), "Export page error")
    run_due_reminders(site.app.extensions["helpdesk_retain"], NOW)
    page = page_for(browser, site, "sam@example.com")
    page.get_by_role("link", name="My follow-ups").click()
    row = page.locator("tr", has_text="acme/app#7")
    shot(page, "followups-due")
    page.evaluate("window.stillTheSamePage = true")
    row.get_by_role("button", name="Done").click()
    expect(row.get_by_role("status")).to_have_text("Done")
    assert page.evaluate("window.stillTheSamePage") is True  # htmx swapped the row; no reload
    assert [r["state"] for r in site.get("/api/reminders").json()["items"]] == ["done"]
    page.context.close()


def test_an_admin_replays_a_dead_letter(browser, site):
    body = json.dumps({"event": "ticket.created", "occurred_at": iso(NOW), "ticket": {"id": "T-9",
                       "subject": "Arrived while the database was down", "created_at": iso(NOW)}}).encode()  # fmt: skip
    keep_dead_letter(site.app.extensions["helpdesk_retain"], "generic", "d-1", {}, body, "database unavailable")
    page = page_for(browser, site, "root@example.com")
    page.get_by_role("link", name="Dead letters").click()
    expect(page.get_by_text("database unavailable")).to_be_visible()
    shot(page, "dead-letters")
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_text("replayed: processed")).to_be_visible()
    expect(page.get_by_text("No dead letters")).to_be_visible()
    page.get_by_role("link", name="Tickets").click()
    expect(page.get_by_role("link", name="Arrived while the database was down")).to_be_visible()
    page.context.close()


def test_the_dashboard_switches_to_chinese_and_remembers_it(browser, site):
    page = page_for(browser, site, "sam@example.com")
    page.get_by_label("Language").select_option("zh_Hans")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("link", name="工单")).to_be_visible()
    expect(page.get_by_text("语言已切换。")).to_be_visible()
    shot(page, "overview-zh")
    page.get_by_role("link", name="工单").click()
    page.get_by_role("link", name="Charged twice, I want to cancel").click()
    expect(page.get_by_role("heading", name="投诉与流失风险证据")).to_be_visible()
    shot(page, "ticket-zh")
    page.context.close()
    again = page_for(browser, site, "sam@example.com", locale="en-US")  # a new browser: the setting is the user's
    expect(again.locator("html")).to_have_attribute("lang", "zh-Hans")
    again.context.close()


def test_keyboard_users_get_a_skip_link_and_visible_focus(browser, site):
    page = page_for(browser, site, "sam@example.com")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.context.close()
