"""Retention-figures benchmark (issue 7): every figure over 1,000,000 tickets and 100,000 saves on PostgreSQL.

Run: ``.venv/bin/python bench/saves.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]``
(default: ``$HELPDESK_RETAIN_TEST_DATABASE_URL``).

Loads a private schema with COPY (1,000,000 tickets over a year, 200,000 customers plus 40,000 billing
records sharing their external ids, 100,000 saves in three currencies, and cancel/refund intent signals when
the risk-signal table exists), ANALYZEs it, then times ``retention.figures`` for one month and for the whole
year (median of 5 runs each) against a baseline measured in the same run: a bare ``SELECT count(*) FROM
saves``. Target: each figures call < 1 s. Results are appended to ``bench/README.md``; the schema is dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk_retain.config import settings_from_dict  # noqa: E402
from helpdesk_retain.db import normalize_url  # noqa: E402
from helpdesk_retain.models import metadata  # noqa: E402
from helpdesk_retain.retention import INTENT_SIGNALS, Period, figures, intent_ticket_count  # noqa: E402

TICKETS = 1_000_000
CUSTOMERS = 200_000
BILLING_COPIES = 40_000
SAVES = 100_000
START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_SECONDS = 365 * 86400
RUNS = 5
TARGET_SECONDS = 1.0


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def copy_rows(engine: Engine, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY rows into ``table`` through psycopg 3 (text format, ``\\N`` for NULL)."""
    count = 0
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        raw.commit()
    finally:
        raw.close()
    return count


def customer_rows(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for i in range(CUSTOMERS):
        created = rng.uniform(-YEAR_SECONDS, YEAR_SECONDS)
        cancelled = at(rng.uniform(created, YEAR_SECONDS)) if rng.random() < 0.25 else None
        yield (
            f"c{i}@example.com",
            f"c{i}@example.com",
            f"cus_{i}",
            "cancelled" if cancelled else "active",
            at(created),
            cancelled,
        )
    for i in range(BILLING_COPIES):  # a billing system's own record of the same customer, no email
        created = rng.uniform(-YEAR_SECONDS / 2, YEAR_SECONDS)
        cancelled = at(rng.uniform(created, YEAR_SECONDS)) if rng.random() < 0.1 else None
        yield (f"stripe:cus_{i}", None, f"cus_{i}", "cancelled" if cancelled else "active", at(created), cancelled)


def ticket_rows(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for i in range(TICKETS):
        created = at(rng.uniform(0, YEAR_SECONDS))
        yield (
            "generic",
            f"T-{i}",
            "open",
            "[]",
            "{}",
            rng.randint(1, CUSTOMERS),
            created,
            created,
            created,
            False,
            "[]",
            "rules",
        )


def save_rows(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    ticket_ids = rng.sample(range(1, TICKETS + 1), SAVES)
    for ticket_id in ticket_ids:
        saved = rng.uniform(0, YEAR_SECONDS)
        currency = rng.choice(("USD", "USD", "EUR", "JPY"))
        interval = "year" if rng.random() < 0.2 else "month"
        amount = None if rng.random() < 0.05 else rng.randint(1, 500) * (100 if currency != "JPY" else 1) * 10
        mrr = None if amount is None else (amount if interval == "month" else (amount * 2 + 12) // 24)
        arr = None if amount is None else (amount * 12 if interval == "month" else amount)
        outcome = rng.choice(("pending", "held", "held", "lost"))
        withdrawn = at(saved + 3600) if rng.random() < 0.03 else None
        yield (
            ticket_id,
            rng.randint(1, CUSTOMERS),
            "tag",
            amount,
            currency if amount else None,
            interval,
            mrr,
            arr,
            at(saved),
            at(saved + 60 * 86400),
            outcome,
            withdrawn,
            at(saved),
            at(saved),
        )


SAVE_COLUMNS = [
    "ticket_id",
    "customer_id",
    "via",
    "amount_minor",
    "currency",
    "interval",
    "mrr_minor",
    "arr_minor",
    "saved_at",
    "verify_due_at",
    "outcome",
    "withdrawn_at",
    "created_at",
    "updated_at",
]
TICKET_COLUMNS = [
    "source",
    "external_id",
    "status",
    "tags",
    "custom_fields",
    "customer_id",
    "created_at",
    "updated_at",
    "first_seen_at",
    "is_complaint",
    "complaint_evidence",
    "complaint_source",
]


def load(engine: Engine, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    loaded = {
        "customers": copy_rows(
            engine,
            "customers",
            ["key", "email", "external_id", "status", "created_at", "cancelled_at"],
            customer_rows(rng),
        ),
        "tickets": copy_rows(engine, "tickets", TICKET_COLUMNS, ticket_rows(rng)),
        "saves": copy_rows(engine, "saves", SAVE_COLUMNS, save_rows(rng)),
    }
    loaded["intent_signals"] = load_signals(engine, rng)
    tables = ", ".join(t for t in ("customers", "tickets", "saves", "risk_signals") if t in metadata.tables)
    with engine.connect() as conn:  # only this schema's tables: a bare ANALYZE would visit every schema
        conn.execute(text(f"ANALYZE {tables}"))
        conn.commit()
    return loaded


def load_signals(engine: Engine, rng: random.Random) -> int:
    """Risk signals on 15% of tickets, half of them cancel/refund intent, if the tagging feature's table exists."""
    table = metadata.tables.get("risk_signals")
    if table is None:
        return 0
    required = [c.name for c in table.columns if not c.nullable and not c.primary_key and c.name != "ticket_id"]
    known = {
        "signal": lambda: rng.choice((*INTENT_SIGNALS, "data_export", "competitor_mention")),
        "at": lambda: at(rng.uniform(0, YEAR_SECONDS)),
        "evidence": lambda: "please cancel",
        "source": lambda: "rules",
    }
    if not set(required) <= set(known):
        print(f"risk_signals has columns this bench cannot fill: {sorted(set(required) - set(known))}")
        return 0
    rows = ((t, *(known[c]() for c in required)) for t in rng.sample(range(1, TICKETS + 1), TICKETS * 15 // 100))
    return copy_rows(engine, "risk_signals", ["ticket_id", *required], rows)


def median_seconds(func: Callable[[], Any]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(url: str) -> str:
    schema = f"bench_saves_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(url))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    engine = create_engine(f"{normalize_url(url)}{sep}options={quote(f'-csearch_path={schema}')}")
    try:
        metadata.create_all(engine)
        started = time.perf_counter()
        loaded = load(engine)
        load_seconds = time.perf_counter() - started
        return measure(engine, loaded, load_seconds)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure(engine: Engine, loaded: dict[str, int], load_seconds: float) -> str:
    settings = settings_from_dict(
        {"money": {"base_currency": "USD", "rates": {"EUR": "1.08", "JPY": "0.0067"}}}, environ={}
    )
    month = Period(datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
    year = Period(START, START + timedelta(days=365))
    with Session(engine) as session:
        baseline = median_seconds(lambda: session.execute(text("SELECT count(*) FROM saves")).scalar_one())
        results = {}
        for name, period in (("month", month), ("year", year)):
            results[name] = (
                median_seconds(lambda p=period: figures(session, p, settings)),
                figures(session, period, settings),
            )
        intent = intent_ticket_count(session, year)
    lines = [f"loaded {loaded} in {load_seconds:.1f} s; baseline SELECT count(*) FROM saves: {baseline * 1000:.1f} ms"]
    for name, (seconds, figs) in results.items():
        s = figs["saves"]
        verdict = "PASS" if seconds < TARGET_SECONDS else "FAIL"
        lines.append(
            f"figures for a {name}: {seconds * 1000:.1f} ms median of {RUNS} ({seconds / baseline:.1f}x baseline) "
            f"{verdict} (< {TARGET_SECONDS:.0f} s): saves {s['count']} (pending {s['pending']}, held {s['held']}, "
            f"lost {s['lost']}), MRR {json.dumps({c['currency']: c['mrr_minor'] for c in s['by_currency']})}, "
            f"base {s['base']['mrr_minor'] if s['base'] else None} USD, save rate {figs['save_rate']['percent']}%, "
            f"CRR {figs['crr']['percent']}% (S {figs['crr']['start']}, E {figs['crr']['end']}, N {figs['crr']['new']})"
        )
    lines.append(f"intent tickets over the year: {intent} (None = risk-signal table not present)")
    return "\n".join(lines)


def append_readme(report: str, url: str) -> None:
    path = Path(__file__).parent / "README.md"
    header = (
        ""
        if path.exists()
        else "# Benchmarks\n\nEach script prints its figures and ratios; results are appended here.\n"
    )
    host = url.split("@")[-1]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    machine = f"PostgreSQL {host}, {os.cpu_count()} CPUs, load average {load} at the end"
    block = f"\n## bench/saves.py — {stamp} ({machine})\n\n```\n{report}\n```\n"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(header + block)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("HELPDESK_RETAIN_TEST_DATABASE_URL"))
    parser.add_argument("--no-readme", action="store_true", help="print only; do not append to bench/README.md")
    args = parser.parse_args()
    if not args.url or not normalize_url(args.url).startswith("postgresql"):
        parser.error("a PostgreSQL URL is needed: --url or $HELPDESK_RETAIN_TEST_DATABASE_URL")
    report = run(args.url)
    print(report)
    if not args.no_readme:
        append_readme(report, args.url)
    return 0 if "FAIL" not in report else 1


if __name__ == "__main__":
    sys.exit(main())
