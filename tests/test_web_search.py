"""The ticket list's text search through the text index (``models.search``): what it finds is the substring
match it always was (case-insensitive, subject or description, English and Chinese), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Ticket
from helpdesk_retain.web import tickets
from helpdesk_retain.web.testing import WebSession, add_user, iso, post_event, post_ticket

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def site(start_server):  # noqa: ANN001, ANN201
    server = start_server()
    add_user(server.app.extensions["helpdesk_retain"], "sam@example.com")
    t0 = NOW - timedelta(hours=3)
    post_ticket(server, "S-1", t0, "Refund for the annual plan", "Please send the refund to my card.")
    post_ticket(server, "S-2", t0 + timedelta(minutes=1), "退款申请被拒绝", "我上周要求退款，还没有回复。")
    post_ticket(server, "S-3", t0 + timedelta(minutes=2), "Login loop", "After the update I cannot log in.")
    post_ticket(server, "S-4", t0 + timedelta(minutes=3), "ÉCOLE account", "Billing question from our school.")
    return server


def found(server, q: str) -> list[str]:  # noqa: ANN001
    web = WebSession(server.url)
    assert web.login("sam@example.com").status_code == 302
    return re.findall(r'href="/tickets/generic/([^"]+)"', web.get("/tickets", params={"q": q}).text)


def is_postgres(server) -> bool:  # noqa: ANN001
    return server.app.extensions["helpdesk_retain"].engine.dialect.name == "postgresql"


def test_a_search_finds_words_in_the_subject_or_the_description_in_any_ascii_case(site):
    assert found(site, "REFUND") == ["S-1"]
    assert found(site, "log in") == ["S-3"]
    assert found(site, "the update i") == ["S-3"]
    assert found(site, "zzzz-nothing") == []


def test_a_chinese_search_finds_the_ticket_with_three_characters_or_with_two(site):
    assert found(site, "退款申请") == ["S-2"]
    assert found(site, "还没有") == ["S-2"]
    assert found(site, "退款") == ["S-2"]  # two characters: no trigram, answered by reading the tickets
    assert found(site, "退货") == []


def test_the_index_does_not_change_which_letters_match_beyond_ascii(site):
    # the index folds É to é; the match itself decides: ILIKE does too, SQLite's LIKE folds ASCII only
    assert found(site, "école") == (["S-4"] if is_postgres(site) else [])
    assert found(site, "ÉCOLE") == ["S-4"]


def test_an_edited_subject_is_found_by_its_new_words_and_no_longer_by_its_old_ones(site):
    later = NOW - timedelta(hours=1)
    ticket = {"id": "S-3", "subject": "Password reset mail never arrives", "description": "No mail at all.",
              "status": "open", "created_at": iso(NOW - timedelta(hours=3)), "updated_at": iso(later)}  # fmt: skip
    post_event(site, "ticket.updated", later, ticket=ticket)
    assert found(site, "password reset") == ["S-3"]
    assert found(site, "login loop") == []
    assert found(site, "cannot log in") == []


def test_on_sqlite_the_text_index_names_the_candidates_and_a_common_text_reads_the_tickets(site, monkeypatch):
    rt = site.app.extensions["helpdesk_retain"]
    if is_postgres(site):
        pytest.skip("SQLite's FTS5 table; PostgreSQL's trigram indexes serve ILIKE themselves")
    with session_scope(rt.sessions) as session:
        by_id = dict(session.execute(select(Ticket.external_id, Ticket.id)).all())
        assert tickets.candidates(session, "Refund") == [by_id["S-1"]]
        assert tickets.candidates(session, "退款申请") == [by_id["S-2"]]
        assert tickets.candidates(session, "退款") is None  # fewer than three characters
        assert sorted(tickets.candidates(session, "the") or []) == sorted(by_id[t] for t in ("S-1", "S-3"))
        monkeypatch.setattr(tickets, "CANDIDATES", 1)
        assert tickets.candidates(session, "the") is None  # more than CANDIDATES: read newest first instead
    assert found(site, "the") == ["S-3", "S-1"]


def test_trigram_queries_quote_every_piece_and_stay_short():
    assert tickets.trigram_query("ab") is None
    assert tickets.trigram_query('a"b*c') == '"a""b" AND "b*c"'
    long = tickets.trigram_query("x" * 100 + "abcdefghijklmnopqrstuvwxyz" * 4)
    assert long is not None and long.count(" AND ") == tickets.TRIGRAMS - 1
