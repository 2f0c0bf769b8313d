import tomllib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk_retain.tat import BusinessCalendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKWEEK = {day: [("09:00", "17:00")] for day in WEEKDAYS[:5]}
ALWAYS = {day: [("00:00", "00:00")] for day in WEEKDAYS}
MINUTE = timedelta(minutes=1)
BERLIN = ZoneInfo("Europe/Berlin")

# UTC instants at which the zone's offset changes (checked below), plus one plain UTC month boundary where the
# calendar switches internal month chunks in the middle of a local evening.
CENTERS = [
    ("Europe/London", datetime(2026, 3, 29, 1, tzinfo=UTC)),
    ("Europe/London", datetime(2026, 10, 25, 1, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 3, 8, 7, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 11, 1, 6, tzinfo=UTC)),
    ("America/Sao_Paulo", datetime(2017, 10, 15, 3, tzinfo=UTC)),  # midnight -> 01:00: Sunday starts at 01:00
    ("America/Sao_Paulo", datetime(2018, 2, 18, 2, tzinfo=UTC)),  # midnight -> Saturday 23:00 again
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, tzinfo=UTC)),  # 02:00 -> 01:30
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),  # 02:00 -> 02:30
]
MONTH_BOUNDARY = ("America/New_York", datetime(2026, 1, 1, tzinfo=UTC))
HALF_WINDOW = 30 * 60  # minutes either side of the center that the brute-force reference covers


def reference_open(tz: ZoneInfo, hours: dict, holidays: set[date], instant: datetime) -> bool:
    """The rule, applied literally to one whole-minute instant."""
    local = instant.astimezone(tz)
    if local.date() in holidays:
        return False
    now = local.hour * 60 + local.minute
    for opens, closes in hours.get(WEEKDAYS[local.weekday()], ()):
        a, b = clock(opens), clock(closes)
        if (a < b and a <= now < b) or (b <= a and now >= a):
            return True
    for opens, closes in hours.get(WEEKDAYS[local.weekday() - 1], ()):
        if clock(closes) <= clock(opens) and now < clock(closes):
            return True
    return False


def clock(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def reference_minutes(key: str, center: datetime, hours: dict, holidays: set[date]) -> tuple[datetime, list[bool]]:
    """Whether each absolute minute of the window around ``center`` is business time."""
    tz, origin = ZoneInfo(key), center - HALF_WINDOW * MINUTE
    return origin, [reference_open(tz, hours, holidays, origin + i * MINUTE) for i in range(2 * HALF_WINDOW)]


near_transition = st.sampled_from(["00:00", "00:30", "01:00", "01:30", "02:00", "02:15", "02:30", "03:00", "23:00"])
any_minute = st.integers(0, 1439).map(lambda n: f"{n // 60:02d}:{n % 60:02d}")
times = st.one_of(near_transition, any_minute)
interval = st.tuples(times, st.one_of(times, st.just("24:00")))
weekly = st.one_of(
    st.just(ALWAYS),
    st.dictionaries(st.sampled_from(WEEKDAYS), st.lists(interval, min_size=1, max_size=3), min_size=1, max_size=7),
)


@st.composite
def scenarios(draw, centers=(*CENTERS, MONTH_BOUNDARY)):
    key, center = draw(st.sampled_from(centers))
    local_day = center.astimezone(ZoneInfo(key)).date()
    holidays = {local_day + timedelta(days=n) for n in draw(st.sets(st.integers(-2, 2), max_size=3))}
    hours = draw(weekly)
    return key, center, hours, holidays


def calendar(key: str, hours: dict, holidays: set[date]) -> BusinessCalendar:
    return BusinessCalendar(timezone=key, hours=hours, holidays=sorted(holidays))


quick = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_reference_windows_straddle_real_offset_changes():
    for key, center in CENTERS:
        tz = ZoneInfo(key)
        assert (center - MINUTE).astimezone(tz).utcoffset() != center.astimezone(tz).utcoffset(), (key, center)


@quick
@given(scenarios())
def test_is_open_matches_the_reference_at_every_minute_around_a_transition(scenario):
    key, center, hours, holidays = scenario
    cal = calendar(key, hours, holidays)
    origin, expected = reference_minutes(key, center, hours, holidays)
    assert [cal.is_open(origin + i * MINUTE) for i in range(len(expected))] == expected


@quick
@given(scenarios(), st.integers(0, 2 * HALF_WINDOW), st.integers(0, 2 * HALF_WINDOW))
def test_elapsed_matches_the_reference(scenario, i, j):
    key, center, hours, holidays = scenario
    origin, expected = reference_minutes(key, center, hours, holidays)
    i, j = sorted((i, j))
    elapsed = calendar(key, hours, holidays).elapsed(origin + i * MINUTE, origin + j * MINUTE)
    assert elapsed == sum(expected[i:j]) * MINUTE


@quick
@given(scenarios(), st.integers(0, 2 * HALF_WINDOW - 1), st.floats(0, 1), st.booleans())
def test_add_reaches_the_minutes_at_the_earliest_instant(scenario, i, fraction, local_start):
    key, center, hours, holidays = scenario
    origin, expected = reference_minutes(key, center, hours, holidays)
    minutes = int(sum(expected[i:]) * fraction)
    start = origin + i * MINUTE
    start = start.astimezone(ZoneInfo(key)) if local_start else start
    end = calendar(key, hours, holidays).add(start, minutes)
    assert end.tzinfo is start.tzinfo
    j, rest = divmod(end - origin, MINUTE)
    assert rest == timedelta(0) and i <= j <= len(expected)
    assert sum(expected[i:j]) == minutes
    assert j == i if minutes == 0 else expected[j - 1], "business time must accrue in the minute before the result"


@quick
@given(
    scenarios(),
    st.lists(st.integers(-3 * 86_400_000_000, 90 * 86_400_000_000), min_size=3, max_size=3),
)
def test_elapsed_is_additive_across_months_and_fractions_of_seconds(scenario, offsets):
    key, center, hours, holidays = scenario
    cal = calendar(key, hours, holidays)
    a, b, c = (center + timedelta(microseconds=n) for n in sorted(offsets))
    assert cal.elapsed(a, b) + cal.elapsed(b, c) == cal.elapsed(a, c)
    business_time = cal.elapsed(a, c)  # business time, bounded by the wall-clock span (not a timing)
    assert timedelta(0) <= business_time <= c - a


@quick
@given(scenarios(), st.integers(-86_400_000_000, 86_400_000_000), st.integers(1, 600_000))
def test_add_and_elapsed_agree_over_long_spans(scenario, offset, minutes):
    key, center, hours, holidays = scenario
    cal = calendar(key, hours, holidays)
    start = center + timedelta(microseconds=offset)
    end = cal.add(start, minutes)
    assert cal.elapsed(start, end) == minutes * MINUTE
    assert cal.elapsed(start, end - timedelta(microseconds=1)) < minutes * MINUTE
    assert cal.is_open(end - timedelta(microseconds=1))


@quick
@given(scenarios(), st.integers(-86_400_000_000, 86_400_000_000), st.integers(1, 40 * 86_400_000_000))
def test_add_duration_is_exact_to_the_microsecond(scenario, offset, micros):
    key, center, hours, holidays = scenario
    cal = calendar(key, hours, holidays)
    start, amount = center + timedelta(microseconds=offset), timedelta(microseconds=micros)
    end = cal.add_duration(start, amount)
    assert cal.elapsed(start, end) == amount
    assert cal.elapsed(start, end - timedelta(microseconds=1)) < amount


def test_spring_forward_loses_the_skipped_hour_of_an_interval():
    cal = BusinessCalendar("Europe/Berlin", {"sun": [("01:00", "04:00")]})
    night = (datetime(2026, 3, 28, 12, tzinfo=BERLIN), datetime(2026, 3, 29, 12, tzinfo=BERLIN))
    assert cal.elapsed(*night) == timedelta(hours=2)
    assert cal.add(datetime(2026, 3, 29, 1, tzinfo=BERLIN), 90) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_fall_back_counts_the_repeated_hour_twice():
    cal = BusinessCalendar("Europe/Berlin", {"sun": [("01:00", "04:00")]})
    night = (datetime(2026, 10, 24, 12, tzinfo=BERLIN), datetime(2026, 10, 25, 12, tzinfo=BERLIN))
    assert cal.elapsed(*night) == timedelta(hours=4)
    start = datetime(2026, 10, 25, 1, tzinfo=BERLIN)
    first, second = cal.add(start, 90), cal.add(start, 150)
    assert (first.hour, first.minute, first.fold, first.utcoffset()) == (2, 30, 0, timedelta(hours=2))
    assert (second.hour, second.minute, second.fold, second.utcoffset()) == (2, 30, 1, timedelta(hours=1))
    assert cal.is_open(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))


def test_a_holiday_on_a_monday_moves_the_target_to_tuesday():
    cal = BusinessCalendar("Europe/Berlin", WORKWEEK, holidays=[date(2026, 6, 1)])
    assert not cal.is_open(datetime(2026, 6, 1, 10, tzinfo=BERLIN))
    assert cal.add(datetime(2026, 5, 29, 16, tzinfo=BERLIN), 120) == datetime(2026, 6, 2, 10, tzinfo=BERLIN)


def test_an_overnight_interval_stops_at_midnight_when_the_next_day_is_a_holiday():
    cal = BusinessCalendar("Europe/Berlin", {"thu": [("22:00", "06:00")]}, holidays=[date(2026, 12, 25)])
    night = (datetime(2026, 12, 24, 12, tzinfo=BERLIN), datetime(2026, 12, 25, 12, tzinfo=BERLIN))
    assert cal.elapsed(*night) == timedelta(hours=2)
    assert not cal.is_open(datetime(2026, 12, 25, 1, tzinfo=BERLIN))


def test_an_overnight_interval_starting_on_a_holiday_keeps_its_part_after_midnight():
    cal = BusinessCalendar("Europe/Berlin", {"thu": [("22:00", "06:00")]}, holidays=[date(2026, 12, 24)])
    night = (datetime(2026, 12, 24, 12, tzinfo=BERLIN), datetime(2026, 12, 25, 12, tzinfo=BERLIN))
    assert cal.elapsed(*night) == timedelta(hours=6)
    assert cal.add(datetime(2026, 12, 24, 12, tzinfo=BERLIN), 1) == datetime(2026, 12, 25, 0, 1, tzinfo=BERLIN)


@pytest.mark.parametrize("key", ["Australia/Lord_Howe", "America/New_York", "Europe/London"])
def test_a_24_7_calendar_counts_absolute_time_through_daylight_saving_changes(key):
    cal = BusinessCalendar(key, ALWAYS)
    start = datetime(2026, 3, 1, 7, 13, 5, tzinfo=UTC)
    for minutes in (1, 60 * 24 * 45, 60 * 24 * 365):
        assert cal.add(start, minutes) == start + minutes * MINUTE
    assert cal.elapsed(start, start + timedelta(days=400)) == timedelta(days=400)


def test_lord_howe_shifts_business_time_by_thirty_minutes():
    cal = BusinessCalendar("Australia/Lord_Howe", {"sun": [("01:00", "03:00")]})
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    april = (datetime(2026, 4, 4, 12, tzinfo=lord_howe), datetime(2026, 4, 5, 12, tzinfo=lord_howe))
    october = (datetime(2026, 10, 3, 12, tzinfo=lord_howe), datetime(2026, 10, 4, 12, tzinfo=lord_howe))
    assert cal.elapsed(*april) == timedelta(hours=2, minutes=30)
    assert cal.elapsed(*october) == timedelta(hours=1, minutes=30)


def test_sao_paulo_midnight_changes_shorten_and_repeat_saturday_night():
    cal = BusinessCalendar("America/Sao_Paulo", {"sat": [("22:00", "02:00")]})
    sao_paulo = ZoneInfo("America/Sao_Paulo")
    spring = (datetime(2017, 10, 14, 12, tzinfo=sao_paulo), datetime(2017, 10, 15, 12, tzinfo=sao_paulo))
    autumn = (datetime(2018, 2, 17, 12, tzinfo=sao_paulo), datetime(2018, 2, 18, 12, tzinfo=sao_paulo))
    assert cal.elapsed(*spring) == timedelta(hours=3)  # 22-24, then 01-02: Sunday 00:00-01:00 never happens
    assert cal.elapsed(*autumn) == timedelta(hours=5)  # 22-24 twice over for 23-24, then 00-02


def test_country_holidays_close_german_christmas_and_a_subdivision_adds_its_own():
    christmas, epiphany = datetime(2026, 12, 25, 10, tzinfo=BERLIN), datetime(2026, 1, 6, 10, tzinfo=BERLIN)
    assert BusinessCalendar("Europe/Berlin", WORKWEEK).is_open(christmas)
    assert not BusinessCalendar("Europe/Berlin", WORKWEEK, country="DE").is_open(christmas)
    assert BusinessCalendar("Europe/Berlin", WORKWEEK, country="DE").is_open(epiphany)
    assert not BusinessCalendar("Europe/Berlin", WORKWEEK, country="DE-BY").is_open(epiphany)


def test_a_subdivision_is_taken_as_the_holidays_package_spells_it_codes_in_any_case_names_as_written():
    peace_festival = datetime(2026, 8, 8, 10, tzinfo=BERLIN)  # a Saturday: open all week to see the holiday
    every_day = {day: [("09:00", "17:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert not BusinessCalendar("Europe/Berlin", every_day, country="DE-Augsburg").is_open(peace_festival)
    assert BusinessCalendar("Europe/Berlin", every_day, country="de-by").is_open(peace_festival)
    assert not BusinessCalendar("Europe/Berlin", WORKWEEK, country="de-by").is_open(
        datetime(2026, 1, 6, 10, tzinfo=BERLIN)
    )


def test_a_year_of_german_working_days_is_counted_and_added_exactly():
    cal = BusinessCalendar("Europe/Berlin", WORKWEEK, country="DE")
    year = (datetime(2026, 1, 1, tzinfo=BERLIN), datetime(2027, 1, 1, tzinfo=BERLIN))
    working_days = 261 - 7  # weekdays minus New Year, Good Friday, Easter Monday, May Day, Ascension, Whit Monday, Xmas
    assert cal.elapsed(*year) == working_days * timedelta(hours=8)
    assert cal.add(year[0], working_days * 8 * 60) == datetime(2026, 12, 31, 17, tzinfo=BERLIN)


def test_add_stops_at_closing_time_rather_than_the_next_opening():
    cal = BusinessCalendar("Europe/Berlin", WORKWEEK)
    assert cal.add(datetime(2026, 1, 5, 9, tzinfo=BERLIN), 480) == datetime(2026, 1, 5, 17, tzinfo=BERLIN)


def test_add_of_zero_minutes_returns_the_start_even_when_closed():
    cal = BusinessCalendar("Europe/Berlin", WORKWEEK)
    sunday = datetime(2026, 1, 4, 3, 4, 5, tzinfo=BERLIN)
    assert cal.add(sunday, 0) is sunday


def test_elapsed_counts_fractions_of_a_minute_and_nothing_backwards():
    cal = BusinessCalendar("Europe/Berlin", WORKWEEK)
    before, after = datetime(2026, 1, 5, 8, 59, 30, tzinfo=BERLIN), datetime(2026, 1, 5, 9, 0, 45, tzinfo=BERLIN)
    assert cal.elapsed(before, after) == timedelta(seconds=45)
    assert cal.elapsed(after, before) == timedelta(0)


def test_naive_datetimes_are_rejected():
    cal = BusinessCalendar("Europe/Berlin", WORKWEEK)
    naive = datetime(2026, 1, 5, 10)
    for call in (lambda: cal.add(naive, 5), lambda: cal.is_open(naive), lambda: cal.elapsed(naive, naive)):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": {"monday": [("09:00", "17:00")]}}, "hours.monday: unknown weekday"),
        ({"hours": {"mon": [("9:00", "17:00")]}}, r"hours.mon\[0\]\[0\]: '9:00' is not"),
        ({"hours": {"mon": [("09:00", "17:60")]}}, r"hours.mon\[0\]\[1\]"),
        ({"hours": {"mon": [("24:00", "02:00")]}}, "cannot open at 24:00"),
        ({"hours": {"mon": [("09:00",)]}}, "expected a pair"),
        ({"hours": {"mon": []}}, "at least one interval"),
        ({"timezone": "Mars/Olympus_Mons"}, "not a known IANA zone"),
        ({"country": "XX"}, "'XX' is not known"),
        ({"country": "DE-ZZ"}, "'DE-ZZ' is not known"),
        ({"holidays": ["2026-13-01"]}, r"holidays\[0\]"),
    ],
)
def test_bad_calendar_definitions_are_rejected_with_the_key_at_fault(kwargs, message):
    arguments = {"timezone": "Europe/Berlin", "hours": WORKWEEK} | kwargs
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**arguments)


def test_negative_minutes_are_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        BusinessCalendar("Europe/Berlin", WORKWEEK).add(datetime(2026, 1, 5, tzinfo=UTC), -1)


def test_a_calendar_is_built_from_its_toml_table():
    table = tomllib.loads(
        """
        timezone = "Europe/Berlin"
        hours = { mon = [["09:00", "17:00"]], sat = [["22:00", "06:00"]] }
        holidays = ["2026-01-05"]
        country_holidays = "DE"
        """
    )
    cal = BusinessCalendar.from_config(table)
    assert not cal.is_open(datetime(2026, 1, 5, 10, tzinfo=BERLIN))
    assert cal.is_open(datetime(2026, 1, 12, 10, tzinfo=BERLIN))
    assert cal.is_open(datetime(2026, 1, 11, 5, tzinfo=BERLIN))
    assert not cal.is_open(datetime(2026, 12, 26, 23, tzinfo=BERLIN))  # Boxing Day, a Saturday
    assert cal.is_open(datetime(2026, 12, 27, 5, tzinfo=BERLIN))
    with pytest.raises(ValueError, match="calendar: unknown key"):
        BusinessCalendar.from_config(table | {"calendar": "x"})
