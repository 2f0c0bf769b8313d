"""Business-time arithmetic at any precision, and memoised forms of it for the clock replay."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from .calendar import BusinessCalendar

ZERO = timedelta(0)
MINUTE = timedelta(minutes=1)


def add_business(calendar: BusinessCalendar, start: datetime, amount: timedelta) -> datetime:
    """The earliest instant with ``amount`` of business time after ``start`` (any precision).

    ``BusinessCalendar.add`` takes whole minutes; the remainder is placed by the fact that business time
    is a union of whole-minute-aligned stretches: after ``t1`` it either continues for the remainder, or
    resumes at an aligned opening, where the last minute before ``add(t1, 1)`` is contiguous.
    """
    if amount <= ZERO:
        return start
    whole, rest = divmod(amount, MINUTE)
    t1 = calendar.add(start, whole)
    if not rest:
        return t1
    if calendar.elapsed(t1, t1 + rest) == rest:
        return t1 + rest
    return calendar.add(t1, 1) - (MINUTE - rest)


# Every event replays the ticket's whole log, asking the calendar the same questions as the event before;
# both functions are pure, so their answers are memoised (calendars hash by identity and are built once
# per settings object). Callers pass UTC instants only, so equal keys also have equal time zones.
due_after = lru_cache(maxsize=1 << 14)(add_business)


@lru_cache(maxsize=1 << 14)
def elapsed_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    return calendar.elapsed(start, end)
