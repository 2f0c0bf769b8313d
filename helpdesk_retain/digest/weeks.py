"""ISO weeks in the digest's time zone, and which week is due to be sent.

A week ``2026-W47`` runs from its Monday 00:00 to the next Monday 00:00 local time in ``[digest].timezone``;
its UTC bounds follow from the zone, so a week that contains a daylight-saving change is 167 or 169 hours long.
ISO years have 52 or 53 weeks (2026 has 53); ``2026-W53`` is valid, ``2025-W53`` is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BadWeek(ValueError):
    """Not a ``YYYY-Www`` string naming a week that exists."""


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        match = WEEK_PATTERN.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise BadWeek(f"{text!r} is not an ISO week such as 2026-W47")
        year, week = int(match[1]), int(match[2])
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise BadWeek(f"{text!r}: {year} has no ISO week {week}") from None
        return cls(year, week)

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.monday + timedelta(weeks=weeks))

    def bounds(self, zone: str) -> tuple[datetime, datetime]:
        """``[since, until)`` in UTC: local Monday 00:00 of this week and of the next."""
        tz = ZoneInfo(zone)
        start = datetime.combine(self.monday, time(0), tzinfo=tz)
        end = datetime.combine(self.monday + timedelta(weeks=1), time(0), tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)


def last_send_instant(now: datetime, send_at: str, zone: str) -> datetime:
    """The latest ``send_at`` instant (``"mon 08:00"`` local in ``zone``) that is at or before ``now``."""
    day_name, _, clock = send_at.partition(" ")
    hour, minute = (int(x) for x in clock.split(":"))
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz)
    monday = local_now.date() - timedelta(days=local_now.weekday())
    day = monday + timedelta(days=WEEKDAYS.index(day_name))
    instant = datetime.combine(day, time(hour, minute), tzinfo=tz)
    if instant > now:
        instant = datetime.combine(day - timedelta(weeks=1), time(hour, minute), tzinfo=tz)
    return instant.astimezone(UTC)


def due_week(now: datetime, send_at: str, zone: str) -> IsoWeek:
    """The week to send at ``now``: the last week that ended before the latest send instant <= ``now``.

    The send instant lies in some ISO week X (local time), so the last week that had ended by then is X - 1
    (for ``"mon 00:00"`` it ends exactly at the instant). After downtime this is still only the newest week.
    """
    instant = last_send_instant(now, send_at, zone).astimezone(ZoneInfo(zone))
    return IsoWeek.of(instant.date()).shift(-1)


def bucket(column: Any, bounds: list[datetime]) -> Any:
    """SQL: the index of the week ``column`` falls in, for consecutive weeks' exact UTC ``bounds`` (DST included).

    Rows must already be restricted to ``bounds[0] <= column < bounds[-1]``."""
    return case(*[(column < b, i) for i, b in enumerate(bounds[1:-1])], else_=len(bounds) - 2)
