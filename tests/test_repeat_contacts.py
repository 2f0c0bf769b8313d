"""The repeat-contact judgement's one-pass functions give what the plain definition gives (a quadratic reference,
written here the way the definition reads), on random customers' tickets, and stay linear for a huge customer."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest

from helpdesk_retain.tagging.repeat import LATEST, earlier_contacts, to_judge

WINDOW = timedelta(days=14)
KEYS = ["category:billing", "signal:refund_request", "signal:data_export", "evidence:charged twice", "category:bug"]


class Row(NamedTuple):
    id: int
    external_id: str
    created_at: datetime


def random_tickets(rnd: random.Random, n: int) -> tuple[list[Row], dict[int, frozenset[str]]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows, matters = [], {}
    for i in range(1, n + 1):
        # whole hours over 40 days, so equal times (ordered by id) happen too
        at = start + timedelta(hours=rnd.randrange(0, 40 * 24, rnd.choice([1, 24])))
        rows.append(Row(i, f"T-{i}", at))
        matters[i] = frozenset(rnd.sample(KEYS, rnd.choice([0, 0, 1, 1, 1, 2, 3])))
    rows.sort(key=lambda r: (r.created_at, r.id))
    return rows, matters


def reference(rows: list[Row], queued: list[Row], matters: dict[int, frozenset[str]]) -> dict[int, Any]:
    """The definition, as the judgement read before it was made one-pass."""
    judge = {
        row.id
        for t in queued
        for row in rows
        if (t.created_at, t.id) <= (row.created_at, row.id) and row.created_at <= t.created_at + WINDOW
    }
    out = {}
    for position, row in enumerate(rows):
        if row.id not in judge:
            continue
        mine, same = matters[row.id], []
        earlier = position - 1
        while mine and earlier >= 0 and rows[earlier].created_at > row.created_at - WINDOW:
            if matters[rows[earlier].id] & mine:
                same.append(rows[earlier])
            earlier -= 1
        same.reverse()
        shared = frozenset().union(*(matters[e.id] & mine for e in same))
        out[row.id] = (mine, len(same), [e.id for e in same[-LATEST:]], shared)
    return out


def one_pass(rows: list[Row], queued: list[Row], matters: dict[int, frozenset[str]]) -> dict[int, Any]:
    judged = {row.id for row in to_judge(rows, [(t.created_at, t.id) for t in queued], WINDOW)}
    return {
        c.row.id: (c.matter, c.count, [e.id for e in c.latest], c.shared)
        for c in earlier_contacts(rows, judged, lambda r: matters[r.id], WINDOW)
    }


@pytest.mark.parametrize("seed", range(200))
def test_the_one_pass_judgement_equals_the_definition(seed):
    rnd = random.Random(seed)
    rows, matters = random_tickets(rnd, rnd.randrange(1, 60))
    queued = rnd.sample(rows, rnd.randrange(1, len(rows) + 1))
    assert one_pass(rows, queued, matters) == reference(rows, queued, matters)


def test_a_customer_with_thousands_of_tickets_a_fortnight_is_judged_in_linear_time():
    # 20,000 tickets over 10 days, all about one matter, every one queued (an import of a shared inbox's history):
    # the definition walks back through ~20,000 earlier tickets for each; the one pass counts matters
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [Row(i, f"T-{i}", start + timedelta(seconds=43 * i)) for i in range(20_000)]
    matters = {i: frozenset({"category:billing"}) for i in range(20_000)}
    calls = 0

    def about(row: Row) -> frozenset[str]:
        nonlocal calls
        calls += 1
        return matters[row.id]

    judged = {row.id for row in to_judge(rows, [(r.created_at, r.id) for r in rows], WINDOW)}
    contacts = list(earlier_contacts(rows, judged, about, WINDOW))
    assert len(contacts) == 20_000 and contacts[-1].count == 19_999
    assert [e.id for e in contacts[-1].latest] == list(range(19_994, 19_999))
    assert calls <= 20_000 * (3 + LATEST)  # a bounded number of matter look-ups per ticket, not one per pair
