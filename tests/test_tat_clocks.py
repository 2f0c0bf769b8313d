"""Clock computation as a pure function of the event log, with a 24/7 calendar and with business hours."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk_retain.config import settings_from_dict
from helpdesk_retain.tat import BusinessCalendar, add_business, compute_clocks
from helpdesk_retain.tat.policies import build_policy_set

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = {"timezone": "UTC", "hours": {d: [["00:00", "00:00"]] for d in DAYS}}
OFFICE = {"timezone": "Europe/Berlin", "hours": {d: [["09:00", "17:00"]] for d in DAYS[:5]}, "holidays": ["2030-01-01"]}
T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # a Monday


@dataclass
class Row:
    at: datetime
    kind: str = "updated"
    status: str | None = None
    author_role: str | None = None
    public: bool | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def created(minute: float = 0, **fields: Any) -> Row:
    fields.setdefault("status", "new")
    return Row(at(minute), "created", fields["status"], snapshot=fields)


def update(minute: float, **fields: Any) -> Row:
    return Row(at(minute), "updated", fields.get("status"), snapshot=fields)


def reply(minute: float, role: str = "agent", public: bool = True) -> Row:
    return Row(at(minute), "comment", author_role=role, public=public)


def policies(*entries: dict[str, Any], calendar: dict[str, Any] = ALWAYS):  # noqa: ANN201
    data = {"calendars": {"cal": calendar}, "tat": {"policies": [{"calendar": "cal", **e} for e in entries]}}
    return build_policy_set(settings_from_dict(data, environ={}))


STANDARD = {"name": "standard", "targets": {"first_response": 60, "next_response": 30, "resolution": 240}}
URGENT = {"name": "urgent", "match": {"priority": "urgent"}, "targets": {"first_response": 15, "resolution": 60}}


def clocks(log: list[Row], *entries: dict[str, Any], now: datetime | None = None, **kwargs: Any) -> dict:
    found = compute_clocks(T0, log, policies(*(entries or (STANDARD,))), now or T0, **kwargs)
    return {(c.metric, c.seq): c for c in found}


def test_a_reply_within_the_target_meets_the_first_response_clock():
    clock = clocks([created(), reply(45)])["first_response", 1]
    assert (clock.state, clock.stopped_at, clock.due_at, clock.breached_at) == ("met", at(45), at(60), None)
    assert clock.policy == "standard" and clock.target_minutes == 60


def test_a_reply_exactly_at_the_due_time_is_in_time():
    assert clocks([created(), reply(60)])["first_response", 1].state == "met"


def test_a_late_reply_breaches_at_the_due_time_and_keeps_its_stop_time():
    clock = clocks([created(), reply(61)])["first_response", 1]
    assert (clock.state, clock.breached_at, clock.due_at, clock.stopped_at) == ("breached", at(60), at(60), at(61))


def test_an_internal_note_or_a_customer_comment_does_not_stop_the_first_response_clock():
    clock = clocks([created(), reply(10, public=False), reply(20, role="customer")], now=at(30))["first_response", 1]
    assert (clock.state, clock.due_at, clock.stopped_at) == ("running", at(60), None)


def test_a_running_clock_past_its_due_time_is_breached_at_the_due_time():
    clock = clocks([created()], now=at(500))["first_response", 1]
    assert (clock.state, clock.breached_at, clock.due_at) == ("breached", at(60), at(60))


def test_a_running_clock_has_its_warning_at_the_configured_fraction():
    clock = clocks([created()], {**STANDARD, "warn_at": 0.5})["first_response", 1]
    assert (clock.state, clock.warn_at) == ("running", at(30))


def test_next_response_clocks_run_from_each_customer_comment_after_a_reply_to_the_next_reply():
    log = [created(), reply(5, "customer"), reply(20), reply(30, "customer"), reply(35, "customer"), reply(50)]
    log += [reply(100, "customer"), reply(200)]
    found = clocks(log)
    assert ("next_response", 0) not in found and found["first_response", 1].stopped_at == at(20)
    first, second = found["next_response", 1], found["next_response", 2]
    assert (first.started_at, first.stopped_at, first.state) == (at(30), at(50), "met")
    assert (second.started_at, second.breached_at, second.stopped_at) == (at(100), at(130), at(200))


def test_pending_pauses_the_resolution_clock_and_open_resumes_it():
    log = [created(), update(60, status="pending"), update(180, status="open")]
    clock = clocks(log, now=at(190))["resolution", 1]
    assert (clock.state, clock.due_at) == ("running", at(360))


def test_a_paused_resolution_clock_has_no_due_time():
    clock = clocks([created(), update(60, status="on_hold")], now=at(600))["resolution", 1]
    assert (clock.state, clock.due_at, clock.breached_at) == ("paused", None, None)


def test_solving_stops_resolution_and_reopening_resumes_it_until_the_next_solve():
    log = [created(), reply(10), update(100, status="solved"), update(1000, status="open")]
    reopened = clocks(log, now=at(1010))["resolution", 1]
    assert (reopened.state, reopened.due_at, reopened.stopped_at) == ("running", at(1140), None)
    solved_again = clocks([*log, update(1100, status="solved")])["resolution", 1]
    assert (solved_again.state, solved_again.stopped_at) == ("met", at(1100))


def test_a_ticket_solved_while_pending_is_met_and_shows_the_due_time_it_had_while_running():
    log = [created(), reply(10), update(60, status="pending"), update(100, status="solved")]
    clock = clocks(log, now=at(10_000))["resolution", 1]
    assert (clock.state, clock.stopped_at, clock.due_at) == ("met", at(100), at(240))


def test_a_breached_clock_stays_breached_when_it_is_later_met():
    log = [created(), reply(10), update(300, status="solved")]
    clock = clocks(log)["resolution", 1]
    assert (clock.state, clock.breached_at, clock.stopped_at) == ("breached", at(240), at(300))


def test_solving_stops_the_response_clocks():
    log = [created(), update(30, status="solved")]
    clock = clocks(log, now=at(500))["first_response", 1]
    assert (clock.state, clock.stopped_at) == ("met", at(30))


def test_raising_the_priority_switches_the_policy_and_counts_the_time_already_used():
    log = [created(priority="normal"), reply(5), update(30, priority="urgent")]
    clock = clocks(log, URGENT, STANDARD, now=at(31))["resolution", 1]
    assert (clock.policy, clock.target_minutes, clock.due_at, clock.state) == ("urgent", 60, at(60), "running")


def test_a_stricter_policy_breaches_an_overdue_clock_when_it_starts_to_apply():
    log = [created(priority="normal"), reply(5), update(100, priority="urgent")]
    clock = clocks(log, URGENT, STANDARD)["resolution", 1]
    assert (clock.policy, clock.state, clock.breached_at) == ("urgent", "breached", at(100))


def test_a_clock_whose_new_policy_has_no_target_for_it_is_dropped():
    no_next = {"name": "vip", "match": {"tags_any": ["VIP"]}, "targets": {"resolution": 600}}
    log = [created(tags=[]), reply(5), reply(6, "customer"), update(10, tags=["vip"])]
    found = clocks(log, no_next, STANDARD, now=at(11))
    assert ("next_response", 1) not in found and found["resolution", 1].policy == "vip"


def test_a_ticket_no_policy_matches_has_no_clocks():
    assert clocks([created(priority="low"), reply(500)], URGENT) == {}


def test_policies_match_the_complaint_category_and_the_customer_plan():
    billing = {"name": "billing", "match": {"category": "Billing", "plan": ["pro"]}, "targets": {"resolution": 30}}
    assert clocks([created()], billing, STANDARD, category="billing", plan="PRO")["resolution", 1].policy == "billing"
    assert clocks([created()], billing, STANDARD, category="billing", plan="free")["resolution", 1].policy == "standard"


def test_the_same_log_in_any_delivery_order_gives_the_same_clocks():
    log = [created(priority="normal"), reply(5, "customer"), reply(20), update(25, status="pending")]
    log += [reply(40, "customer"), update(40, status="open"), update(70, priority="urgent"), reply(90)]
    expected = clocks(log, URGENT, STANDARD, now=at(100))
    for seed in range(5):
        shuffled = log[:]
        random.Random(seed).shuffle(shuffled)
        shuffled.sort(key=lambda r: r.at)  # the store orders by (at, id); equal times keep arrival order
        assert clocks(shuffled, URGENT, STANDARD, now=at(100)) == expected


def office_clocks(log: list[Row], entry: dict[str, Any], now: datetime) -> dict:
    found = compute_clocks(log[0].at, log, policies(entry, calendar=OFFICE), now)
    return {(c.metric, c.seq): c for c in found}


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Europe/Berlin"))


def test_business_hours_carry_a_clock_over_the_weekend():
    start = berlin(2030, 1, 11, 16, 30)  # Friday 16:30 local
    log = [Row(start, "created", "new", snapshot={"status": "new"})]
    clock = office_clocks(log, {"name": "office", "targets": {"first_response": 60}}, start)["first_response", 1]
    assert clock.due_at == berlin(2030, 1, 14, 9, 30)


def test_a_public_holiday_is_skipped():
    start = berlin(2029, 12, 31, 16, 0)  # Monday; Tuesday 1 January is a holiday
    log = [Row(start, "created", "new", snapshot={"status": "new"})]
    clock = office_clocks(log, {"name": "office", "targets": {"resolution": 120}}, start)["resolution", 1]
    assert clock.due_at == berlin(2030, 1, 2, 10, 0)


def test_a_pause_over_closed_hours_uses_no_business_time():
    start = berlin(2030, 1, 7, 16, 0)
    rows = [Row(start, "created", "new", snapshot={"status": "new"})]
    rows += [Row(start + timedelta(minutes=30), status="pending"), Row(berlin(2030, 1, 8, 10, 0), status="open")]
    clock = office_clocks(rows, {"name": "office", "targets": {"resolution": 120}}, start)["resolution", 1]
    assert clock.due_at == berlin(2030, 1, 8, 11, 30)


def test_a_due_time_keeps_the_seconds_of_its_start_across_a_closed_night():
    start = berlin(2030, 1, 7, 16, 59, 30)
    log = [Row(start, "created", "new", snapshot={"status": "new"})]
    clock = office_clocks(log, {"name": "office", "targets": {"first_response": 1}}, start)["first_response", 1]
    assert clock.due_at == berlin(2030, 1, 8, 9, 0, 30)


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2029, 3, 20), max_value=datetime(2029, 11, 10), timezones=st.just(UTC)),
    seconds=st.integers(min_value=0, max_value=5 * 24 * 3600),
)
def test_add_business_lands_on_the_earliest_instant_with_that_much_business_time(start, seconds):
    calendar = BusinessCalendar("Europe/London", {"mon": [("09:00", "17:30")], "sat": [("22:00", "01:00")]})
    amount = timedelta(seconds=seconds, microseconds=start.microsecond)
    end = add_business(calendar, start, amount)
    assert calendar.elapsed(start, end) == amount
    if end > start:
        assert calendar.elapsed(start, end - timedelta(microseconds=1)) < amount


@pytest.mark.parametrize("minutes", [0, 1, 59, 60, 61, 1000])
def test_add_business_agrees_with_whole_minute_add(minutes):
    calendar = BusinessCalendar("America/New_York", {"fri": [("20:00", "02:00")]})
    start = datetime(2030, 3, 8, 23, 17, 5, tzinfo=UTC)
    assert add_business(calendar, start, timedelta(minutes=minutes)) == calendar.add(start, minutes)


def test_a_customer_message_and_an_answer_stamped_alike_count_as_asked_then_answered_in_either_order():
    asked, answered = reply(10, "customer"), reply(10, "agent")
    for log in ([created(), reply(5), asked, answered], [created(), reply(5), answered, asked]):
        found = clocks(log, now=at(600))
        assert found["next_response", 1].state == "met" and found["next_response", 1].stopped_at == at(10)


@pytest.mark.parametrize(
    ("log", "due"),
    [
        # solved while running, reopened into pending, solved again while paused: the due time of its last run
        ([created(), update(10, status="solved"), update(20, status="pending"), update(30, status="solved")], 240),
        # the second run started at 20 with 10 minutes used: due at 20 + 230
        ([created(), update(10, status="pending"), update(20, status="open"), update(30, status="solved"),
          update(40, status="pending"), update(50, status="solved")], 250),
    ],
)  # fmt: skip
def test_a_resolution_met_while_paused_shows_the_due_time_of_its_last_run(log, due):
    clock = clocks(log, now=at(600))["resolution", 1]
    assert clock.state == "met" and clock.due_at == at(due)


def test_without_its_creation_row_the_first_known_fields_pick_the_policy_from_creation():
    by_priority = (
        {"name": "urgent", "match": {"priority": "urgent"}, "targets": {"first_response": 60}},
        {"name": "normal", "match": {"priority": ["low", "normal", "high"]}, "targets": {"first_response": 240}},
    )
    found = clocks([update(180, priority="normal")], *by_priority, now=at(600))["first_response", 1]
    assert (found.policy, found.started_at, found.due_at) == ("normal", T0, at(240))
    # with its creation row, that row says what the ticket was at creation, and a later change applies from then
    later = clocks([created(), update(180, priority="normal")], *by_priority, now=at(600))["first_response", 1]
    assert (later.policy, later.due_at) == ("normal", at(180 + 240))
