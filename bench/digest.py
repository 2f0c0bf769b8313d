"""Weekly-digest benchmark (issue 9): one week's figures over 1,000,000 tickets on PostgreSQL.

Run: ``.venv/bin/python bench/digest.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]``
(default: ``$HELPDESK_RETAIN_TEST_DATABASE_URL``).

Loads a private schema with COPY, rows in time order as a help desk sends them: a year (2026) of 1,000,000
tickets from 200,000 customers, 10% of them complaints (with ``complaint_states`` and evidence phrases),
1,900,000 TAT clocks (first response for every ticket, resolution for the 90% on the standard policy; about
8% breach, 2% still running), 40,000 risk signals, 20,000 saves and 20,000 follow-ups; then VACUUM ANALYZEs
it, as autovacuum would.

It times ``digest.figures.week_figures`` for 2026-W47 in Europe/Berlin (median of 5) against the baseline
measured in the same run: the very SQL statements that call executes (captured from the engine), replayed on
a bare psycopg connection with nothing else around them.
Targets: figures < 2 s, and <= 3x the raw SQL. Results are appended to ``bench/README.md``; the schema is
dropped. Rendering (charts, HTML, text) is timed too, for information.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

from saves import copy_rows  # noqa: E402  (bench/saves.py: COPY through psycopg 3)

from helpdesk_retain.config import settings_from_dict  # noqa: E402
from helpdesk_retain.db import normalize_url  # noqa: E402
from helpdesk_retain.digest.figures import week_figures  # noqa: E402
from helpdesk_retain.digest.render import render  # noqa: E402
from helpdesk_retain.digest.send import figures_json  # noqa: E402
from helpdesk_retain.digest.weeks import IsoWeek  # noqa: E402
from helpdesk_retain.models import metadata  # noqa: E402
from helpdesk_retain.retention import Period  # noqa: E402

TICKETS, CUSTOMERS, SIGNALS, SAVES, FOLLOWUPS = 1_000_000, 200_000, 40_000, 20_000, 20_000
START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR = 365 * 86400
WEEK, NOW = IsoWeek(2026, 47), datetime(2026, 11, 25, 12, tzinfo=UTC)
RUNS, TARGET_SECONDS, TARGET_RATIO = 5, 2.0, 3.0
#: a typical desk, not a burning one: 10% of tickets are complaints, about 8% of TAT clocks breach
COMPLAINT_SHARE = 0.1
CATEGORIES = ("product_defect", "service_quality", "billing", "delivery", "pricing", "usability", "other")
PHRASES = [f"phrase {i}" for i in range(40)] + ["charged twice", "still broken", "no answer", "退款", "太慢了"]
SETTINGS = {
    "digest": {"timezone": "Europe/Berlin"},
    "money": {"base_currency": "USD", "rates": {"EUR": "1.08"}},
    "calendars": {"support": {"timezone": "Europe/Berlin", "country_holidays": "DE"}},
    "tat": {
        "policies": [
            {"name": "vip", "calendar": "support", "match": {"tags_any": ["vip"]}, "targets": {"first_response": 30}},
            {"name": "standard", "calendar": "support", "targets": {"first_response": 240, "resolution": 2400}},
        ]
    },
}


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def customers(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for i in range(CUSTOMERS):
        cancelled = rng.uniform(0, YEAR) if rng.random() < 0.05 else None
        mrr = rng.choice((2900, 4900, 9900, 19900, 49900, None))
        yield (
            f"c{i}@example.com",
            f"c{i}@example.com",
            f"Customer {i}",
            "cancelled" if cancelled else "active",
            mrr,
            rng.choice(("USD", "USD", "EUR")) if mrr else None,
            rng.choice(("starter", "pro", "team")),
            at(-YEAR),
            at(cancelled) if cancelled else (at(rng.uniform(0, YEAR)) if rng.random() < 0.3 else None),
            at(cancelled) if cancelled else None,
        )


def tickets(rng: random.Random, created: list[float]) -> Iterator[tuple[Any, ...]]:
    for i, t in enumerate(created):
        complaint = rng.random() < COMPLAINT_SHARE
        evidence = rng.sample(PHRASES, rng.randint(1, 2)) if complaint else []
        yield (
            "generic", f"T-{i}", "open", '["vip"]' if i % 10 == 0 else "[]", "{}", rng.randint(1, CUSTOMERS),
            at(t), at(t), at(t), complaint, rng.choice(CATEGORIES) if complaint else None,
            "[" + ", ".join(f'"{p}"' for p in evidence) + "]", "rules",
        )  # fmt: skip


def complaint_states(rng: random.Random, created: list[float], complaint_ids: list[int]) -> Iterator[tuple[Any, ...]]:
    for ticket_id in complaint_ids:
        yield ticket_id, at(created[ticket_id - 1] + rng.uniform(0, 2 * 86400))


def clocks(rng: random.Random, created: list[float]) -> Iterator[tuple[Any, ...]]:
    """Two clocks per ticket; states follow wall-clock targets (what the figures read, not how they got there)."""
    for i, t in enumerate(created, start=1):
        policy = "vip" if (i - 1) % 10 == 0 else "standard"
        # mean handling times that breach about 8% of clocks: P(took > due) = exp(-due / mean)
        for metric, target, scale in (("first_response", 240, 237.0), ("resolution", 2400, 2370.0)):
            if policy == "vip" and metric == "resolution":
                continue
            target = 30 if policy == "vip" else target
            due = t + target * 60 * 2.5  # business minutes stretch over nights and weekends
            took = rng.expovariate(1 / scale) * 60
            if t + took > NOW.timestamp() - START.timestamp() or rng.random() < 0.02:
                yield (i, metric, 1, policy, target, at(t), at(due), "running", None, None)
            elif t + took <= due:
                yield (i, metric, 1, policy, target, at(t), at(due), "met", at(t + took), None)
            else:
                yield (i, metric, 1, policy, target, at(t), at(due), "breached", at(t + took), at(due))


def signals(rng: random.Random, created: list[float]) -> Iterator[tuple[Any, ...]]:
    kinds = ("cancel_intent", "refund_request", "data_export", "competitor_mention", "billing_change")
    for ticket_id in sorted(rng.sample(range(1, TICKETS + 1), SIGNALS)):
        yield ticket_id, rng.choice(kinds), "subject", "please cancel my account", at(created[ticket_id - 1])


def saves(rng: random.Random, created: list[float]) -> Iterator[tuple[Any, ...]]:
    for ticket_id in sorted(rng.sample(range(1, TICKETS + 1), SAVES)):
        saved = created[ticket_id - 1] + 3600
        amount, currency = rng.choice((4900, 9900, 19900)), rng.choice(("USD", "EUR"))
        decided = saved + 60 * 86400 < NOW.timestamp() - START.timestamp()
        outcome = rng.choice(("held", "held", "lost")) if decided else "pending"
        verified = at(saved + 60 * 86400 + 600) if decided else None
        yield (ticket_id, rng.randint(1, CUSTOMERS), "tag", amount, currency, "month", amount, amount * 12,
               at(saved), at(saved + 60 * 86400), outcome, verified, at(saved), at(saved))  # fmt: skip


def followups(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Most follow-ups are done within days; the unfinished ones are recent, a few of them overdue."""
    recent = YEAR - 21 * 86400
    for n, t in enumerate(sorted(rng.uniform(0, YEAR) for _ in range(FOLLOWUPS))):
        state = rng.choices(("done", "cancelled", "sent", "due", "pending"), (80, 5, 7, 5, 3))[0]
        if t < recent and state in ("sent", "due", "pending"):
            state = "done"
        done = at(t + rng.uniform(3600, 4 * 86400)) if state == "done" else None
        sent = at(t + 900) if state in ("sent", "done") else None
        yield (rng.randint(1, 100), rng.randint(1, TICKETS), n, state, at(t), at(t + 600), at(t + 600 + 28800),
               at(t), sent, done, at(t + 7200) if state == "cancelled" else None)  # fmt: skip


def load(engine: Engine, seed: int = 47) -> dict[str, int]:
    rng = random.Random(seed)
    # rows arrive in time order, as a help desk sends them: a week's tickets share pages (realistic locality)
    created = sorted(rng.uniform(0, YEAR) for _ in range(TICKETS))
    ticket_cols = ["source", "external_id", "status", "tags", "custom_fields", "customer_id", "created_at",
                   "updated_at", "first_seen_at", "is_complaint", "complaint_category", "complaint_evidence",
                   "complaint_source"]  # fmt: skip
    loaded = {
        "customers": copy_rows(
            engine,
            "customers",
            [
                "key",
                "email",
                "name",
                "status",
                "mrr_minor",
                "currency",
                "plan",
                "created_at",
                "updated_at",
                "cancelled_at",
            ],
            customers(rng),
        ),  # fmt: skip
        "tickets": copy_rows(engine, "tickets", ticket_cols, tickets(rng, created)),
    }
    with engine.connect() as conn:
        complaint_ids = list(conn.execute(text("SELECT id FROM tickets WHERE is_complaint ORDER BY id")).scalars())
    loaded["complaint_states"] = copy_rows(
        engine, "complaint_states", ["ticket_id", "complaint_at"], complaint_states(rng, created, complaint_ids)
    )
    clock_cols = ["ticket_id", "metric", "seq", "policy", "target_minutes", "started_at", "due_at", "state",
                  "stopped_at", "breached_at"]  # fmt: skip
    loaded["tat_clocks"] = copy_rows(engine, "tat_clocks", clock_cols, clocks(rng, created))
    loaded["risk_signals"] = copy_rows(
        engine, "risk_signals", ["ticket_id", "signal", "source", "evidence", "at"], signals(rng, created)
    )
    save_cols = ["ticket_id", "customer_id", "via", "amount_minor", "currency", "interval", "mrr_minor", "arr_minor",
                 "saved_at", "verify_due_at", "outcome", "verified_at", "created_at", "updated_at"]  # fmt: skip
    loaded["saves"] = copy_rows(engine, "saves", save_cols, saves(rng, created))
    issues = ((f"acme/app#{i}", f"acme/app#{i}", "github", "fixed", 1, at(0), at(0)) for i in range(1, 101))
    copy_rows(engine, "issues", ["key", "issue", "tracker", "state", "fix_cycle", "updated_at", "created_at"], issues)
    followup_cols = ["issue_id", "ticket_id", "fix_cycle", "state", "fixed_at", "due_at", "escalate_at",
                     "created_at", "notified_at", "done_at", "cancelled_at"]  # fmt: skip
    loaded["followups"] = copy_rows(engine, "followups", followup_cols, followups(rng))
    # VACUUM ANALYZE, the state autovacuum keeps a production table in (hint bits set, visibility map for
    # index-only scans); a table fresh from COPY would make the first reads write. Only this schema's tables.
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {names}"))
    return loaded


def median_seconds(func: Callable[[], Any]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def captured_statements(engine: Engine, run: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The SQL (as sent to the driver, with its parameters) that ``run`` executes."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def replay(engine: Engine, statements: list[tuple[str, Any]]) -> Callable[[], None]:
    """The baseline: the same statements on one bare psycopg connection, rows fetched, nothing else."""
    raw = engine.raw_connection()

    def run() -> None:
        with raw.cursor() as cursor:
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                if cursor.description is not None:  # SET LOCAL answers no rows
                    cursor.fetchall()
        raw.rollback()

    return run


def sections(session: Session, settings: Any) -> dict[str, float]:
    """Where the time goes: each part of ``week_figures`` alone, in milliseconds."""
    from helpdesk_retain.digest import business, complaints, figures, risk

    zone = settings.digest.timezone
    weeks = [WEEK.shift(k - 7) for k in range(8)]
    bounds = [w.bounds(zone)[0] for w in weeks] + [WEEK.bounds(zone)[1]]
    since, until = bounds[-2], bounds[-1]
    parts: dict[str, Callable[[], Any]] = {
        "at risk": lambda: risk.at_risk(session, settings, until),
        "TAT attainment x 8 weeks": lambda: figures.tat(session, settings, bounds, NOW),
        "first-response percentiles": lambda: business.first_response_stats(session, settings, since, until),
        "tickets and complaints x 8 weeks": lambda: figures.ticket_volume(session, bounds),
        "evidence phrases": lambda: complaints.top_evidence(session, since, until, 8),
        "saves x 8 weeks": lambda: figures.saves_section(session, settings, bounds),
        "follow-ups": lambda: figures.followups(session, since, until),
        "retention": lambda: figures.customer_retention(session, Period(since, until)),
    }
    out = {}
    for name, part in parts.items():
        session.execute(text("SET LOCAL jit = off"))
        times = []
        for _ in range(3):
            started = time.perf_counter()
            part()
            times.append(time.perf_counter() - started)
        session.rollback()
        out[name] = statistics.median(times) * 1000
    return out


def measure(engine: Engine, loaded: dict[str, int], load_seconds: float) -> str:
    settings = settings_from_dict(SETTINGS, environ={})
    with Session(engine) as session:

        def figures() -> dict[str, Any]:
            result = week_figures(session, settings, WEEK, NOW)
            session.rollback()
            return result

        figures()  # warm: calendars, caches, plans
        statements = captured_statements(engine, figures)
        baseline = replay(engine, statements)
        baseline()
        raw_seconds = median_seconds(baseline)
        figure_seconds = median_seconds(figures)
        raw_seconds = min(raw_seconds, median_seconds(baseline))  # measured before and after, the better one
        result = figures_json(figures())
        parts = sections(session, settings)
    render_seconds = median_seconds(lambda: render(result, "en"))
    ratio = figure_seconds / raw_seconds
    ok = figure_seconds < TARGET_SECONDS and ratio <= TARGET_RATIO
    s, t, c = result["saves"], result["tat"], result["complaints"]
    return "\n".join(
        [
            f"loaded {loaded} in {load_seconds:.1f} s",
            f"week {WEEK} (Europe/Berlin): {len(statements)} SQL statements",
            f"raw SQL alone (baseline, same statements on a bare psycopg connection): {raw_seconds * 1000:.0f} ms",
            f"week_figures: {figure_seconds * 1000:.0f} ms median of {RUNS} = {ratio:.2f}x the raw SQL "
            f"{'PASS' if ok else 'FAIL'} (< {TARGET_SECONDS:.0f} s and <= {TARGET_RATIO:.0f}x)",
            "sections (ms, median of 3): " + ", ".join(f"{name} {ms:.0f}" for name, ms in parts.items()),
            f"render (3 charts, HTML with inlined CSS, text): {render_seconds * 1000:.0f} ms (information)",
            f"figures: received {result['tickets']['received']}, complaints {c['count']} "
            f"({c['change_percent']}% vs 4-week average), at risk {result['at_risk']['count']}, saves {s['count']}, "
            f"TAT {t['met']} met / {t['breached']} breached, first response median "
            f"{t['first_response']['median_minutes']} / p90 {t['first_response']['p90_minutes']} business min "
            f"over {t['first_response']['count']}, follow-ups {result['followups']}",
        ]
    )


def run(url: str) -> str:
    schema = f"bench_digest_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(url))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    engine = create_engine(f"{normalize_url(url)}{sep}options={quote(f'-csearch_path={schema}')}")
    try:
        metadata.create_all(engine)
        started = time.perf_counter()
        loaded = load(engine)
        return measure(engine, loaded, time.perf_counter() - started)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def append_readme(report: str, url: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    host = url.split("@")[-1]
    block = f"\n## Weekly digest (`bench/digest.py`, issue 9) — {stamp}, PostgreSQL {host}, {os.cpu_count()} CPUs\n\n"
    with (Path(__file__).parent / "README.md").open("a", encoding="utf-8") as fh:
        fh.write(block + f"```\n{report}\n```\n")


def scale(factor: float) -> None:
    global TICKETS, CUSTOMERS, SIGNALS, SAVES, FOLLOWUPS
    TICKETS, CUSTOMERS, SIGNALS, SAVES, FOLLOWUPS = (
        max(1000, int(n * factor)) for n in (TICKETS, CUSTOMERS, SIGNALS, SAVES, FOLLOWUPS)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("HELPDESK_RETAIN_TEST_DATABASE_URL"))
    parser.add_argument("--no-readme", action="store_true", help="print only; do not append to bench/README.md")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the data (a quick try: 0.05)")
    args = parser.parse_args()
    scale(args.scale)
    if not args.url or not normalize_url(args.url).startswith("postgresql"):
        parser.error("a PostgreSQL URL is needed: --url or $HELPDESK_RETAIN_TEST_DATABASE_URL")
    report = run(args.url)
    print(report)
    if not args.no_readme:
        append_readme(report, args.url)
    return 0 if "FAIL" not in report else 1


if __name__ == "__main__":
    sys.exit(main())
