"""The scheduler runs alone, catches up once at start, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpdesk_retain.db import session_scope
from helpdesk_retain.inbox import run_due_purge
from helpdesk_retain.models import Delivery
from helpdesk_retain.testing import GENERIC_TEST_SECRET


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "hr.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n[sources.generic]\nplugin = "generic"\nsecret = "{GENERIC_TEST_SECRET}"\n'
    )
    return path


def test_the_scheduler_exits_cleanly_on_sigterm(config_file: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpdesk_retain.cli", "scheduler", "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert "scheduler running" in proc.stderr.readline()
    time.sleep(0.5)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err


def test_run_due_once_runs_every_job_and_exits(config_file: Path):
    result = subprocess.run(
        [sys.executable, "-m", "helpdesk_retain.cli", "run-due", "--once", "--config", str(config_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "purge_inbox: 0" in result.stdout


def test_processed_bodies_are_purged_after_the_configured_days_but_dead_letters_stay(server, runtime):
    server.post_fixture("generic", "generic", "ticket_created__minimal")
    dead = server.post_signed("generic", b"{broken").json()["dead_letter_id"]
    later = datetime.now(UTC) + timedelta(days=runtime.settings.inbox.purge_processed_after_days + 1)
    assert run_due_purge(runtime, later) == 1
    assert run_due_purge(runtime, later) == 0
    with session_scope(runtime.sessions) as session:
        rows = {r.id: r for r in session.query(Delivery)}
        assert rows[dead].body == b"{broken"
        assert all(r.body is None for r in rows.values() if r.id != dead)
