"""Business calendars: which instants count as business time, and arithmetic over them (DESIGN.md §5).

The rule: an instant is business time iff its local wall-clock time in the calendar's zone lies in a weekly
interval of its local weekday and its local date is not a holiday. An interval whose end is not after its start
runs past midnight into the next day, counted from the day it starts ("sat 22:00-06:00" covers Saturday 22:00 to
Sunday 06:00 wall clock; "00:00-00:00" is a whole day). The holiday test is always on the instant's OWN local date,
so the Sunday 00:00-06:00 part of that interval is closed when Sunday is a holiday, whatever Saturday is.

Daylight saving follows from the rule with no special cases: wall times in a spring-forward gap never occur, so they
contribute nothing; wall times in a fall-back repeat occur twice and both occurrences count (a 01:00-04:00 interval
on the night clocks go back one hour holds four hours of business time).

Contracts: every input instant must be timezone-aware (naive -> ``ValueError``); results are exact to the
microsecond. ``add(start, m)`` returns the earliest ``t >= start`` with ``elapsed(start, t) == m`` minutes, so
``add(start, 0)`` is ``start`` itself (even when closed) and a target that is used up exactly at closing time lands
on the closing instant, not on the next opening. ``add`` returns ``start``'s tzinfo; ``add_duration`` does the
same for any ``timedelta``. ``elapsed(start, end)`` is the business time in ``[start, end)``, zero when
``end <= start``. Country holidays include the ``holidays`` package's "observed" days (e.g. US July 3, 2026).

How: absolute time (UTC microseconds) is cut into UTC-month chunks. A chunk lists its business spans as absolute
``[start, end)`` pairs with running totals, so ``add`` and ``elapsed`` skip whole months by their totals and bisect
inside one; the cost does not grow with the minutes added. Chunks are built lazily and cached per calendar.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CONFIG_KEYS = frozenset({"timezone", "hours", "holidays", "country_holidays"})

_US = 1_000_000  # microseconds per second
_DAY = 86_400 * _US
_ONE_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()  # a Thursday: weekday of epoch day n is (n + 3) % 7
_MIN_YEAR, _MAX_YEAR = 2, 9998  # keeps local-time conversions clear of datetime's limits
# Offset probes are this many seconds apart; a probe pair with equal offsets is assumed to hold no change. The
# closest pair of UTC-offset changes in tzdata that cancel each other out is about four days apart.
_PROBE_SECONDS = 24 * 3600
_MAX_CHUNKS = 1200  # a hundred years of months per calendar
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")

Span = tuple[int, int]


class BusinessCalendar:
    """A weekly schedule in one IANA zone minus holidays; see the module docstring for the exact rule."""

    def __init__(
        self,
        timezone: str,
        hours: Mapping[str, Iterable[tuple[str | time, str | time]]],
        holidays: Iterable[date | str] = (),
        country: str | None = None,
    ) -> None:
        self._tz = _zone(timezone)
        self.timezone = self._tz.key
        self.hours = _parse_hours(hours)
        self._pattern = _weekly_pattern(self.hours)
        self.holidays = frozenset(_parse_date(d, f"holidays[{i}]") for i, d in enumerate(holidays))
        self._holiday_ordinals = frozenset(d.toordinal() for d in self.holidays)
        self.country = country
        self._country = _parse_country(country)
        self._chunks: dict[int, _Chunk] = {}

    @classmethod
    def from_config(cls, table: Mapping[str, Any] | Any) -> BusinessCalendar:
        """Build from a ``[calendars.<name>]`` table (a mapping or an object with those attributes):
        ``timezone``, ``hours`` (``{mon = [["09:00", "17:00"]]}``), ``holidays`` (ISO dates), ``country_holidays``."""
        if isinstance(table, Mapping):
            unknown = sorted(set(table) - CONFIG_KEYS)
            if unknown:
                raise ValueError(f"{unknown[0]}: unknown key (expected one of {', '.join(sorted(CONFIG_KEYS))})")
            get = table.get
        else:
            get = lambda key: getattr(table, key, None)  # noqa: E731
        if get("timezone") is None:
            raise ValueError("timezone: required")
        return cls(get("timezone"), get("hours") or {}, get("holidays") or (), get("country_holidays"))

    def __repr__(self) -> str:
        return f"BusinessCalendar(timezone={self.timezone!r}, hours={self.hours!r}, country={self.country!r})"

    def is_open(self, instant: datetime) -> bool:
        """Whether ``instant`` is business time."""
        _micros(instant, "instant")
        local = instant.astimezone(self._tz)
        if self._is_holiday(local.toordinal()):
            return False
        of_day = ((local.hour * 60 + local.minute) * 60 + local.second) * _US + local.microsecond
        return any(a <= of_day < b for a, b in self._pattern[local.weekday()])

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time in ``[start, end)``; zero when ``end <= start``."""
        s, e = _micros(start, "start"), _micros(end, "end")
        if e <= s:
            return timedelta(0)
        first, last = _month_index(s), _month_index(e)
        if first == last:
            chunk = self._chunk(first)
            return timedelta(microseconds=chunk.before(e) - chunk.before(s))
        total = self._chunk(first).total - self._chunk(first).before(s) + self._chunk(last).before(e)
        total += sum(self._chunk(index).total for index in range(first + 1, last))
        return timedelta(microseconds=total)

    def add(self, start: datetime, minutes: int) -> datetime:
        """The earliest ``t >= start`` with ``elapsed(start, t)`` equal to ``minutes`` business minutes."""
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
            raise ValueError(f"minutes must be a non-negative int, got {minutes!r}")
        return self._add(start, minutes * 60 * _US)

    def add_duration(self, start: datetime, amount: timedelta) -> datetime:
        """``add`` for a non-negative ``timedelta`` of business time, exact to the microsecond."""
        if not isinstance(amount, timedelta) or amount < timedelta(0):
            raise ValueError(f"amount must be a non-negative timedelta, got {amount!r}")
        return self._add(start, amount // _ONE_US)

    def _add(self, start: datetime, micros: int) -> datetime:
        s = _micros(start, "start")
        if micros == 0:
            return start
        index = _month_index(s)
        chunk = self._chunk(index)
        need = chunk.before(s) + micros  # business time from the chunk's start
        while need > chunk.total:
            need -= chunk.total
            index += 1
            if index > _MAX_YEAR * 12 + 11:
                amount = timedelta(microseconds=micros)
                raise ValueError(f"no {amount} of business time after {start.isoformat()} before year {_MAX_YEAR}")
            chunk = self._chunk(index)
        return (_EPOCH + timedelta(microseconds=chunk.locate(need))).astimezone(start.tzinfo)

    def _chunk(self, index: int) -> _Chunk:
        # Built outside any lock: two threads may build the same month, and either result is the same value.
        chunk = self._chunks.get(index)
        if chunk is None:
            if len(self._chunks) >= _MAX_CHUNKS:
                self._chunks = {}
            chunk = self._chunks[index] = _Chunk(self._spans(_month_start(index), _month_start(index + 1)))
        return chunk

    def _spans(self, t0: int, t1: int) -> list[Span]:
        """Absolute business spans in ``[t0, t1)``: within a constant-offset segment, wall = absolute + offset."""
        spans: list[Span] = []
        for seg_start, seg_end, offset in _offset_segments(self._tz, t0, t1):
            for day in range((seg_start + offset) // _DAY, (seg_end - 1 + offset) // _DAY + 1):
                if self._is_holiday(day + _EPOCH_ORDINAL):
                    continue
                base = day * _DAY - offset
                for a, b in self._pattern[(day + 3) % 7]:
                    lo, hi = max(base + a, seg_start), min(base + b, seg_end)
                    if lo < hi:
                        spans.append((lo, hi))
        return _merge(sorted(spans))

    def _is_holiday(self, ordinal: int) -> bool:
        if ordinal in self._holiday_ordinals:
            return True
        return self._country is not None and ordinal in _country_days(*self._country, date.fromordinal(ordinal).year)


class _Chunk:
    """One month's business spans with running totals (``cum_end[i]``: business time through span ``i``)."""

    __slots__ = ("starts", "ends", "cum_end", "total")

    def __init__(self, spans: list[Span]) -> None:
        self.starts = [a for a, _ in spans]
        self.ends = [b for _, b in spans]
        self.cum_end: list[int] = []
        running = 0
        for a, b in spans:
            running += b - a
            self.cum_end.append(running)
        self.total = running

    def before(self, instant: int) -> int:
        """Business time from the chunk's start up to ``instant``."""
        i = bisect_right(self.starts, instant) - 1
        return 0 if i < 0 else self.cum_end[i] - max(0, self.ends[i] - instant)

    def locate(self, need: int) -> int:
        """The earliest instant with ``before(instant) == need``, for ``0 < need <= total``."""
        i = bisect_left(self.cum_end, need)
        return self.ends[i] - (self.cum_end[i] - need)


def _offset_segments(tz: ZoneInfo, t0: int, t1: int) -> list[tuple[int, int, int]]:
    """``(start, end, utc_offset)`` pieces of ``[t0, t1)`` (whole seconds, in microseconds) with one offset each."""
    segments = []
    start, last = t0 // _US, t1 // _US - 1
    offset = _offset(tz, start)
    probe = start
    while probe < last:
        nxt = min(probe + _PROBE_SECONDS, last)
        while _offset(tz, nxt) != offset:
            change = _first_change(tz, probe, nxt, offset)
            segments.append((start * _US, change * _US, offset))
            start = probe = change
            offset = _offset(tz, change)
        probe = nxt
    segments.append((start * _US, t1, offset))
    return segments


def _first_change(tz: ZoneInfo, lo: int, hi: int, offset: int) -> int:
    """A second in ``(lo, hi]`` whose offset differs from the one before it, given ``offset`` holds at ``lo``."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(tz, mid) == offset:
            lo = mid
        else:
            hi = mid
    return hi


def _offset(tz: ZoneInfo, second: int) -> int:
    delta = datetime.fromtimestamp(second, tz).utcoffset()
    assert delta is not None
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _weekly_pattern(hours: dict[str, tuple[tuple[str, str], ...]]) -> tuple[tuple[Span, ...], ...]:
    """Per local weekday, the merged wall-clock spans (microseconds of the day) open on that day, including
    the after-midnight tail of the previous day's overnight intervals."""
    days: list[list[Span]] = [[] for _ in WEEKDAYS]
    for name, intervals in hours.items():
        k = WEEKDAYS.index(name)
        for opens, closes in intervals:
            a, b = _clock(opens), _clock(closes)
            if b > a:
                days[k].append((a, b))
            else:
                days[k].append((a, _DAY))
                days[(k + 1) % 7].append((0, b))
    return tuple(tuple(_merge(sorted(s for s in spans if s[0] < s[1]))) for spans in days)


def _parse_hours(hours: Mapping[str, Iterable[Any]]) -> dict[str, tuple[tuple[str, str], ...]]:
    if not isinstance(hours, Mapping):
        raise ValueError(f"hours: expected a table of weekdays, got {type(hours).__name__}")
    parsed: dict[str, tuple[tuple[str, str], ...]] = {}
    for name, intervals in hours.items():
        if name not in WEEKDAYS:
            raise ValueError(f"hours.{name}: unknown weekday (expected one of {', '.join(WEEKDAYS)})")
        if isinstance(intervals, str) or not isinstance(intervals, Iterable):
            raise ValueError(f'hours.{name}: expected a list of ["HH:MM", "HH:MM"] pairs')
        parsed[name] = tuple(_parse_interval(pair, f"hours.{name}[{i}]") for i, pair in enumerate(intervals))
    if not any(parsed.values()):
        raise ValueError("hours: at least one interval is required")
    return parsed


def _parse_interval(pair: Any, where: str) -> tuple[str, str]:
    if isinstance(pair, str) or not isinstance(pair, Iterable) or len(pair := tuple(pair)) != 2:
        raise ValueError(f'{where}: expected a pair ["HH:MM", "HH:MM"], got {pair!r}')
    opens, closes = (_clock_text(value, f"{where}[{j}]") for j, value in enumerate(pair))
    if opens == "24:00":
        raise ValueError(f"{where}[0]: an interval cannot open at 24:00")
    return opens, closes


def _clock_text(value: Any, where: str) -> str:
    if isinstance(value, time):  # TOML's unquoted 09:00:00 arrives as a time
        if value.second or value.microsecond or value.tzinfo:
            raise ValueError(f"{where}: {value!r} must be a whole minute without a zone")
        return value.strftime("%H:%M")
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        raise ValueError(f'{where}: {value!r} is not a wall-clock time "HH:MM" (00:00-23:59, or 24:00 to close)')
    return value


def _clock(text: str) -> int:
    return (int(text[:2]) * 60 + int(text[3:])) * 60 * _US


def _parse_date(value: Any, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")


def _parse_country(code: str | None) -> tuple[str, str | None] | None:
    if code is None:
        return None
    if not isinstance(code, str) or not code:
        raise ValueError(f"country_holidays: expected a code such as 'DE' or 'DE-BY', got {code!r}")
    try:
        return country_code(code)
    except NotImplementedError as exc:
        raise ValueError(f"country_holidays: {code!r} is not known to the holidays package ({exc})") from None


def country_code(code: str) -> tuple[str, str | None]:
    """``"DE-BY"`` -> ``("DE", "BY")`` as the holidays package knows them: the country in capitals, the
    subdivision as written or in capitals (codes are capitals, "de-by"; some are names, "DE-Augsburg").
    NotImplementedError when the package knows neither."""
    country, _, subdivision = code.strip().partition("-")
    country = country.upper()
    if not subdivision:
        _country_days(country, None, None)
        return country, None
    for candidate in dict.fromkeys((subdivision, subdivision.upper())):
        try:
            _country_days(country, candidate, None)
        except NotImplementedError as exc:
            failure = exc
            continue
        return country, candidate
    raise failure


@lru_cache(maxsize=1024)
def _country_days(country: str, subdivision: str | None, year: int | None) -> frozenset[int]:
    """Ordinals of one year's public holidays (none for ``year=None``, which only checks the codes); shared by
    all calendars, as each call costs milliseconds."""
    days = holidays_lib.country_holidays(country, subdiv=subdivision, years=[] if year is None else year)
    return frozenset(d.toordinal() for d in days)


def _zone(name: Any) -> ZoneInfo:
    if isinstance(name, ZoneInfo):
        return name
    if not isinstance(name, str) or not name:
        raise ValueError(f"timezone: expected an IANA zone name such as 'Europe/Berlin', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone: {name!r} is not a known IANA zone") from None


def _micros(instant: Any, name: str) -> int:
    if not isinstance(instant, datetime):
        raise ValueError(f"{name} must be a timezone-aware datetime, got {instant!r}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {instant.isoformat()}")
    if not _MIN_YEAR <= instant.year <= _MAX_YEAR:
        raise ValueError(f"{name} {instant.isoformat()} is outside years {_MIN_YEAR}-{_MAX_YEAR}")
    return (instant - _EPOCH) // _ONE_US


def _month_index(micros: int) -> int:
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.year * 12 + moment.month - 1


def _month_start(index: int) -> int:
    return (datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_US
