"""Follow-up delivery benchmark (issue 8): 10,000 due reminders claimed and handed to a local SMTP server.

Run: ``.venv/bin/python bench/followups.py [--n 10000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]``
(``--pg`` defaults to ``$HELPDESK_RETAIN_TEST_DATABASE_URL``; without either, SQLite only).

The SMTP server is aiosmtpd in its own process (so it does not share the sender's GIL), counting what it
accepts. Per database, in one run:

- setup (untimed): 10,000 tickets, each with its own assignee, linked to one fixed issue; 10,000 pending
  follow-ups due now, moved to ``due`` by ``run_due_reminders``;
- ``run_due_notifications``: claim the due follow-ups, render one reminder per agent, enqueue 10,000 messages;
- baseline 1: bare ``smtplib`` — the same 10,000 MIME messages, rendered beforehand, sent over one connection
  (pure transport: what the SMTP exchange alone allows);
- baseline 2: bare ``smtplib`` rendering each of them with the same stdlib MIME code, then sending it (the same
  work as the notifier without any database: the difference to it is the cost of claiming and recording);
- ``run_due_messages``: claim the messages in batches (conditional UPDATE, committed), render and send each
  over one connection, record the batch's outcomes. Target: >= 500 messages/s.

Prints messages/s of each and the ratios of ``run_due_messages`` to both baselines.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, insert, select, text

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk_retain.config import settings_from_dict  # noqa: E402
from helpdesk_retain.db import session_scope  # noqa: E402
from helpdesk_retain.followups import run_due_reminders  # noqa: E402
from helpdesk_retain.models import Customer, Ticket, metadata  # noqa: E402
from helpdesk_retain.models.followups import FollowUp  # noqa: E402
from helpdesk_retain.models.links import Issue  # noqa: E402
from helpdesk_retain.models.messages import Message  # noqa: E402
from helpdesk_retain.notify.contract import OutboundMessage  # noqa: E402
from helpdesk_retain.notify.delivery import run_due_messages  # noqa: E402
from helpdesk_retain.notify.outbox import to_outbound  # noqa: E402
from helpdesk_retain.notify.producers import run_due_notifications  # noqa: E402
from helpdesk_retain.plugins.email.notifier import build_mime, to_bytes  # noqa: E402
from helpdesk_retain.runtime import Runtime, build_runtime  # noqa: E402
from helpdesk_retain.testing import free_port, wait_until  # noqa: E402

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SENDER = "helpdesk-retain@localhost"


def serve_smtp(port: int, count: Any, ready: Any) -> None:
    """The SMTP server process: aiosmtpd accepting every message and counting it."""
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def seed(rt: Runtime, n: int) -> None:
    """n tickets (one assignee each) linked to one fixed issue, with a pending follow-up due now each."""
    with rt.engine.begin() as conn:
        issue = {"tracker": "github", "key": "acme/app#123", "issue": "acme/app#123", "title": "Duplicate charge",
                 "url": "https://github.com/acme/app/issues/123", "state": "fixed", "fix_cycle": 1}  # fmt: skip
        conn.execute(insert(Issue).values(**issue, fixed_at=NOW, updated_at=NOW, created_at=NOW))
        conn.execute(insert(Customer), [
            {"key": f"c{i}@example.com", "email": f"c{i}@example.com", "name": f"Customer {i}", "created_at": NOW}
            for i in range(n)
        ])  # fmt: skip
        conn.execute(insert(Ticket), [
            {"source": "zendesk", "external_id": str(10_000 + i), "subject": f"Charged twice ({i})",
             "url": f"https://acme.zendesk.com/agent/tickets/{10_000 + i}", "status": "open",
             "customer_id": i + 1, "assignee_email": f"agent{i}@example.com", "tags": [], "custom_fields": {},
             "complaint_evidence": [], "created_at": NOW, "updated_at": NOW, "first_seen_at": NOW}
            for i in range(n)
        ])  # fmt: skip
        conn.execute(insert(FollowUp), [
            {"issue_id": 1, "ticket_id": i + 1, "customer_id": i + 1, "fix_cycle": 1, "state": "pending",
             "fixed_at": NOW - timedelta(hours=1), "due_at": NOW - timedelta(minutes=1), "created_at": NOW}
            for i in range(n)
        ])  # fmt: skip


def timed(func: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    done = func()
    return time.perf_counter() - start, done


def outbound_messages(rt: Runtime) -> list[OutboundMessage]:
    """The enqueued messages as the notifier receives them, loaded before the clock starts."""
    with session_scope(rt.sessions) as session:
        return [to_outbound(row) for row in session.execute(select(Message).order_by(Message.id)).scalars()]


def bare_smtplib(port: int, messages: list[tuple[str, bytes]]) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for recipient, data in messages:
            client.sendmail(SENDER, [recipient], data)
    return len(messages)


def bare_smtplib_rendering(port: int, messages: list[OutboundMessage]) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for message in messages:
            client.sendmail(SENDER, [message.recipient], to_bytes(build_mime(message, SENDER)))
    return len(messages)


def run_database(label: str, url: str, n: int, port: int, count: Any) -> None:
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    rt = build_runtime(settings_from_dict({"database": {"url": url}, "smtp": {"host": "127.0.0.1", "port": port}}))
    try:
        seed(rt, n)
        assert run_due_reminders(rt, NOW) == n
        produce_s, enqueued = timed(lambda: run_due_notifications(rt, NOW))
        assert enqueued == n, enqueued
        outbound = outbound_messages(rt)
        rendered = [(m.recipient, to_bytes(build_mime(m, SENDER))) for m in outbound]
        before = count.value
        bare_s, _ = timed(lambda: bare_smtplib(port, rendered))
        rendering_s, _ = timed(lambda: bare_smtplib_rendering(port, outbound))
        assert wait_until(lambda: count.value == before + 2 * n, 30)
        deliver_s, handled = timed(lambda: run_due_messages(rt, NOW))
        assert handled == n and wait_until(lambda: count.value == before + 3 * n, 30)
        with session_scope(rt.sessions) as session:
            assert session.query(Message).filter(Message.state == "sent").count() == n
    finally:
        rt.close()
    rows = [
        ("run_due_notifications (claim, render, enqueue)", produce_s),
        ("baseline 1: bare smtplib, pre-rendered messages", bare_s),
        ("baseline 2: bare smtplib, rendering each", rendering_s),
        ("run_due_messages (claim, render, send, record)", deliver_s),
    ]
    print(f"\n{label}: {n:,} due reminders, one per agent (load average {os.getloadavg()[0]:.1f})")
    for name, seconds in rows:
        print(f"  {name:50s} {n / seconds:7,.0f} messages/s  ({seconds:.2f} s)")
    print(f"  run_due_messages / baseline 1                      {bare_s / deliver_s:7.2f}")
    print(f"  run_due_messages / baseline 2                      {rendering_s / deliver_s:7.2f}")
    print(f"  target >= 500 messages/s: {'met' if n / deliver_s >= 500 else 'NOT met'}")


def pg_schema_url(base: str) -> tuple[str, Callable[[], None]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--pg", default=os.environ.get("HELPDESK_RETAIN_TEST_DATABASE_URL"))
    args = parser.parse_args()
    port, count, ready = free_port(), multiprocessing.Value("i", 0), multiprocessing.Event()
    server = multiprocessing.Process(target=serve_smtp, args=(port, count, ready), daemon=True)
    server.start()
    try:
        assert ready.wait(30), "SMTP server did not start"
        with tempfile.TemporaryDirectory() as folder:
            run_database("SQLite", f"sqlite:///{folder}/bench.db", args.n, port, count)
        if args.pg:
            url, drop = pg_schema_url(args.pg)
            try:
                run_database("PostgreSQL", url, args.n, port, count)
            finally:
                drop()
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
