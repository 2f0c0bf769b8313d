"""The dashboard's pages and forms over real HTTP: they show and change what the JSON API shows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.followups import run_due_reminders
from helpdesk_retain.inbox import keep_dead_letter
from helpdesk_retain.models import ApiToken
from helpdesk_retain.models.followups import FollowUp
from helpdesk_retain.models.users import User
from helpdesk_retain.web.testing import (
    TAT_SETTINGS,
    WebSession,
    add_user,
    iso,
    post_customer,
    post_event,
    post_issue,
    post_ticket,
)

NOW = datetime.now(UTC).replace(microsecond=0)
BUG_URL = "https://github.com/acme/app/issues/7"


@pytest.fixture
def site(start_server):  # noqa: ANN001, ANN201
    server = start_server(extra={**TAT_SETTINGS, "followups": {"delay_minutes": 0}})
    rt = server.app.extensions["helpdesk_retain"]
    add_user(rt, "sam@example.com", "agent")
    add_user(rt, "root@example.com", "admin")
    t0 = NOW - timedelta(hours=3)
    post_ticket(server, "T-1", t0, "Charged twice, I want to cancel",
                "I was charged twice. This is unacceptable, please cancel my account.",
                customer="ana@example.com", name="Ana Lima", assignee="sam@example.com", priority="high")  # fmt: skip
    post_ticket(server, "T-2", t0 + timedelta(minutes=5), "How do I invite a teammate?", "Just a question, 100%_sure",
                customer="bo@example.com", assignee="kim@example.com")  # fmt: skip
    post_ticket(server, "T-3", t0 + timedelta(minutes=9), "Dark mode colours",
                f"Colours swapped in the new release: {BUG_URL}", customer="cy@example.com",
                assignee="sam@example.com", tags=["bug"])  # fmt: skip
    post_customer(server, "ana@example.com", t0, 9900)
    return server


def signed_in(server, email: str = "sam@example.com") -> WebSession:  # noqa: ANN001
    web = WebSession(server.url)
    assert web.login(email).status_code == 302
    return web


def external_ids(html: str) -> list[str]:
    return re.findall(r'href="/tickets/generic/([^"]+)"', html)


def test_the_ticket_list_filters_by_flag_source_assignee_customer_and_text(site):
    web = signed_in(site)
    assert external_ids(web.get("/tickets").text) == ["T-3", "T-2", "T-1"]
    assert external_ids(web.get("/tickets?flag=complaint").text) == ["T-1"]
    assert external_ids(web.get("/tickets?flag=at_risk").text) == ["T-1"]
    assert external_ids(web.get("/tickets?assignee=me").text) == ["T-3", "T-1"]
    assert external_ids(web.get("/tickets?assignee=KIM@example.com").text) == ["T-2"]
    assert external_ids(web.get("/tickets?q=TEAMMATE").text) == ["T-2"]
    assert external_ids(web.get("/tickets?q=new+release").text) == ["T-3"]
    assert external_ids(web.get("/tickets?customer=ana@example.com").text) == ["T-1"]
    assert external_ids(web.get("/tickets?source=other").text) == []
    assert external_ids(web.get("/tickets?flag=complaint&assignee=kim@example.com").text) == []


def test_the_search_takes_percent_and_underscore_literally(site):
    web = signed_in(site)
    assert external_ids(web.get("/tickets?q=100%25_sure").text) == ["T-2"]
    assert external_ids(web.get("/tickets?q=%25").text) == ["T-2"]
    assert external_ids(web.get("/tickets?q=_").text) == ["T-2"]


def test_the_ticket_list_pages_with_the_api_cursor(start_server):
    server = start_server(extra={"web": {"page_size": 10}})
    add_user(server.app.extensions["helpdesk_retain"], "sam@example.com")
    for n in range(23):
        post_ticket(server, f"P-{n:02d}", NOW - timedelta(minutes=100 - n), f"ticket {n}")
    web, seen, path = signed_in(server), [], "/tickets"
    while path:
        page = web.get(path).text
        seen += external_ids(page)
        found = re.search(r'href="(/tickets\?cursor=[^"]+)" rel="next"', page)
        path = found.group(1).replace("&amp;", "&") if found else ""
    assert seen == [f"P-{n:02d}" for n in reversed(range(23))]
    api = server.get("/api/tickets?limit=10").json()
    assert api["next_cursor"] in web.get("/tickets").text  # one cursor scheme for the page and the API
    assert "no longer valid" in web.get("/tickets?cursor=garbage").text


def test_the_ticket_page_shows_evidence_clocks_customer_and_the_conversation(site):
    at = NOW - timedelta(hours=2)
    comment = {"id": "C-1", "body": "Any news? I will move to another tool.", "public": True,
               "author_role": "customer", "created_at": iso(at)}  # fmt: skip
    post_event(site, "comment.created", at, ticket={"id": "T-1"}, comment=comment)
    page = signed_in(site).get("/tickets/generic/T-1").text
    assert "<mark>charged twice</mark>" in page.lower() and "<mark>please cancel my account</mark>" in page
    assert "Cancel intent" in page and "Billing" in page
    assert "Breached" in page and "Running" in page  # first response ran out (120 min), resolution still runs
    assert "Ana Lima" in page and "$99.00" in page
    assert "Any news? I will move to <mark>another tool</mark>." in page  # the risk evidence, in the conversation


def test_the_save_form_records_the_save_the_api_then_shows(site):
    web = signed_in(site)
    form = {"source": "generic", "external_id": "T-1", "amount": "1 200,50", "currency": "eur", "interval": "year",
            "reason": "Price too high", "offer": "Annual plan at 10% off"}  # fmt: skip
    answer = web.post("/saves", form)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/tickets/generic/T-1#save")
    save = site.ticket("generic", "T-1")["save"]
    assert save == {"amount_minor": 120050, "currency": "EUR", "interval": "year", "outcome": "pending",
                    "reason": "Price too high", "offer": "Annual plan at 10% off"}  # fmt: skip
    page = web.get("/tickets/generic/T-1").text
    assert "Save recorded." in page and "€1,200.50" in page and "Marked as saved" in page
    listed = site.get("/api/saves").json()["items"]
    assert [(s["external_id"], s["via"]) for s in listed] == [("T-1", "api")]
    assert external_ids(web.get("/tickets?flag=saved").text) == ["T-1"]


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("49.999", "USD", "Enter an amount such as 49.00"),
        ("abc", "USD", "Enter an amount such as 49.00"),
        ("49", "XYZ", "Enter an amount such as 49.00"),
        ("", "USD", "This field is required."),
        ("10", "US", "A three-letter ISO 4217 code"),
    ],  # fmt: skip
)
def test_a_bad_save_form_is_answered_422_with_the_problem_and_records_nothing(site, amount, currency, message):
    answer = signed_in(site).post("/saves", {"source": "generic", "external_id": "T-1", "amount": amount,
                                             "currency": currency, "interval": "month"})  # fmt: skip
    assert answer.status_code == 422 and message in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert site.ticket("generic", "T-1")["save"] is None


def test_a_save_for_an_unknown_ticket_is_404(site):
    web = signed_in(site)
    form = {"source": "generic", "external_id": "nope", "amount": "5", "currency": "USD", "interval": "month"}
    assert web.post("/saves", form).status_code == 404
    assert web.get("/tickets/generic/nope").status_code == 404


def fix_the_bug(site) -> None:  # noqa: ANN001
    post_issue(site, "acme/app#7", BUG_URL, "open", NOW - timedelta(days=1))
    post_issue(site, "acme/app#7", BUG_URL, "fixed", NOW - timedelta(minutes=30))
    run_due_reminders(site.app.extensions["helpdesk_retain"], NOW)


def test_my_follow_ups_lists_only_mine_and_done_marks_them_as_the_api_does(site):
    post_ticket(site, "T-4", NOW - timedelta(hours=1), "Broken too", f"Same: {BUG_URL}", assignee="kim@example.com")
    fix_the_bug(site)
    web = signed_in(site)
    page = web.get("/followups").text
    assert external_ids(page) == ["T-3"] and "acme/app#7" in page
    followup_id = int(re.search(r'action="/followups/(\d+)/done"', page).group(1))
    assert web.post(f"/followups/{followup_id}/done").status_code == 302
    done = [r for r in site.get("/api/reminders").json()["items"] if r["id"] == followup_id][0]
    assert (done["state"], done["done_by"], done["done_reason"]) == ("done", "sam@example.com", "manual")
    assert "Nothing due" in web.get("/followups").text


def test_done_from_htmx_answers_with_the_updated_row(site):
    fix_the_bug(site)
    with session_scope(site.app.extensions["helpdesk_retain"].sessions) as session:
        followup_id = session.execute(select(FollowUp.id)).scalar_one()
    answer = signed_in(site).post(f"/followups/{followup_id}/done", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and answer.text.lstrip().startswith(f'<tr id="followup-{followup_id}"')
    assert "Done" in answer.text and "<html" not in answer.text


def test_a_follow_up_cancelled_by_a_reopened_issue_cannot_be_marked_done(site):
    fix_the_bug(site)
    post_issue(site, "acme/app#7", BUG_URL, "open", NOW - timedelta(minutes=10))
    with session_scope(site.app.extensions["helpdesk_retain"].sessions) as session:
        followup_id = session.execute(select(FollowUp.id)).scalar_one()
    web = signed_in(site)
    web.post(f"/followups/{followup_id}/done")
    assert "was cancelled" in web.get("/followups").text


def test_an_admin_replays_a_dead_letter_and_the_ticket_appears(site):
    rt = site.app.extensions["helpdesk_retain"]
    body = json.dumps({"event": "ticket.created", "occurred_at": iso(NOW), "ticket": {"id": "T-9", "subject": "Late",
                       "created_at": iso(NOW)}}).encode()  # fmt: skip
    row_id = keep_dead_letter(rt, "generic", "d-1", {"webhook-id": "d-1"}, body, "database was restarted")
    web = signed_in(site, "root@example.com")
    page = web.get("/dead-letters").text
    assert "database was restarted" in page and "&#34;T-9&#34;" in page
    assert web.post(f"/dead-letters/{row_id}/replay").status_code == 302
    assert "replayed: processed" in web.get("/dead-letters").text
    assert site.ticket("generic", "T-9")["subject"] == "Late"


def test_a_dead_letter_that_still_fails_stays_with_its_new_error(site):
    rt = site.app.extensions["helpdesk_retain"]
    row_id = keep_dead_letter(rt, "generic", "d-2", {}, b'{"event": "ticket.created"}', "first error")
    web = signed_in(site, "root@example.com")
    web.post(f"/dead-letters/{row_id}/replay")
    assert "is still dead" in web.get("/dead-letters").text
    web.post(f"/dead-letters/{row_id}/discard")
    assert "No dead letters" in web.get("/dead-letters").text


def test_an_admin_creates_a_user_who_can_then_sign_in(site):
    admin = signed_in(site, "root@example.com")
    form = {"email": " Lee@Example.com ", "name": "Lee", "role": "lead", "password": "a long enough password"}
    assert admin.post("/admin/users", form).status_code == 302
    again = admin.post("/admin/users", form)
    assert again.status_code == 422 and "has an account already" in again.text
    short = admin.post("/admin/users", {**form, "email": "x@example.com", "password": "short"})
    assert short.status_code == 422 and "Use 12 to 1024 characters." in short.text
    lee = WebSession(site.url)
    assert lee.login("lee@example.com", "a long enough password").status_code == 302
    assert lee.get("/settings").status_code == 200


def test_the_last_admin_keeps_the_role(site):
    admin = signed_in(site, "root@example.com")
    with session_scope(site.app.extensions["helpdesk_retain"].sessions) as session:
        root_id = session.execute(select(User.id).where(User.email == "root@example.com")).scalar_one()
    admin.post(f"/admin/users/{root_id}", {"role": "agent", "active": "y"})
    assert "last admin" in admin.get("/admin/users").text
    with session_scope(site.app.extensions["helpdesk_retain"].sessions) as session:
        assert session.get(User, root_id).role == "admin"


def test_an_admin_creates_an_api_token_shown_once_and_revokes_it(site):
    admin = signed_in(site, "root@example.com")
    created = admin.post("/admin/tokens", {"name": "reporting-script"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    token = re.search(r'data-testid="new-token">(hr_[^<]+)<', created.text).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    assert site.http.get(f"{site.url}/api/tickets", headers=headers, timeout=10).status_code == 200
    assert token not in admin.get("/admin/tokens").text
    with session_scope(site.app.extensions["helpdesk_retain"].sessions) as session:
        token_id = session.execute(select(ApiToken.id).where(ApiToken.name == "reporting-script")).scalar_one()
    assert admin.post(f"/admin/tokens/{token_id}/revoke").status_code == 302
    assert site.http.get(f"{site.url}/api/tickets", headers=headers, timeout=10).status_code == 401


def test_the_overview_shows_the_digests_figures_for_the_week(site):
    web = signed_in(site)
    week = f"{NOW.isocalendar().year}-W{NOW.isocalendar().week:02d}"
    figures = site.get(f"/api/digest/{week}").json()
    page = web.get("/").text
    cards = dict(re.findall(r'<p class="card-label">([^<]+)</p>\s*<p class="card-value"[^>]*>([^<]+)</p>', page))
    assert cards["Tickets received"] == str(figures["tickets"]["received"])
    assert cards["Complaints"] == str(figures["complaints"]["count"])
    assert cards["Customers at risk"] == str(figures["at_risk"]["count"])
    assert cards["Customers saved"] == str(figures["saves"]["customers"])


def test_the_overview_card_counts_kept_saves_once_per_customer_as_the_digest_does(site):
    """Ana saved on two tickets (one subscription), Bo saved and lost: 1 customer, Ana's USD 49 MRR once."""
    from helpdesk_retain.models import Customer, Ticket
    from helpdesk_retain.models.saves import Save

    post_ticket(site, "T-4", NOW - timedelta(hours=1), "Cancel please", "Please cancel", customer="ana@example.com")
    rt = site.app.extensions["helpdesk_retain"]
    at = NOW - timedelta(minutes=1)
    with session_scope(rt.sessions) as session:
        tickets = {t.external_id: t for t in session.execute(select(Ticket)).scalars()}
        bo = session.execute(select(Customer).where(Customer.email == "bo@example.com")).scalar_one()
        for external_id, outcome in (("T-1", "pending"), ("T-4", "pending"), ("T-2", "lost")):
            ticket = tickets[external_id]
            money = {"amount_minor": 4900, "currency": "USD", "mrr_minor": 4900, "arr_minor": 58800}
            session.add(
                Save(ticket_id=ticket.id, customer_id=ticket.customer_id, via="api", interval="month", **money,
                     saved_at=at, verify_due_at=at + timedelta(days=60), outcome=outcome, created_at=at, updated_at=at)
            )  # fmt: skip
        assert tickets["T-2"].customer_id == bo.id
    page = signed_in(site).get("/").text
    card = re.search(r'data-testid="saves-count">([^<]+)</p>\s*<p class="card-note">\s*([^<]+?)\s*</p>', page)
    assert card is not None
    assert (card.group(1), card.group(2)) == ("1", "$49.00 MRR")


def test_the_at_risk_page_lists_customers_with_reasons_and_tickets(site):
    page = signed_in(site).get("/at-risk").text
    assert "ana@example.com" in page and "Cancel intent" in page and "/tickets/generic/T-1" in page
    assert "bo@example.com" not in page


def test_the_language_follows_the_browser_then_the_users_own_choice(site):
    web = signed_in(site)
    assert '<html lang="en">' in web.get("/").text
    chinese = web.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert '<html lang="zh-Hans">' in chinese and "概览" in chinese
    web.post("/language", {"language": "zh_Hans", "next": "/tickets"})
    assert "工单" in web.get("/tickets", headers={"Accept-Language": "en"}).text
    with session_scope(site.app.extensions["helpdesk_retain"].sessions) as session:
        assert session.execute(select(User.language).where(User.email == "sam@example.com")).scalar_one() == "zh_Hans"


def test_the_settings_page_shows_the_configuration_without_secrets(site):
    page = signed_in(site, "root@example.com").get("/settings").text
    assert "POST /webhooks/generic" in page and "standard" in page
    assert "whsec_" not in page


def test_after_its_first_request_the_process_keeps_the_loaded_app_out_of_full_collections(site):
    import gc

    signed_in(site).get("/tickets")
    assert gc.get_freeze_count() > 10_000  # modules, the app, compiled templates: not traversed again
