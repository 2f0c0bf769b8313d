"""Dashboard pages benchmark (issue 10): p95 of every page with 100,000 tickets in the database.

Run: ``.venv/bin/python bench/pages.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--requests 60]``
(default: a SQLite file in a temporary folder, the embedded default).

Bulk-loads with SQLAlchemy Core ``executemany`` 100,000 tickets over the last year (a week holds ~1,900),
20,000 customers, two TAT clocks and one log row per ticket, complaint flags and risk signals on some, saves,
fixed bugs with follow-ups for the signed-in agent and a few dead letters, into tables made by
``metadata.create_all`` (which also makes the ticket text index and its triggers: the seeded tickets are
indexed as they are inserted), then ANALYZE (VACUUM ANALYZE and CHECKPOINT on PostgreSQL: a steady database,
not one still writing back the load). Then serves the real app on
127.0.0.1 (werkzeug, threaded, as the test server) and requests each page sequentially as a signed-in admin,
after a warm-up; the baseline is ``GET /healthz`` measured in the same run. Target: every page p95 < 100 ms.
Results are appended to ``bench/README.md`` (``--no-record``: printed only), with the machine's load average
before and after the timed requests: the machine is shared, so compare a page with ``/healthz`` of the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, insert, text
from sqlalchemy.exc import DBAPIError

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk_retain.config import settings_from_dict  # noqa: E402
from helpdesk_retain.db import normalize_url  # noqa: E402
from helpdesk_retain.models import metadata  # noqa: E402
from helpdesk_retain.runtime import build_runtime  # noqa: E402
from helpdesk_retain.testing import GENERIC_TEST_SECRET, LiveServer  # noqa: E402
from helpdesk_retain.web.testing import TAT_SETTINGS, WebSession, add_user  # noqa: E402
from helpdesk_retain.web_app import build_app  # noqa: E402

TICKETS, CUSTOMERS, CHUNK = 100_000, 20_000, 5_000
NOW = datetime.now(UTC).replace(microsecond=0)
YEAR = timedelta(days=365)
AGENTS = [f"agent{i}@example.com" for i in range(20)]
ME = AGENTS[0]
CATEGORIES = ["billing", "product_defect", "service_quality", "pricing", "usability"]
SIGNALS = ["cancel_intent", "refund_request", "data_export", "competitor_mention", "downgrade"]
WORDS = ["invoice", "export", "login", "slow", "crash", "refund", "cancel", "upgrade", "password", "invite", "api"]
TARGET_MS = 100.0
BUDGET_SECONDS, MIN_REQUESTS = 30.0, 10


def chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def load(engine: Engine, table: str, rows: Iterator[dict[str, Any]]) -> int:
    """Core executemany in chunks of CHUNK rows."""
    target: Table = metadata.tables[table]
    count = 0
    with engine.begin() as conn:
        for batch in chunks(rows):
            conn.execute(insert(target), batch)
            count += len(batch)
    return count


def created_at(i: int) -> datetime:
    return NOW - YEAR + YEAR * (i + 1) / (TICKETS + 1)


def customers() -> Iterator[dict[str, Any]]:
    for i in range(CUSTOMERS):
        email = f"c{i}@example.com"
        yield {"key": email, "email": email, "name": f"Customer {i}", "external_id": f"cus_{i}", "status": "active",
               "mrr_minor": 900 + (i * 37) % 20000, "currency": "USD", "plan": "pro", "created_at": NOW - YEAR * 2,
               "updated_at": NOW - YEAR}  # fmt: skip


def tickets(rng: random.Random) -> Iterator[dict[str, Any]]:
    for i in range(TICKETS):
        at = created_at(i)
        complaint = is_complaint(i)
        words = " ".join(rng.choices(WORDS, k=6))
        yield {
            "id": i + 1, "source": "generic", "external_id": f"T-{i}", "subject": f"Ticket {i}: {words}",
            "description": f"Customer writes about {words}. " * 4, "status": rng.choice(["open", "pending", "solved"]),
            "priority": rng.choice(["low", "normal", "high"]), "channel": "email", "tags": [], "custom_fields": {},
            "customer_id": rng.randrange(CUSTOMERS) + 1, "assignee_email": rng.choice(AGENTS), "created_at": at,
            "updated_at": at, "first_seen_at": at, "is_complaint": complaint,
            "complaint_category": rng.choice(CATEGORIES) if complaint else None,
            "complaint_evidence": ["charged twice"] if complaint else [], "complaint_source": "rules",
        }  # fmt: skip


def clocks(rng: random.Random) -> Iterator[dict[str, Any]]:
    """First response (mostly met, some breached, running for the last two days) and resolution per ticket."""
    for i in range(TICKETS):
        start = created_at(i)
        due = start + timedelta(hours=2)
        recent = start > NOW - timedelta(days=2)
        state = "running" if recent else rng.choice(["met", "met", "met", "breached"])
        base = {"ticket_id": i + 1, "seq": 1, "policy": "standard", "started_at": start}
        yield base | {
            "metric": "first_response", "target_minutes": 120, "due_at": due, "state": state,
            "stopped_at": start + timedelta(minutes=rng.randrange(5, 110)) if state == "met" else None,
            "breached_at": due if state == "breached" else None,
        }  # fmt: skip
        yield base | {
            "metric": "resolution", "target_minutes": 2880, "due_at": start + timedelta(days=2),
            "state": "running" if recent else "met", "stopped_at": None if recent else due, "breached_at": None,
        }  # fmt: skip


def log_rows() -> Iterator[dict[str, Any]]:
    for i in range(TICKETS):
        yield {"ticket_id": i + 1, "at": created_at(i), "kind": "created", "dedupe_key": f"created:{i}",
               "status": "open", "body": None, "snapshot": {}}  # fmt: skip


def signals(rng: random.Random) -> Iterator[dict[str, Any]]:
    for i in rng.sample(range(TICKETS), TICKETS // 20):
        yield {"ticket_id": i + 1, "signal": rng.choice(SIGNALS), "source": "description",
               "evidence": "please cancel my account", "at": created_at(i)}  # fmt: skip


def is_complaint(i: int) -> bool:
    return i % 7 == 0  # ~14% of tickets


def complaint_states() -> Iterator[dict[str, Any]]:
    for i in range(0, TICKETS, 7):
        yield {"ticket_id": i + 1, "complaint_at": created_at(i)}


def saves(rng: random.Random) -> Iterator[dict[str, Any]]:
    for n, i in enumerate(rng.sample(range(TICKETS), 2_000)):
        at = created_at(i) + timedelta(hours=3)
        yield {"ticket_id": i + 1, "via": "api", "amount_minor": 4900, "currency": "USD", "interval": "month",
               "mrr_minor": 4900, "arr_minor": 58800, "saved_at": at, "verify_due_at": at + timedelta(days=60),
               "outcome": "pending", "created_at": at, "updated_at": at, "reason": f"reason {n}"}  # fmt: skip


def followups() -> Iterator[dict[str, Any]]:
    for i in range(300):
        ticket = TICKETS - 1 - i * 20
        yield {"issue_id": 1 + i % 30, "ticket_id": ticket + 1, "fix_cycle": 1, "state": "due",
               "fixed_at": NOW - timedelta(hours=5), "due_at": NOW - timedelta(hours=4), "created_at": NOW,
               "assignee_email": AGENTS[i % len(AGENTS)]}  # fmt: skip


def issues() -> Iterator[dict[str, Any]]:
    for i in range(30):
        yield {"tracker": "github", "key": f"acme/app#{i}", "issue": f"acme/app#{i}", "state": "fixed",
               "fix_cycle": 1, "fixed_at": NOW - timedelta(hours=5), "updated_at": NOW, "created_at": NOW}  # fmt: skip


def dead_letters() -> Iterator[dict[str, Any]]:
    for i in range(50):
        yield {"source": "generic", "delivery_id": f"dead-{i}", "received_at": NOW, "body": b'{"event": "x"}' * 50,
               "headers": {}, "state": "dead", "error": "missing field: ticket.id", "events": 0}  # fmt: skip


def seed(engine: Engine) -> dict[str, int]:
    rng = random.Random(1)
    counts = {"customers": load(engine, "customers", customers()), "tickets": load(engine, "tickets", tickets(rng))}
    counts["complaint_states"] = load(engine, "complaint_states", complaint_states())
    counts["tat_clocks"] = load(engine, "tat_clocks", clocks(rng))
    counts["ticket_log"] = load(engine, "ticket_log", log_rows())
    counts["risk_signals"] = load(engine, "risk_signals", signals(rng))
    counts["saves"] = load(engine, "saves", saves(rng))
    counts["issues"] = load(engine, "issues", issues())
    counts["followups"] = load(engine, "followups", followups())
    counts["deliveries"] = load(engine, "deliveries", dead_letters())
    # statistics, and on PostgreSQL the visibility map and hint bits, as autovacuum keeps a production table
    # (it would vacuum these freshly inserted tables within a minute or so), then a checkpoint, so the load's
    # writes are not flushed while the first pages are timed
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            with contextlib.suppress(DBAPIError):  # needs superuser or pg_checkpoint: without, measure as is
                conn.execute(text("CHECKPOINT"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return counts


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def measure(web: WebSession, path: str, n: int) -> tuple[float, float, int]:
    """(median ms, p95 ms, requests): ``n`` timed requests after 3 warm-up ones, or fewer (at least
    MIN_REQUESTS) when a page is so slow that ``n`` would take longer than BUDGET_SECONDS."""
    for _ in range(3):
        assert web.get(path).status_code == 200, path
    samples: list[float] = []
    deadline = time.perf_counter() + BUDGET_SECONDS
    while len(samples) < n and (len(samples) < MIN_REQUESTS or time.perf_counter() < deadline):
        start = time.perf_counter()
        response = web.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(samples), p95(samples), len(samples)


def pages() -> list[tuple[str, str]]:
    week = f"{NOW.isocalendar().year}-W{NOW.isocalendar().week:02d}"
    return [
        ("overview (this week's digest figures)", "/"),
        ("tickets, newest", "/tickets"),
        ("tickets, complaints", "/tickets?flag=complaint"),
        ("tickets, at risk + breached", "/tickets?flag=at_risk&flag=breached"),
        ("tickets, saved", "/tickets?flag=saved"),
        ("tickets, assignee me", "/tickets?assignee=me"),
        ("tickets, search 'refund'", "/tickets?q=refund"),
        ("tickets, search with no match", "/tickets?q=zzzz-nothing"),
        ("ticket page", f"/tickets/generic/T-{TICKETS // 2}"),
        ("my follow-ups", "/followups"),
        ("at-risk customers", "/at-risk"),
        ("dead letters", "/dead-letters"),
        ("digest preview", f"/digest-preview/{week}"),
        ("settings", "/settings"),
        ("users", "/admin/users"),
        ("API tokens", "/admin/tokens"),
    ]


def database(url: str | None) -> tuple[str, Any]:
    """(URL, cleanup): a SQLite file in a temporary folder, or a private PostgreSQL schema."""
    if not url:
        folder = tempfile.mkdtemp(prefix="bench-pages-")
        return f"sqlite:///{folder}/bench.db", lambda: shutil.rmtree(folder, ignore_errors=True)
    url, schema = normalize_url(url), f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def run(url: str | None, n: int) -> str:
    db_url, cleanup = database(url)
    try:
        settings = settings_from_dict({"database": {"url": db_url}, **TAT_SETTINGS,
                                       "sources": {"generic": {"plugin": "generic", "secret": GENERIC_TEST_SECRET}}},
                                      environ={})  # fmt: skip
        rt = build_runtime(settings)
        metadata.create_all(rt.engine)
        started = time.perf_counter()
        counts = seed(rt.engine)
        loaded = time.perf_counter() - started
        add_user(rt, ME, "admin")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
        server = LiveServer(build_app(runtime=rt))
        try:
            web = WebSession(server.url)
            assert web.login(ME).status_code == 302
            load_before = os.getloadavg()[0]
            lines = [f"loaded {counts} in {loaded:.1f} s; {n} requests per page after 3 warm-up requests", ""]
            lines += [
                "| page | requests | median ms | p95 ms | p95 × /healthz | < 100 ms |",
                "|---|---:|---:|---:|---:|---|",
            ]
            base_median, base, count = measure(web, "/healthz", n)
            lines.append(f"| baseline `GET /healthz` | {count} | {base_median:.1f} | {base:.1f} | 1.0 | |")
            for name, path in pages():
                median, high, count = measure(web, path, n)
                ok = "yes" if high < TARGET_MS else "**no**"
                lines.append(f"| {name} `{path}` | {count} | {median:.1f} | {high:.1f} | {high / base:.1f} | {ok} |")
                print(lines[-1], flush=True)
            lines[0] += f"; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
            return "\n".join(lines)
        finally:
            server.stop()
            rt.close()
    finally:
        cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=None, help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page")
    parser.add_argument("--no-record", action="store_true", help="print the results without appending them")
    args = parser.parse_args()
    result = run(args.url, args.requests)
    where = (args.url or "SQLite file").split("@")[-1]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"\n## bench/pages.py — {stamp} ({where}, {os.cpu_count()} CPUs)\n\n{result}\n"
    print(section)
    if args.no_record:
        return
    with (ROOT / "bench" / "README.md").open("a", encoding="utf-8") as fh:
        fh.write(section)


if __name__ == "__main__":
    main()
