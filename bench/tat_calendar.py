"""Business-calendar benchmark (issue 6): ``add`` and ``elapsed`` over a year cost about what a short ``add`` does.

Run: ``.venv/bin/python bench/tat_calendar.py``

Prints per-call cost, in one run, of: the baseline (one ``zoneinfo`` conversion of a datetime), ``add`` of 60
business minutes, ``add`` of one calendar year of business time and of 525,600 business minutes (a year of
minutes, about four calendar years for a 40-hour week), ``elapsed`` over one and over four calendar years, all with a
warm calendar; and ``add`` of one year on a freshly built calendar (months computed on first use). Target: ``add``
of one year at most 1 ms per call.
"""

from __future__ import annotations

import random
import sys
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk_retain.tat import BusinessCalendar  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = {day: [("09:00", "17:00")] for day in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [("22:00", "06:00")]}
STARTS = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=random.Random(n).randrange(525_600)) for n in range(64)]


def per_call(fn, calls: int) -> float:
    """Best-of-five seconds per call of ``fn(start)``, cycling through fixed starts."""

    def run() -> None:
        for i in range(calls):
            fn(STARTS[i % len(STARTS)])

    return min(timeit.repeat(run, number=1, repeat=5)) / calls


def calendar() -> BusinessCalendar:
    return BusinessCalendar("Europe/Berlin", HOURS, country="DE")


def main() -> None:
    warm = calendar()
    warm.elapsed(datetime(2025, 12, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC))  # builds the months used
    year_of_business = warm.elapsed(datetime(2026, 1, 1, tzinfo=BERLIN), datetime(2027, 1, 1, tzinfo=BERLIN))
    year_minutes = year_of_business // timedelta(minutes=1)  # 2026 in this calendar: 2,444 hours
    rows = [
        ("baseline: datetime.astimezone(ZoneInfo)", per_call(lambda s: s.astimezone(BERLIN), 20_000)),
        ("add 60 business minutes", per_call(lambda s: warm.add(s, 60), 20_000)),
        ("add one calendar year of business time", per_call(lambda s: warm.add(s, year_minutes), 5_000)),
        ("add 525,600 business minutes", per_call(lambda s: warm.add(s, 525_600), 5_000)),
        ("elapsed over one year", per_call(lambda s: warm.elapsed(s, s + timedelta(days=365)), 5_000)),
        ("elapsed over four years", per_call(lambda s: warm.elapsed(s, s + timedelta(days=4 * 365)), 5_000)),
        ("add one year, fresh calendar", per_call(lambda s: calendar().add(s, year_minutes), 50)),
    ]
    baseline, short = rows[0][1], rows[1][1]
    print(f"{'operation':<42} {'us/call':>10} {'x baseline':>11} {'x add 60':>9}")
    for name, cost in rows:
        print(f"{name:<42} {cost * 1e6:>10.2f} {cost / baseline:>11.1f} {cost / short:>9.2f}")
    year = rows[2][1]
    print(f"add of one year: {year * 1e3:.4f} ms per call (target <= 1 ms): {'ok' if year <= 1e-3 else 'MISSED'}")


if __name__ == "__main__":
    main()
