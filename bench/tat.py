"""TAT benchmark (issue 6): the breach sweep's cost against clocks stored, clock recompute per event against log
length, and ``add`` of one year of business time.

Run: ``.venv/bin/python bench/tat.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] [--open 1000000]``
(``--pg`` defaults to ``$HELPDESK_RETAIN_TEST_DATABASE_URL``; without either, SQLite only).

Prints, per database, in one run:
(a) ``run_due_tat`` with 1,000 open clocks and with 1,000,000, the same 200 due each time (target ratio <= 2);
(b) the TAT step for one more event on a ticket with a 10-event and a 200-event log (target ratio <= 3): as it
    runs (resuming from the ticket's checkpoint), as a full replay of the log (what a late, out-of-order
    delivery costs once), and the whole ingest of that event (every feature's step) for comparison;
(c) ``BusinessCalendar.add`` of one year of business time, and ``add_business`` of the same plus 17.5 s (<= 1 ms).
Bulk rows are inserted with Core executemany. Every timing is the best of many repetitions (as ``timeit`` does:
the machine this runs on is shared, and the best run is the one least disturbed by others); medians are shown too.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, delete, insert, select, text, update

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk_retain.config import settings_from_dict  # noqa: E402
from helpdesk_retain.events import Comment, TicketEvent  # noqa: E402
from helpdesk_retain.ingest import Context, Steps, apply_events  # noqa: E402
from helpdesk_retain.models import Ticket, metadata  # noqa: E402
from helpdesk_retain.models.tat import TatClock, TatEvent, TatReplay  # noqa: E402
from helpdesk_retain.runtime import Runtime, build_runtime  # noqa: E402
from helpdesk_retain.tat import BusinessCalendar, add_business, policy_set, run_due_tat  # noqa: E402
from helpdesk_retain.tat.store import recompute  # noqa: E402

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFFICE = {"timezone": "Europe/Berlin", "hours": {d: [["09:00", "17:00"]] for d in DAYS[:5]}, "country_holidays": "DE"}
POLICIES = [
    {"name": "urgent", "calendar": "office", "match": {"priority": "urgent"}, "targets": {"first_response": 60}},
    {"name": "vip", "calendar": "office", "match": {"tags_any": ["vip"]}, "targets": {"resolution": 960}},
    {
        "name": "standard",
        "calendar": "office",
        "targets": {"first_response": 240, "next_response": 480, "resolution": 2400},
    },
]
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DUE = 200
CHUNK = 20_000


def best_time(func: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def make_runtime(url: str) -> Runtime:
    data = {"database": {"url": url}, "calendars": {"office": OFFICE}, "tat": {"policies": POLICIES}}
    return build_runtime(settings_from_dict(data, environ={}))


# --- (a) the sweep --------------------------------------------------------------------------------


def seed_tickets(rt: Runtime, count: int) -> list[int]:
    at = NOW - timedelta(days=30)
    base = {"source": "bench", "status": "open", "tags": [], "custom_fields": {}, "complaint_evidence": []}
    rows = [
        {**base, "external_id": f"B-{n}", "created_at": at, "updated_at": at, "first_seen_at": at} for n in range(count)
    ]
    with rt.engine.begin() as conn:
        conn.execute(insert(Ticket.__table__), rows)
        return list(conn.execute(select(Ticket.__table__.c.id).where(Ticket.__table__.c.source == "bench")).scalars())


def clock_rows(tickets: list[int], first_seq: int, count: int, due: bool) -> Iterator[dict[str, object]]:
    rng = random.Random(first_seq)
    started = NOW - timedelta(days=2)
    for n in range(count):
        ticket, seq = tickets[n % len(tickets)], first_seq + n // len(tickets)
        offset = timedelta(minutes=rng.randint(1, 600)) if due else timedelta(days=rng.randint(1, 365))
        at = NOW - offset if due else NOW + offset
        yield {
            "ticket_id": ticket,
            "metric": "next_response",
            "seq": seq,
            "policy": "standard",
            "target_minutes": 480,
            "started_at": started,
            "due_at": at,
            "warn_at": at - timedelta(minutes=90),
            "state": "running",
            "sweep_at": at - timedelta(minutes=90) if not due else at,
        }


def insert_clocks(rt: Runtime, rows: Iterator[dict[str, object]]) -> None:
    batch: list[dict[str, object]] = []
    with rt.engine.begin() as conn:
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                conn.execute(insert(TatClock.__table__), batch)
                batch = []
        if batch:
            conn.execute(insert(TatClock.__table__), batch)
        conn.execute(text("ANALYZE tat_clocks"))


def reset_due(rt: Runtime) -> None:
    """Put the due clocks back as the sweep found them, forget what it recorded, and (SQLite) checkpoint the
    write-ahead log, so no timed sweep pays for a checkpoint of earlier writes."""
    clocks = TatClock.__table__.c
    with rt.engine.begin() as conn:
        conn.execute(delete(TatEvent.__table__))
        conn.execute(
            update(TatClock.__table__)
            .where(clocks.seq == 0)
            .values(state="running", breached_at=None, sweep_at=clocks.due_at)
        )
    if rt.engine.dialect.name == "sqlite":  # outside any transaction (the engine BEGINs on every use)
        raw = rt.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def timed_sweep(rt: Runtime) -> float:
    reset_due(rt)
    started = time.perf_counter()
    recorded = run_due_tat(rt, NOW)
    took = time.perf_counter() - started
    assert recorded == DUE, recorded
    return took


def seed_sweep(rt: Runtime, open_clocks: int) -> None:
    """``open_clocks`` running clocks on 1,000 tickets, ``DUE`` of them due (those have ``seq`` 0)."""
    tickets = seed_tickets(rt, 1000)
    insert_clocks(rt, clock_rows(tickets, 0, DUE, due=True))
    insert_clocks(rt, clock_rows(tickets, 1, open_clocks - DUE, due=False))


def bench_sweep(new_database: Callable[[], Runtime], open_clocks: int, repeat: int = 11) -> dict[int, list[float]]:
    """Seconds per sweep with 1,000 and with ``open_clocks`` open clocks, each in its own database; the two
    are measured alternately, so a busy moment of the machine does not fall on one of them only."""
    runtimes = {}
    for size in (1000, open_clocks):
        runtimes[size] = rt = new_database()
        started = time.perf_counter()
        seed_sweep(rt, size)
        print(f"    (inserted {size:,} open clocks in {time.perf_counter() - started:.0f} s)")
    times: dict[int, list[float]] = {size: [] for size in runtimes}
    for round_ in range(repeat + 1):
        for size, rt in runtimes.items():
            took = timed_sweep(rt)
            if round_:  # the first round warms caches and plans
                times[size].append(took)
    return times


# --- (b) recompute per event ----------------------------------------------------------------------


def story(ticket: str, events: int) -> list[TicketEvent]:
    """A ticket's life: a creation, then customer and agent replies, notes and a few status changes."""
    t0 = NOW - timedelta(days=40)
    out = [TicketEvent("ticket.created", ticket, t0, status="new", priority="normal", tags=("billing",), created_at=t0)]
    for n in range(1, events):
        at = t0 + timedelta(minutes=97 * n)
        if n % 10 == 5:
            out.append(
                TicketEvent("ticket.updated", ticket, at, status="pending" if n % 20 == 5 else "open", updated_at=at)
            )
            continue
        role = "customer" if n % 2 else "agent"
        note = Comment(f"{ticket}-{n}", "text", public=n % 7 != 0, author_role=role, created_at=at)  # type: ignore[arg-type]
        out.append(TicketEvent("comment.created", ticket, at, comment=note))
    return out


Case = Callable[[], float]


def recompute_cases(rt: Runtime, events: int) -> dict[str, Case]:
    """Timed, rolled-back ways to handle one more event on a ticket with ``events`` log rows: the TAT step
    (``recompute``, resuming from the ticket's checkpoint), the same without a checkpoint (a full replay, as
    after a late delivery), and the whole ingest of the event (every feature's step)."""
    name = f"R-{events}-{uuid.uuid4().hex[:6]}"
    with rt.sessions.begin() as session:
        apply_events(Context(session, rt.settings, "bench", None, NOW), story(name, events), rt.steps)
    policies = policy_set(rt.settings)
    extra = Comment("extra", "one more", public=True, author_role="customer", created_at=NOW - timedelta(days=1))
    event = TicketEvent("comment.created", name, NOW - timedelta(days=1), comment=extra)

    def ingest() -> float:
        session = rt.sessions()
        try:
            started = time.perf_counter()
            apply_events(Context(session, rt.settings, "bench", None, NOW), [event], rt.steps)
            return time.perf_counter() - started
        finally:
            session.rollback()
            session.close()

    def tat_step(full: bool) -> float:
        session = rt.sessions()
        try:
            apply_events(Context(session, rt.settings, "bench", None, NOW), [event], Steps())  # the log row only
            ticket = session.execute(select(Ticket).where(Ticket.external_id == name)).scalar_one()
            if full:
                session.execute(delete(TatReplay.__table__).where(TatReplay.__table__.c.ticket_id == ticket.id))
            started = time.perf_counter()
            recompute(session, ticket, policies, NOW)
            return time.perf_counter() - started
        finally:
            session.rollback()
            session.close()

    return {"recompute": lambda: tat_step(False), "full replay": lambda: tat_step(True), "whole ingest": ingest}


def bench_recompute(rt: Runtime, sizes: tuple[int, ...], repeat: int = 100) -> dict[int, dict[str, list[float]]]:
    """Per size and case, the seconds of each repetition; sizes and cases are measured interleaved, so they
    share the machine's load."""
    cases = {size: recompute_cases(rt, size) for size in sizes}
    times: dict[int, dict[str, list[float]]] = {size: {name: [] for name in cases[size]} for size in sizes}
    for round_ in range(repeat + 1):
        for size, named in cases.items():
            for name, case in named.items():
                took = case()
                if round_:  # the first round warms up
                    times[size][name].append(took)
    return times


# --- (c) calendar arithmetic ----------------------------------------------------------------------


def bench_add_year() -> tuple[float, float, float]:
    cal = BusinessCalendar(**{k: v for k, v in OFFICE.items() if k != "country_holidays"}, country="DE")
    start = datetime(2026, 3, 2, 10, 17, 5, tzinfo=UTC)
    minutes = int(cal.elapsed(start, start.replace(year=2027)).total_seconds() // 60)
    cal.add(start, minutes)  # build the months once, as a running service has
    year = best_time(lambda: cal.add(start, minutes), 200)
    precise = best_time(lambda: add_business(cal, start, timedelta(minutes=minutes, seconds=17.5)), 200)
    sixty = best_time(lambda: cal.add(start, 60), 200)
    return year, precise, sixty


# --- running ------------------------------------------------------------------------------------


def pg_schema_url(base: str) -> tuple[str, Callable[[], None]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", drop


def run_database(label: str, new_database: Callable[[], Runtime], open_clocks: int) -> None:
    print(f"\n{label}")
    rt = new_database()
    times = bench_recompute(rt, (10, 200))
    for name in times[10]:
        best = {size: min(times[size][name]) for size in times}
        median = {size: statistics.median(times[size][name]) for size in times}
        target = " (target <= 3)" if name == "recompute" else ""
        print(
            f"  {name:12} per event: 10-event log best {best[10] * 1000:6.2f} ms (median {median[10] * 1000:6.2f}),"
            f" 200-event log best {best[200] * 1000:6.2f} ms (median {median[200] * 1000:6.2f});"
            f" ratio {best[200] / best[10]:.2f} (median {median[200] / median[10]:.2f}){target}"
        )
    if not open_clocks:
        return
    sweeps = bench_sweep(new_database, open_clocks)
    best = {size: min(t) for size, t in sweeps.items()}
    median = {size: statistics.median(t) for size, t in sweeps.items()}
    for size in sweeps:
        print(
            f"  sweep, {DUE} due of {size:,} open clocks:"
            f" best {best[size] * 1000:7.2f} ms (median {median[size] * 1000:7.2f})"
        )
    small, large = 1000, open_clocks
    print(f"  ratio: {best[large] / best[small]:.2f} (median {median[large] / median[small]:.2f}; target <= 2)")


class Databases:
    """Fresh databases for one run (SQLite files in a folder, or PostgreSQL schemas), removed at the end."""

    def __init__(self, pg: str | None = None) -> None:
        self.pg, self.runtimes, self.cleanups = pg, [], []
        self.folder = tempfile.TemporaryDirectory()

    def new(self) -> Runtime:
        if self.pg:
            url, drop = pg_schema_url(self.pg)
            self.cleanups.append(drop)
        else:
            url = f"sqlite:///{self.folder.name}/tat-bench-{len(self.runtimes)}.db"
        rt = make_runtime(url)
        metadata.create_all(rt.engine)
        self.runtimes.append(rt)
        return rt

    def close(self) -> None:
        for rt in self.runtimes:
            rt.close()
        for drop in self.cleanups:
            drop()
        self.folder.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default=os.environ.get("HELPDESK_RETAIN_TEST_DATABASE_URL"))
    parser.add_argument("--open", type=int, default=1_000_000, help="open clocks in the large sweep case; 0: skip")
    args = parser.parse_args()
    year, precise, sixty = bench_add_year()
    print(f"add one year of business time: {year * 1e6:.1f} µs (target <= 1000 µs); add 60 min: {sixty * 1e6:.1f} µs")
    print(f"add_business one year + 17.5 s: {precise * 1e6:.1f} µs")
    for label, pg in (("SQLite", None), ("PostgreSQL", args.pg)):
        if label == "PostgreSQL" and not pg:
            continue
        databases = Databases(pg)
        try:
            run_database(label, databases.new, args.open)
        finally:
            databases.close()


if __name__ == "__main__":
    main()
