"""Memory benchmark: peak RSS of a web worker, the scheduler and ``import`` with a million tickets stored.

Run: ``.venv/bin/python bench/memory.py [--tickets 1000000] [--pg URL]``

Targets (the team's brief): a web worker stays under 150 MB RSS and a scheduler under 120 MB with a million
tickets in the database; ``import`` streams its file in constant memory whatever its size.

Builds a database (SQLite by default) with ``--tickets`` tickets of 100,000 customers over 120 days (a log row
each, a complaint with a risk signal on every tenth), then measures, each in a process of its own:

- **baseline**: a Python process that imports Flask, SQLAlchemy and the project and builds the app (the floor
  every process starts from);
- **web**: ``helpdesk-retain web`` (waitress) after 5,000 signed webhooks of ~2 KB (each text tagged), paging
  through ``/api/tickets`` (200 pages), reading tickets
  one by one, ``/metrics``, this week's and last week's ``/api/digest``, and the dashboard pages a lead opens
  (overview, tickets, a search, at risk) logged in; its peak RSS (``VmHWM``);
- **scheduler**: ``helpdesk-retain run-due`` (every job once: the TAT sweep, reminders, save verification and the
  catch-up digest of last week over all those tickets), then ``helpdesk-retain scheduler`` for three sweeps;
- **import**: ``helpdesk-retain import`` of 100,000 and of 300,000 lines into the same database: the ratio of
  the two peaks says whether memory grows with the file (its bounded caches, e.g. 50,000 ticket matters for the
  repeat-contact judgement, fill within the first 100,000 lines; an import of 10,000 lines peaks lower).

Each figure is printed with its ratio to the baseline of the same run (the machine is shared: absolute
numbers drift, the difference to the floor much less).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, insert

ROOT = Path(__file__).parent.parent
CLI = str(Path(sys.executable).parent / "helpdesk-retain")
CUSTOMERS = 100_000
CHUNK = 20_000
WEB_TARGET_MB, SCHEDULER_TARGET_MB = 150, 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, url: str) -> Path:
    days = ("mon", "tue", "wed", "thu", "fri")
    text = f"""
[database]
url = "{url}"

[outbox]
path = "{folder / "outbox"}"

[scheduler]
sweep_seconds = 5

[sources.generic]
plugin = "generic"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

[digest]
recipients = ["lead@example.com"]

[calendars.office]
timezone = "Europe/Berlin"
hours = {{ {", ".join(f'{d} = [["09:00", "17:00"]]' for d in days)} }}

[[tat.policies]]
name = "standard"
calendar = "office"
targets = {{ first_response = 240, resolution = 2400 }}

[web]
secret_key = "bench-secret-key-bench-secret-key"
"""
    path = folder / "helpdesk-retain.toml"
    path.write_text(text)
    return path


def run_cli(config: Path, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [CLI, *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        cwd=config.parent,
    )
    return out.stdout + out.stderr


def fill(url: str, tickets: int) -> float:
    """Bulk rows through SQLAlchemy Core (the tables' own triggers, the FTS index included, run as they do on
    ingest). Returns seconds taken."""
    sys.path.insert(0, str(ROOT))
    from helpdesk_retain.models import Customer, RiskSignal, Ticket, TicketLog

    engine = create_engine(url)
    start, t0 = datetime(2026, 7, 29, tzinfo=UTC), time.perf_counter()
    rnd = random.Random(7)
    with engine.begin() as conn:
        for low in range(0, CUSTOMERS, CHUNK):
            conn.execute(
                insert(Customer.__table__),
                [
                    {
                        "key": f"c{n}@example.com",
                        "email": f"c{n}@example.com",
                        "name": f"Customer {n}",
                        "status": "active",
                        "mrr_minor": rnd.choice((0, 4900, 9900, 49900)),
                        "currency": "USD",
                        "created_at": start - timedelta(days=400),
                    }
                    for n in range(low, min(low + CHUNK, CUSTOMERS))
                ],
            )
    texts = (
        "How do I add a teammate to our workspace?",
        "The export keeps failing since the update and nobody replies. We want a refund.",
        "Invoice for October please",
        "App crashes when I open the dashboard",
    )
    for low in range(0, tickets, CHUNK):
        ids = range(low + 1, min(low + CHUNK, tickets) + 1)
        rows, logs, signals = [], [], []
        for n in ids:
            at = start + timedelta(seconds=n * 120 * 86400 // tickets)
            complaint = n % 10 == 0
            rows.append(
                {
                    "id": n,
                    "source": "generic",
                    "external_id": f"T-{n}",
                    "subject": f"Ticket {n}",
                    "description": texts[1] if complaint else texts[n % 4],
                    "status": "solved" if n % 3 else "open",
                    "priority": "normal",
                    "tags": [],
                    "custom_fields": {},
                    "customer_id": n % CUSTOMERS + 1,
                    "created_at": at,
                    "updated_at": at,
                    "first_seen_at": at,
                    "is_complaint": complaint,
                    "complaint_category": "product_defect" if complaint else None,
                    "complaint_evidence": ["keeps failing"] if complaint else [],
                    "complaint_source": "rules",
                }
            )
            logs.append({"ticket_id": n, "at": at, "kind": "created", "dedupe_key": "created", "status": "open",
                         "priority": "normal", "snapshot": {}})  # fmt: skip
            if complaint:
                signals.append({"ticket_id": n, "signal": "refund_request", "source": "description",
                                "evidence": "We want a refund", "at": at})  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(Ticket.__table__), rows)
            conn.execute(insert(TicketLog.__table__), logs)
            conn.execute(insert(RiskSignal.__table__), signals)
    engine.dispose()
    return time.perf_counter() - t0


def peak_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a live process, in MB, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss / 1024, hwm / 1024


def child_peak_mb(argv: list[str], cwd: Path) -> float:
    """Peak RSS of one short-lived command, in MB (``ru_maxrss`` of a fresh measuring process's only child)."""
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True, cwd=cwd)
    return int(out.stdout.split()[-1]) / 1024


def baseline_mb(config: Path) -> float:
    code = (
        "import sys; from helpdesk_retain.cli import load_runtime; from helpdesk_retain.web_app import build_app;"
        f" build_app(runtime=load_runtime({str(config)!r}))"
    )
    return child_peak_mb([sys.executable, "-c", code], config.parent)


class Web:
    def __init__(self, config: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [CLI, "web", "--config", str(config), "--port", str(self.port)],
            cwd=config.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.cookie = ""
        for _ in range(200):
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("web did not start")

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None) -> tuple:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        hdrs = {**(headers or {}), **({"Cookie": self.cookie} if self.cookie else {})}
        conn.request(method, path, body=body, headers=hdrs)
        response = conn.getresponse()
        data = response.read()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        conn.close()
        return response.status, data

    def get(self, path: str, token: str | None = None) -> tuple:
        return self.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else None)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def post_webhooks(web: Web, count: int) -> None:
    """``count`` signed generic comments of ~2 KB, each text different: the tagger tags every one (its cache of
    recent texts fills as on a busy help desk)."""
    sys.path.insert(0, str(ROOT))
    from helpdesk_retain.integrations import IntegrationConfig
    from helpdesk_retain.plugins.generic.integration import GenericIntegration
    from helpdesk_retain.testing import GENERIC_TEST_SECRET

    integ = GenericIntegration(IntegrationConfig(plugin="generic", secret=GENERIC_TEST_SECRET))
    filler = "Hello team, the export keeps failing since the update and I was charged twice this month. "
    for n in range(count):
        body = json.dumps({
            "event": "comment.created", "occurred_at": "2026-11-25T10:00:00Z",
            "ticket": {"id": f"T-{n % 5000 + 1}", "requester": {"email": f"c{n % CUSTOMERS}@example.com"}},
            "comment": {"id": f"W-{n}", "body": f"{n} " + filler * 22, "public": True, "author_role": "customer"},
        }).encode()  # fmt: skip
        status, data = web.request("POST", "/webhooks/generic", body, integ.sign(body, delivery_id=f"msg_w{n}"))
        assert status == 202, data[:200]


def exercise_web(web: Web, token: str, tickets: int) -> list[str]:
    post_webhooks(web, 5000)
    notes = ["5,000 webhooks"]
    cursor, pages = None, 0
    while pages < 200:
        query = "?limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, body = web.get(f"/api/tickets{query}", token)
        assert status == 200, body[:200]
        cursor, pages = json.loads(body).get("next_cursor"), pages + 1
        if not cursor:
            break
    for n in random.Random(1).sample(range(1, tickets + 1), 500):
        assert web.get(f"/api/tickets/generic/T-{n}", token)[0] == 200
    assert web.get("/metrics")[0] == 200
    for week in ("2026-W48", "2026-W47"):
        status, _ = web.get(f"/api/digest/{week}", token)
        notes.append(f"/api/digest/{week} {status}")
    # the dashboard, logged in as a lead
    status, page = web.request("GET", "/login")
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    form = {"email": "lead@example.com", "password": "bench-password-123"}
    if csrf:
        form["csrf_token"] = csrf.group(1).decode()
    web.request("POST", "/login", urlencode(form), {"Content-Type": "application/x-www-form-urlencoded"})
    for path in ("/", "/tickets", "/tickets?q=export", "/tickets?q=refund&complaint=1", "/at-risk"):
        status, _ = web.request("GET", path)
        notes.append(f"{path} {status}")
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL instead of SQLite (its tables are dropped)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    url = args.pg or f"sqlite:///{folder / 'bench.db'}"
    if args.pg:
        sys.path.insert(0, str(ROOT))
        from helpdesk_retain.models import metadata

        engine = create_engine(args.pg)
        metadata.drop_all(engine)
        engine.dispose()
    config = write_config(folder, url)
    run_cli(config, "migrate")
    took = fill(url, args.tickets)
    print(f"database: {args.tickets:,} tickets, {CUSTOMERS:,} customers ({'PostgreSQL' if args.pg else 'SQLite'}, "
          f"filled in {took:.0f} s)")  # fmt: skip
    token = run_cli(config, "token", "create", "bench").strip().split()[-1]
    run_cli(
        config, "user", "create", "lead@example.com", "--role", "lead", "--password-stdin", stdin="bench-password-123\n"
    )
    base = baseline_mb(config)
    print(f"baseline (Python + Flask + SQLAlchemy + the app built): peak {base:.0f} MB")

    web = Web(config)
    try:
        notes = exercise_web(web, token, args.tickets)
        now, peak = peak_mb(web.proc.pid)
    finally:
        web.stop()
    verdict = "met" if peak < WEB_TARGET_MB else "MISSED"
    print(f"web worker: peak {peak:.0f} MB (now {now:.0f} MB), {peak / base:.2f}x baseline "
          f"(target < {WEB_TARGET_MB} MB: {verdict}) [{'; '.join(notes)}]")  # fmt: skip

    # the scheduler catches up last week's digest (over all those tickets) on its first sweep, then sweeps on
    sched = subprocess.Popen([CLI, "scheduler", "--config", str(config)], cwd=folder, stderr=subprocess.DEVNULL)
    started, sent = time.monotonic(), None
    try:
        while time.monotonic() - started < 600 and sent is None:
            time.sleep(1)
            sent = next((folder / "outbox").glob("*.eml"), None) if (folder / "outbox").exists() else None
        time.sleep(11)  # two more sweeps at 5 s
        now, peak = peak_mb(sched.pid)
    finally:
        sched.terminate()
        sched.wait(timeout=60)
    digest = f"digest sent after {time.monotonic() - started - 11:.0f} s" if sent else "NO digest sent"
    due = child_peak_mb([CLI, "run-due", "--config", str(config)], folder)
    verdict = "met" if peak < SCHEDULER_TARGET_MB else "MISSED"
    print(f"scheduler process: peak {peak:.0f} MB (now {now:.0f} MB; {digest}), {peak / base:.2f}x baseline "
          f"(target < {SCHEDULER_TARGET_MB} MB: {verdict}); run-due (every job once, in a CLI process) peak "
          f"{due:.0f} MB")  # fmt: skip

    peaks = []
    for lines in (100_000, 300_000):
        path = folder / f"import-{lines}.jsonl"
        with open(path, "w") as fh:
            for n in range(lines):
                event = {"event": "ticket.created", "occurred_at": "2026-11-20T10:00:00Z",
                         "ticket": {"id": f"I{lines}-{n}", "subject": "Imported", "description": "Export fails again",
                                    "requester": {"email": f"c{n % CUSTOMERS}@example.com"}}}  # fmt: skip
                fh.write(json.dumps(event) + "\n")
        argv = [CLI, "import", str(path), "--config", str(config), "--source", "generic"]
        peaks.append(child_peak_mb(argv, folder))
    print(f"import: 100,000 lines peak {peaks[0]:.0f} MB, 300,000 lines peak {peaks[1]:.0f} MB: "
          f"ratio {peaks[1] / peaks[0]:.2f} (constant memory: ~1.0)")  # fmt: skip


if __name__ == "__main__":
    main()
