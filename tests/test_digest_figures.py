"""The digest's figures for a seeded week match hand-computed values, on SQLite and PostgreSQL.

The seed (``seed_week``) inserts rows directly with explicit times around ISO week 2026-W47 in Europe/Berlin:
Monday 16 Nov 2026 00:00 CET (15 Nov 23:00 UTC) to Monday 23 Nov 00:00 CET (22 Nov 23:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from helpdesk_retain.db import session_scope
from helpdesk_retain.digest.business import first_response_stats, percentile_cont_sql, percentile_window_sql
from helpdesk_retain.digest.figures import week_figures
from helpdesk_retain.digest.send import figures_json
from helpdesk_retain.digest.views import PAGE_AUTH
from helpdesk_retain.digest.weeks import BadWeek, IsoWeek, due_week
from helpdesk_retain.models import Customer, Ticket
from helpdesk_retain.models.followups import FollowUp
from helpdesk_retain.models.links import Issue
from helpdesk_retain.models.saves import Save
from helpdesk_retain.models.tagging import ComplaintState, RiskSignal
from helpdesk_retain.models.tat import TatClock
from tests.conftest import requires_postgres

BERLIN = ZoneInfo("Europe/Berlin")
W47 = IsoWeek(2026, 47)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DIGEST_EXTRA: dict[str, Any] = {
    "digest": {"timezone": "Europe/Berlin", "recipients": ["lead@example.com", "ceo@example.com"]},
    "calendars": {
        "support": {"timezone": "Europe/Berlin"},  # Mon-Fri 09:00-17:00
        "always": {"timezone": "UTC", "hours": {d: [["00:00", "00:00"]] for d in WEEKDAYS}},
    },
    "tat": {
        "policies": [
            {"name": "vip", "calendar": "always", "match": {"tags_any": ["vip"]}, "targets": {"first_response": 30}},
            {"name": "standard", "calendar": "support", "targets": {"first_response": 60, "resolution": 480}},
        ]
    },
}


def berlin(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


class Seed:
    """Small row builders with explicit times (ORM objects, so column defaults apply)."""

    def __init__(self, session: Any, prefix: str = "T") -> None:
        self.session, self.prefix = session, prefix
        self.n = 0

    def add(self, row: Any) -> Any:
        self.session.add(row)
        self.session.flush()
        return row

    def customer(self, email: str, name: str, mrr: int | None = None, currency: str | None = None, **kw: Any) -> int:
        created = kw.pop("created_at", berlin(1, 5))
        row = Customer(key=email, email=email, name=name, mrr_minor=mrr, currency=currency, created_at=created, **kw)
        return self.add(row).id

    def ticket(self, created: datetime, customer: int | None = None, **kw: Any) -> int:
        self.n += 1
        row = Ticket(
            source="generic",
            external_id=f"{self.prefix}-{self.n}",
            created_at=created,
            updated_at=created,
            first_seen_at=created,
            customer_id=customer,
            **kw,
        )
        return self.add(row).id

    def complaint(self, at: datetime, category: str, evidence: list[str], customer: int | None = None) -> int:
        """A complaint ticket created at ``at``, as the tagging feature records it (with ``complaint_at``)."""
        ticket = self.ticket(at, customer, is_complaint=True, complaint_category=category, complaint_evidence=evidence)
        self.add(ComplaintState(ticket_id=ticket, complaint_at=at))
        return ticket

    def clock(self, ticket: int, metric: str, policy: str, start: datetime, **kw: Any) -> None:
        target = {"vip": 30, "standard": 60 if metric == "first_response" else 480}[policy]
        row = TatClock(ticket_id=ticket, metric=metric, policy=policy, target_minutes=target, started_at=start, **kw)
        self.add(row)

    def save(self, ticket: int, at: datetime, amount: int, currency: str, interval: str = "month", **kw: Any) -> None:
        mrr, arr = (amount, amount * 12) if interval == "month" else (round(amount / 12), amount)
        row = Save(
            ticket_id=ticket,
            via="tag",
            amount_minor=amount,
            currency=currency,
            interval=interval,
            mrr_minor=mrr,
            arr_minor=arr,
            saved_at=at,
            verify_due_at=at + timedelta(days=60),
            created_at=at,
            updated_at=at,
            **kw,
        )
        self.add(row)

    def followup(self, issue: int, ticket: int, created: datetime, due: datetime, **kw: Any) -> None:
        self.n += 1
        row = FollowUp(issue_id=issue, ticket_id=ticket, fix_cycle=self.n, fixed_at=created, due_at=due, **kw)
        self.add(FollowUp.model_validate({**row.model_dump(), "created_at": created}))


def seed_week(session: Any) -> None:
    """Week 2026-W47 with its 7 weeks before (see each figure's test for the hand computation)."""
    s = Seed(session)
    ana = s.customer("ana@example.com", "Ana Silva", 9900, "USD", plan="pro")
    bo = s.customer("bo@example.com", "Bo Lindqvist", 4900, "EUR", plan="team")
    cy = s.customer("cy@example.com", "Cy Okafor", 19900, "USD", status="cancelled", cancelled_at=berlin(11, 20, 12))
    dee = s.customer("dee@example.com", "Dee Park", 2900, "USD")
    # the four are billing customers (a customer event each); requesters added later are not
    session.execute(text("UPDATE customers SET updated_at = created_at"))

    # tickets received: week boundaries in Berlin time
    s.ticket(berlin(11, 22, 23, 30))  # Sunday 23:30 Berlin: still W47
    s.ticket(berlin(11, 16, 0, 0))  # Monday 00:00 Berlin: W47 starts
    s.ticket(berlin(11, 15, 23, 59))  # Sunday before: W46
    s.ticket(berlin(11, 23, 0, 0))  # next Monday 00:00: W48

    # complaints: W47 billing x2 and product_defect x1; W43..W46 (the baseline) as in test_complaints_...
    s.complaint(berlin(11, 18, 10), "billing", ["charged twice", "refund"], bo)
    s.complaint(berlin(11, 19, 11), "billing", ["Charged twice"], bo)
    # no complaint time recorded: counts at the ticket's creation, Sunday 23:30 Berlin (still W47)
    s.ticket(berlin(11, 22, 23, 30), dee, is_complaint=True, complaint_category="product_defect",
             complaint_evidence=["still broken"])  # fmt: skip
    s.complaint(berlin(10, 20, 9), "billing", ["late invoice"], bo)  # W43
    s.complaint(berlin(10, 27, 9), "service_quality", ["no answer"], dee)  # W44
    s.complaint(berlin(10, 28, 9), "service_quality", ["rude"])  # W44
    s.complaint(berlin(11, 3, 9), "billing", ["charged twice"])  # W45
    s.complaint(berlin(11, 5, 9), "billing", ["charged twice"])  # W45
    s.complaint(berlin(11, 10, 9), "billing", ["charged twice"])  # W46
    s.complaint(berlin(11, 15, 23, 59), "product_defect", ["crash"])  # W46, last minute
    late = s.ticket(berlin(11, 12, 9), is_complaint=True, complaint_category="pricing", complaint_evidence=["too dear"])
    s.add(ComplaintState(ticket_id=late, complaint_at=berlin(11, 23, 0, 0)))  # complained in W48: not in W47

    # at risk at the week's end: Ana (cancel intent), Bo (3 complaints in 90 days); Cy is cancelled, Dee has 2
    asked = s.ticket(berlin(11, 18, 9), ana)
    s.add(
        RiskSignal(
            ticket_id=asked, signal="cancel_intent", source="comment:1", evidence="please cancel", at=berlin(11, 18, 9)
        )
    )
    gone = s.ticket(berlin(11, 17, 9), cy)
    s.add(RiskSignal(ticket_id=gone, signal="cancel_intent", source="comment:2", evidence="bye", at=berlin(11, 17, 9)))

    # saves: two in W47 (USD monthly, EUR yearly), one withdrawn; two earlier ones decided in W47
    saved_usd, saved_eur, withdrawn = (s.ticket(berlin(11, 17, 10), ana) for _ in range(3))
    s.save(saved_usd, berlin(11, 17, 11), 4900, "USD")
    s.save(saved_eur, berlin(11, 18, 11), 12000, "EUR", "year")
    s.save(withdrawn, berlin(11, 18, 12), 9900, "USD", withdrawn_at=berlin(11, 19))
    held, lost = s.ticket(berlin(10, 1, 10)), s.ticket(berlin(10, 6, 10))
    s.save(held, berlin(10, 1, 11), 2900, "USD", outcome="held", verified_at=berlin(11, 20, 8))  # W40
    s.save(lost, berlin(10, 6, 11), 1500, "USD", outcome="lost", verified_at=berlin(11, 19, 8))  # W41

    # TAT (standard: Mon-Fri 09:00-17:00 Berlin; vip: round the clock)
    c = [s.ticket(berlin(11, 16, 9)) for _ in range(6)]
    s.clock(c[0], "first_response", "standard", berlin(11, 16, 9), state="met", stopped_at=berlin(11, 16, 9, 30))
    due = berlin(11, 17, 9, 30)
    s.clock(c[1], "first_response", "standard", berlin(11, 16, 16, 30), state="breached",
            stopped_at=berlin(11, 17, 9, 45), breached_at=due, due_at=due)  # fmt: skip
    s.clock(c[2], "first_response", "standard", berlin(11, 13, 16), state="breached",
            stopped_at=berlin(11, 16, 9, 10), breached_at=berlin(11, 13, 17), due_at=berlin(11, 13, 17))  # fmt: skip
    s.clock(c[3], "first_response", "vip", berlin(11, 18, 11), state="met", stopped_at=berlin(11, 18, 11, 20))
    s.clock(c[4], "first_response", "standard", berlin(11, 21, 10), state="met", stopped_at=berlin(11, 22, 23, 30))
    s.clock(c[5], "resolution", "standard", berlin(11, 16, 9), state="running", due_at=berlin(11, 19, 13))
    s.clock(c[4], "resolution", "standard", berlin(11, 21, 10), state="running", due_at=berlin(11, 30, 10))

    # follow-ups
    issue = s.add(Issue(tracker="github", key="acme/app#1", issue="acme/app#1", updated_at=NOW, created_at=NOW)).id
    # created in W47, due, escalation (8 h after due) not before W48: not overdue yet
    s.followup(issue, c[0], berlin(11, 20, 9), berlin(11, 20, 9), state="due", escalate_at=berlin(11, 23, 10))
    s.followup(issue, c[1], berlin(11, 10, 9), berlin(11, 10, 9), state="sent", notified_at=berlin(11, 16, 10),
               escalate_at=berlin(11, 19, 9))  # fmt: skip
    s.followup(issue, c[2], berlin(11, 3, 9), berlin(11, 3, 9), state="done", done_at=berlin(11, 18, 9))
    s.followup(issue, c[3], berlin(11, 10, 9), berlin(11, 10, 9), state="cancelled", cancelled_at=berlin(11, 11))
    s.followup(issue, c[4], berlin(11, 20, 9), berlin(11, 24, 9))  # created in W47, due in W48


@pytest.fixture
def digest_runtime(make_settings, db_url):  # noqa: ANN001
    from helpdesk_retain.runtime import build_runtime

    rt = build_runtime(make_settings(extra=DIGEST_EXTRA))
    yield rt
    rt.close()


@pytest.fixture
def seeded(digest_runtime):  # noqa: ANN001
    with session_scope(digest_runtime.sessions) as session:
        seed_week(session)
    return digest_runtime


def figures_of(rt: Any, week: IsoWeek = W47, now: datetime = NOW) -> dict[str, Any]:
    with session_scope(rt.sessions) as session:
        return figures_json(week_figures(session, rt.settings, week, now))


# --- weeks ------------------------------------------------------------------------------------------------


def test_a_week_runs_from_monday_midnight_to_monday_midnight_in_the_digest_zone():
    assert W47.bounds("Europe/Berlin") == (
        datetime(2026, 11, 15, 23, tzinfo=UTC),
        datetime(2026, 11, 22, 23, tzinfo=UTC),
    )


def test_the_week_of_the_autumn_clock_change_is_169_hours_long():
    since, until = IsoWeek(2026, 43).bounds("Europe/Berlin")
    assert since == datetime(2026, 10, 18, 22, tzinfo=UTC)
    assert until - since == timedelta(hours=169)


def test_2026_has_an_iso_week_53_that_ends_in_2027_and_2025_has_none():
    week = IsoWeek.parse("2026-W53")
    assert week.bounds("Europe/Berlin") == (
        datetime(2026, 12, 27, 23, tzinfo=UTC),
        datetime(2027, 1, 3, 23, tzinfo=UTC),
    )
    assert str(week.shift(1)) == "2027-W01"
    with pytest.raises(BadWeek):
        IsoWeek.parse("2025-W53")


@pytest.mark.parametrize("bad", ["2026-47", "2026-W7", "2026-W00", "2026-W54", "W47", "2026-w47", ""])
def test_a_malformed_week_string_is_refused(bad):
    with pytest.raises(BadWeek):
        IsoWeek.parse(bad)


@pytest.mark.parametrize(
    ("local_now", "expected"),
    [
        (datetime(2026, 11, 23, 7, 59), "2026-W46"),  # Monday before 08:00: the week before last is the newest due
        (datetime(2026, 11, 23, 8, 0), "2026-W47"),
        (datetime(2026, 11, 29, 23, 59), "2026-W47"),
        (datetime(2026, 12, 16, 15, 0), "2026-W50"),  # after downtime: only the newest due week
        (datetime(2027, 1, 4, 9, 0), "2026-W53"),
    ],
)
def test_the_due_week_is_the_last_one_that_ended_before_the_latest_send_time(local_now, expected):
    now = local_now.replace(tzinfo=BERLIN).astimezone(UTC)
    assert str(due_week(now, "mon 08:00", "Europe/Berlin")) == expected


def test_a_send_time_later_in_the_week_still_sends_the_last_complete_week():
    now = datetime(2026, 11, 27, 17, 30, tzinfo=BERLIN).astimezone(UTC)  # Friday 17:30
    assert str(due_week(now, "fri 17:00", "Europe/Berlin")) == "2026-W47"
    assert str(due_week(now - timedelta(hours=1), "fri 17:00", "Europe/Berlin")) == "2026-W46"


# --- figures of the seeded week ----------------------------------------------------------------------------


def test_tickets_received_count_the_week_in_berlin_time_including_sunday_2330(seeded):
    f = figures_of(seeded)
    assert f["since"] == "2026-11-15T23:00:00Z" and f["until"] == "2026-11-22T23:00:00Z"
    # 4 boundary tickets -> 2 in W47 (Sun 23:30, Mon 00:00); 3 W47 complaints; 2 signal tickets; 3 save
    # tickets; 6 TAT tickets created Mon 16 Nov 09:00
    assert f["tickets"]["received"] == 2 + 3 + 2 + 3 + 6


def test_complaints_by_category_change_against_the_previous_four_weeks_average(seeded):
    c = figures_of(seeded)["complaints"]
    # W43..W46: billing 1, 0, 2, 1 (avg 1.0); product_defect 0, 0, 0, 1 (0.25); service_quality 0, 2, 0, 0 (0.5)
    assert c["by_category"] == [
        {"category": "billing", "count": 2, "previous_average": 1.0, "change_percent": 100.0},
        {"category": "product_defect", "count": 1, "previous_average": 0.25, "change_percent": 300.0},
        {"category": "service_quality", "count": 0, "previous_average": 0.5, "change_percent": -100.0},
    ]
    # totals 1, 2, 2, 2 -> 1.75; (3 - 1.75) / 1.75 = 71.43%; the pricing complaint made in W48 is not counted
    assert (c["count"], c["previous_average"], c["change_percent"]) == (3, 1.75, 71.4)


def test_top_evidence_phrases_group_spellings_and_count_tickets(seeded):
    assert figures_of(seeded)["complaints"]["top_evidence"] == [
        {"phrase": "Charged twice", "tickets": 2},
        {"phrase": "refund", "tickets": 1},
        {"phrase": "still broken", "tickets": 1},
    ]


def test_the_trend_holds_eight_weeks_of_complaints_saves_and_attainment(seeded):
    trend = figures_of(seeded)["trend"]
    assert [w["week"] for w in trend] == [f"2026-W{n}" for n in range(40, 48)]
    assert [sum(w["complaints"].values()) for w in trend] == [0, 0, 0, 1, 2, 2, 2, 3]
    assert [w["saves"] for w in trend] == [1, 1, 0, 0, 0, 0, 0, 2]
    assert [w["tat_attainment"] for w in trend] == [None] * 6 + [0.0, 0.6]


@pytest.mark.parametrize("now", [NOW, berlin(11, 19, 12)])  # after the week; inside it, before a clock's due time
def test_each_week_of_the_trend_equals_that_weeks_own_figures(seeded, now):
    with session_scope(seeded.sessions) as session:
        s = Seed(session, prefix="X")
        # a clock running past due in W45, one due after ``now`` in W47, a met one in W44, a withdrawn save in W46
        s.clock(s.ticket(berlin(11, 2, 9)), "resolution", "standard", berlin(11, 2, 9), state="running",
                due_at=berlin(11, 4, 12))  # fmt: skip
        s.clock(s.ticket(berlin(11, 19, 9)), "first_response", "vip", berlin(11, 19, 9), state="running",
                due_at=berlin(11, 19, 14))  # fmt: skip
        s.clock(s.ticket(berlin(10, 27, 9)), "first_response", "vip", berlin(10, 27, 9), state="met",
                stopped_at=berlin(10, 27, 9, 10))  # fmt: skip
        s.save(s.ticket(berlin(11, 10, 9)), berlin(11, 10, 10), 900, "USD", withdrawn_at=berlin(11, 11))
    trend = figures_of(seeded, now=now)["trend"]
    for entry in trend:
        own = figures_of(seeded, IsoWeek.parse(entry["week"]), now)
        assert entry["received"] == own["tickets"]["received"]
        assert entry["saves"] == own["saves"]["count"]
        assert entry["tat_attainment"] == own["tat"]["attainment"], entry["week"]
    # W43 none; W44 the met clock; W45 the overdue one; W46 a breach; W47 3 met and 2 breached, plus the vip clock
    # once past due (at NOW); at Thursday noon the running clocks are not due yet, so 3 met and 1 breached
    assert [w["tat_attainment"] for w in trend][3:] == [None, 1.0, 0.0, 0.0, 0.5 if now == NOW else 0.75]


def test_at_risk_customers_come_most_valuable_first_with_their_reasons(seeded):
    risk = figures_of(seeded)["at_risk"]
    assert risk["count"] == 2  # Cy cancelled; Dee has 2 bad experiences of the 3 needed
    ana, bo = risk["customers"]
    assert (ana["email"], ana["mrr_minor"], ana["currency"]) == ("ana@example.com", 9900, "USD")
    assert [(r["rule"], r["kind"], r["count"], r["evidence"]) for r in ana["reasons"]] == [
        ("signal", "cancel_intent", 1, "please cancel")
    ]
    assert [(r["kind"], r["count"]) for r in bo["reasons"]] == [("bad_experiences", 3)]


def test_the_digest_lists_the_same_customers_at_risk_as_the_tagging_feature(seeded):
    from helpdesk_retain.digest.risk import at_risk
    from helpdesk_retain.tagging.risk import at_risk_customers

    until = W47.bounds("Europe/Berlin")[1]
    with session_scope(seeded.sessions) as session:
        theirs = at_risk_customers(session, seeded.settings, until, limit=100)
        ours = at_risk(session, seeded.settings, until, limit=100)
        assert [c["email"] for c in ours["customers"]] == [item["customer"].email for item in theirs]
        assert ours["count"] == len(theirs)


def test_bad_experiences_count_complaints_by_when_made_and_clocks_by_when_they_ran_out(digest_runtime):
    """Each kind of row the at-risk rule reads, in and out of its 90 days before ``at`` (``(at - 90 d, at]``)."""
    at = berlin(11, 20, 12)
    with session_scope(digest_runtime.sessions) as session:
        s = Seed(session, prefix="R")
        ann, ben, cat, dan = (s.customer(f"{n}@example.com", n.title(), 1000 * (i + 1), "USD")
                              for i, n in enumerate(("ann", "ben", "cat", "dan")))  # fmt: skip
        gone = s.customer("gone@example.com", "Gone", 90_000, "USD", status="cancelled", cancelled_at=berlin(11, 1))
        old = berlin(7, 1)  # created long before the window
        # Ann: a complaint made in the window on an old ticket, a breach, a running clock past due: 3
        t = s.ticket(old, ann, is_complaint=True, complaint_category="billing")
        s.add(ComplaintState(ticket_id=t, complaint_at=berlin(10, 1)))
        s.clock(s.ticket(old, ann), "first_response", "standard", old, state="breached", breached_at=berlin(11, 2))
        s.clock(s.ticket(old, ann), "resolution", "standard", old, state="running", due_at=berlin(11, 19))
        # Ben: only a complaint without a recorded time, created in the window, counts: 1
        s.ticket(berlin(10, 5), ben, is_complaint=True)
        late = s.ticket(berlin(10, 6), ben, is_complaint=True)
        s.add(ComplaintState(ticket_id=late, complaint_at=berlin(11, 21)))  # complained after ``at``
        undone = s.ticket(berlin(10, 7), ben)  # no longer a complaint (an agent's override)
        s.add(ComplaintState(ticket_id=undone, complaint_at=berlin(10, 7)))
        s.clock(s.ticket(old, ben), "first_response", "standard", old, state="met", stopped_at=berlin(11, 3))
        s.clock(s.ticket(old, ben), "resolution", "standard", old, state="running", due_at=berlin(11, 22))
        s.clock(s.ticket(old, ben), "first_response", "standard", old, state="breached", breached_at=berlin(8, 1))
        # Cat: two complaints without a recorded time and a breach, the last on 10 Nov: 3
        s.ticket(berlin(9, 1), cat, is_complaint=True)
        s.ticket(berlin(9, 2), cat, is_complaint=True)
        s.clock(s.ticket(old, cat), "first_response", "vip", old, state="breached", breached_at=berlin(11, 10))
        # Dan: a cancel signal; Gone: three breaches, but cancelled
        asked = s.ticket(berlin(11, 12), dan)
        s.add(
            RiskSignal(ticket_id=asked, signal="cancel_intent", source="subject", evidence="cancel", at=berlin(11, 12))
        )
        for _ in range(3):
            s.clock(s.ticket(old, gone), "first_response", "vip", old, state="breached", breached_at=berlin(11, 5))
    from helpdesk_retain.digest.risk import at_risk
    from helpdesk_retain.tagging.risk import at_risk_customers

    with session_scope(digest_runtime.sessions) as session:
        listed = at_risk_customers(session, digest_runtime.settings, at)
        newly = at_risk_customers(session, digest_runtime.settings, at, since=berlin(11, 11))
        digest = at_risk(session, digest_runtime.settings, at)
    why = {i["customer"].email: [(r.kind, r.count, r.evidence) for r in i["reasons"]] for i in listed}
    assert list(why) == ["dan@example.com", "cat@example.com", "ann@example.com"]  # most MRR first
    assert why["ann@example.com"] == [("bad_experiences", 3, "2 tat breach, 1 complaint")]
    assert why["cat@example.com"] == [("bad_experiences", 3, "1 tat breach, 2 complaint")]
    assert why["dan@example.com"] == [("cancel_intent", 1, "cancel")]
    assert [i["customer"].email for i in newly] == ["dan@example.com", "ann@example.com"]  # Cat's last: 10 Nov
    assert [c["email"] for c in digest["customers"]] == list(why) and digest["count"] == 3


def test_saves_count_money_per_currency_and_earlier_saves_decided_this_week(seeded):
    saves = figures_of(seeded)["saves"]
    assert (saves["count"], saves["withdrawn"]) == (2, 1)
    money = [(r["currency"], r["count"], r["mrr_minor"], r["arr_minor"]) for r in saves["by_currency"]]
    assert money == [("EUR", 1, 1000, 12000), ("USD", 1, 4900, 58800)]
    assert saves["decided"] == {
        "held": 1,
        "lost": 1,
        "by_currency": [
            {"outcome": "held", "currency": "USD", "count": 1, "mrr_minor": 2900},
            {"outcome": "lost", "currency": "USD", "count": 1, "mrr_minor": 1500},
        ],
    }
    # intent: Ana's and Cy's cancel signals plus the two saved tickets -> 2 / 4
    assert saves["save_rate"] == {"saves": 2, "intent_tickets": 4, "percent": 50.0}


def test_tat_attainment_counts_breaches_at_their_due_time(seeded):
    tat = figures_of(seeded)["tat"]
    rows = {(r["policy"], r["metric"]): (r["met"], r["breached"]) for r in tat["items"]}
    # the clock breached on Fri 13 Nov 17:00 belongs to W46 although it stopped in W47; the running resolution
    # clock past its due time (Thu 19 Nov) counts as breached
    assert rows == {
        ("vip", "first_response"): (1, 0),
        ("standard", "first_response"): (2, 1),
        ("standard", "resolution"): (0, 1),
    }  # noqa: E501
    assert (tat["met"], tat["breached"], tat["attainment"]) == (3, 2, 0.6)


def test_first_response_percentiles_are_in_business_minutes(seeded):
    # business minutes: 30; 30 + 45 = 75 (overnight); 60 + 10 = 70 (over the weekend); 20 (vip, round the
    # clock); 0 (Saturday to Sunday night). Sorted 0, 20, 30, 70, 75: median x[2] = 30; p90 h = 3.6 ->
    # 70 + 0.6 x (75 - 70) = 73
    assert figures_of(seeded)["tat"]["first_response"] == {"count": 5, "median_minutes": 30.0, "p90_minutes": 73.0}


def test_follow_ups_created_sent_done_and_overdue(seeded):
    # overdue: unfinished at the week's end and past its escalation time (the reminder sent in W47)
    assert figures_of(seeded)["followups"] == {"created": 2, "sent": 1, "done": 1, "overdue": 1}


def test_retention_rate_and_churn_come_from_customer_events(seeded):
    r = figures_of(seeded)["retention"]
    assert r == {"crr": {"start": 4, "end": 3, "new": 0, "percent": 75.0}, "churned": 1}


def test_an_empty_week_has_zeros_and_nulls_not_errors(digest_runtime):
    f = figures_of(digest_runtime)
    assert f["tickets"]["received"] == 0
    assert (f["complaints"]["count"], f["complaints"]["change_percent"], f["complaints"]["by_category"]) == (
        0,
        None,
        [],
    )
    assert (f["saves"]["count"], f["saves"]["save_rate"]["percent"]) == (0, None)
    assert (f["tat"]["attainment"], f["tat"]["first_response"]["median_minutes"]) == (None, None)
    assert f["retention"] == {"crr": None, "churned": 0}


def test_iso_week_53_counts_a_ticket_of_sunday_3_january_2027_late_evening(digest_runtime):
    with session_scope(digest_runtime.sessions) as session:
        s = Seed(session)
        s.ticket(berlin(1, 3, 23, 30, year=2027))
        s.ticket(berlin(12, 28, 0, 0))
        s.ticket(berlin(1, 4, 0, 0, year=2027))  # 2027-W01
    f = figures_of(digest_runtime, IsoWeek.parse("2026-W53"), datetime(2027, 1, 5, tzinfo=UTC))
    assert (f["week"], f["tickets"]["received"]) == ("2026-W53", 2)
    assert f["trend"][0]["week"] == "2026-W46"


# --- percentiles --------------------------------------------------------------------------------------------


def test_percentiles_interpolate_between_closest_ranks(digest_runtime):
    """Hand-computed type-7 percentiles over the vip calendar (minutes = wall minutes)."""
    cases = {(): (0, None, None), (7,): (1, 7.0, 7.0), (10, 20): (2, 15.0, 19.0), (1, 2, 3, 4, 100): (5, 3.0, 61.6)}
    for case, (minutes, expected) in enumerate(cases.items()):
        with session_scope(digest_runtime.sessions) as session:
            session.execute(text("DELETE FROM tat_clocks"))
            s = Seed(session, prefix=f"P{case}")
            for m in minutes:
                start = berlin(11, 17, 10)
                s.clock(
                    s.ticket(start),
                    "first_response",
                    "vip",
                    start,
                    state="met",
                    stopped_at=start + timedelta(minutes=m),
                )
            since, until = W47.bounds("Europe/Berlin")
            stats = first_response_stats(session, digest_runtime.settings, since, until)
        assert (stats["count"], stats["median_minutes"], stats["p90_minutes"]) == expected, minutes


def test_the_window_function_percentile_equals_percentile_cont_on_postgresql(digest_runtime):
    requires_postgres()
    import random

    rng = random.Random(7)
    with session_scope(digest_runtime.sessions) as session:
        for n in (1, 2, 3, 4, 5, 9, 10, 11, 19, 20, 21, 37, 100):
            values = ", ".join(f"({rng.randint(0, 100_000)})" for _ in range(n))
            cte = f"WITH secs(v) AS (VALUES {values}) "
            cont = session.execute(text(cte + percentile_cont_sql())).one()
            window = session.execute(text(cte + percentile_window_sql())).one()
            assert cont[0] == window[0] == n
            assert [round(float(x), 6) for x in cont[1:]] == [round(float(x), 6) for x in window[1:]], n


def test_a_report_plans_its_statements_for_their_values_only_in_its_own_transaction(digest_runtime):
    requires_postgres()
    from helpdesk_retain.tagging.risk import at_risk_customers

    def settings_now(session) -> tuple[str, ...]:  # noqa: ANN001
        names = ("plan_cache_mode", "jit", "max_parallel_workers_per_gather")
        return tuple(session.execute(text(f"SELECT current_setting('{n}')")).scalar_one() for n in names)

    with session_scope(digest_runtime.sessions) as session:
        before = settings_now(session)
        at_risk_customers(session, digest_runtime.settings, NOW)
        assert settings_now(session) == ("force_custom_plan", "off", "0")
    with session_scope(digest_runtime.sessions) as session:  # the pool hands out the same connection
        assert settings_now(session) == before


# --- the API and the page -------------------------------------------------------------------------------------


@pytest.fixture
def digest_server(seeded):  # noqa: ANN001
    from helpdesk_retain.testing import LiveServer
    from helpdesk_retain.tokens import create_token
    from helpdesk_retain.web_app import build_app

    with session_scope(seeded.sessions) as session:
        token = create_token(session, "digest-test", NOW)
    app = build_app(runtime=seeded)
    # the page's own default (a bearer token), as without a web sign-in; the dashboard installs its hook here
    app.extensions.pop(PAGE_AUTH, None)
    live = LiveServer(app, token=token)
    yield live
    live.stop()


def test_get_api_digest_answers_the_figures_as_json(digest_server):
    answer = digest_server.get("/api/digest/2026-W47")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["week"], body["saves"]["count"], body["tat"]["breached"]) == ("2026-W47", 2, 2)
    assert body["complaints"]["by_category"][0]["category"] == "billing"


@pytest.mark.parametrize("week", ["2026-47", "2025-W53", "2026-W99"])
def test_a_bad_week_string_answers_422_naming_the_week(digest_server, week):
    answer = digest_server.get(f"/api/digest/{week}")
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("invalid week")


def test_the_digest_api_and_page_need_a_bearer_token(digest_server):
    for path in ("/api/digest/2026-W47", "/digest/2026-W47"):
        assert digest_server.http.get(f"{digest_server.url}{path}", timeout=30).status_code == 401


def test_a_web_sign_in_decides_who_sees_the_digest_page_through_its_hook(digest_server):
    from flask import Response

    digest_server.app.extensions[PAGE_AUTH] = lambda: Response("sign in first", status=403)
    assert digest_server.get("/digest/2026-W47").status_code == 403
    digest_server.app.extensions[PAGE_AUTH] = lambda: None
    assert digest_server.http.get(f"{digest_server.url}/digest/2026-W47", timeout=30).status_code == 200


def test_the_digest_page_shows_the_email_html_with_images_inline(digest_server):
    page = digest_server.get("/digest/2026-W47?lang=zh-Hans")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "img-src data:" in page.headers["Content-Security-Policy"]
    assert "挽回 2 位客户" in page.text and "cid:" not in page.text and "data:image/png;base64," in page.text


def test_the_digest_operation_is_in_the_openapi_spec(digest_server):
    spec = digest_server.http.get(f"{digest_server.url}/openapi.json", timeout=30).json()
    operation = spec["paths"]["/api/digest/{week}"]["get"]
    assert set(operation["responses"]) >= {"200", "401", "422"}
    assert "DigestOut" in spec["components"]["schemas"]


def test_the_current_weeks_at_risk_list_does_not_count_clocks_due_after_now(digest_runtime):
    """Mid-week (Wednesday) a running resolution clock due on Friday is no breach yet: two complaints are not
    the three bad experiences the rule needs, as the TAT figures and the /at-risk page agree."""
    now = berlin(11, 18, 12)
    with session_scope(digest_runtime.sessions) as session:
        s = Seed(session)
        c = s.customer("cat@example.com", "Cat", 1000, "USD")
        s.complaint(berlin(11, 2), "billing", ["a"], c)
        s.complaint(berlin(11, 9), "billing", ["b"], c)
        t = s.ticket(berlin(11, 18, 9), c)
        s.clock(t, "resolution", "standard", berlin(11, 18, 9), state="running", due_at=berlin(11, 20, 9))
    f = figures_of(digest_runtime, W47, now)
    assert f["tat"]["breached"] == 0
    assert (f["at_risk"]["count"], f["at_risk"]["customers"]) == (0, [])
    # once the week is over (the clock ran out on Friday) the same customer is at risk
    after = figures_of(digest_runtime, W47, NOW)
    assert after["at_risk"]["count"] == 1 and after["tat"]["breached"] == 1


@pytest.mark.parametrize(
    "money",
    [{}, {"money": {"base_currency": "USD", "rates": {"EUR": "1.10"}}}, {"money": {"base_currency": "USD",
     "rates": {"GBP": "1.25", "JPY": "0.0065"}}}],
    ids=["no-rates", "base-without-their-rates", "converted"],
)  # fmt: skip
def test_the_digest_and_the_at_risk_page_rank_money_alike_with_and_without_rates(make_settings, money):
    from helpdesk_retain.digest.risk import at_risk
    from helpdesk_retain.models.tagging import RiskSignal
    from helpdesk_retain.runtime import build_runtime
    from helpdesk_retain.tagging.risk import at_risk_customers

    rt = build_runtime(make_settings(extra={**DIGEST_EXTRA, **money}))
    try:
        with session_scope(rt.sessions) as session:
            s = Seed(session, prefix="M")
            for email, mrr, currency in (("usd@x.com", 5000, "USD"), ("gbp@x.com", 10000, "GBP"),
                                         ("jpy@x.com", 10000, "JPY")):  # fmt: skip
                ticket = s.ticket(berlin(11, 18), s.customer(email, email, mrr, currency))
                session.add(RiskSignal(ticket_id=ticket, signal="cancel_intent", source="subject", evidence="cancel",
                                       at=berlin(11, 18)))  # fmt: skip
        until = W47.bounds("Europe/Berlin")[1]
        with session_scope(rt.sessions) as session:
            digest = [c["email"] for c in at_risk(session, rt.settings, until)["customers"]]
            page = [item["customer"].email for item in at_risk_customers(session, rt.settings, until)]
    finally:
        rt.close()
    assert digest == page
    if money.get("money", {}).get("rates", {}).get("JPY"):  # 10,000 JPY ~ 65 USD < 100 GBP = 125 USD, > 50 USD
        assert digest == ["gbp@x.com", "jpy@x.com", "usd@x.com"]
