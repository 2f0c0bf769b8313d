"""The command line: init, token, dead letters, import. Commands run as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk_retain.integrations import PayloadError
from helpdesk_retain.plugins.generic.integration import GenericIntegration
from helpdesk_retain.testing import GENERIC_TEST_SECRET as GENERIC_SECRET
from helpdesk_retain.testing import load_fixture


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpdesk_retain.cli", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "hr.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n[sources.generic]\nplugin = "generic"\nsecret = "{GENERIC_SECRET}"\n'
    )
    return path


def test_init_writes_a_config_prints_secrets_once_and_migrates(tmp_path: Path):
    result = cli("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "whsec_" in result.stdout and "hr_" in result.stdout
    assert (tmp_path / "helpdesk-retain.toml").exists() and (tmp_path / "helpdesk-retain.db").exists()
    again = cli("init", cwd=tmp_path)
    assert again.returncode == 1 and "exists already" in again.stderr


def test_token_create_prints_a_token_that_opens_the_api(config_file: Path, start_server):
    result = cli("token", "create", "ci-bot", "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    server = start_server()
    server.token = token
    assert server.get("/api/tickets").status_code == 200
    server.token = token + "x"
    assert server.get("/api/tickets").status_code == 401
    assert cli("token", "create", "ci-bot", "--config", str(config_file)).returncode == 1


def test_a_dead_letter_replays_after_the_cause_is_fixed(config_file: Path, start_server, monkeypatch):
    server = start_server()

    def broken(self, headers, body):  # noqa: ANN001 - a plugin release with a parse bug
        raise PayloadError("ticket.status: 'new' is not understood by this release")

    with monkeypatch.context() as patch:
        patch.setattr(GenericIntegration, "parse", broken)
        answer = server.post_fixture("generic", "generic", "ticket_created__full")
    assert answer.status_code == 422
    dead_id = answer.json()["dead_letter_id"]
    listed = cli("deadletters", "list", "--config", str(config_file))
    assert f"{dead_id}\tgeneric" in listed.stdout and "not understood" in listed.stdout
    replayed = cli("deadletters", "replay", str(dead_id), "--config", str(config_file))
    assert replayed.returncode == 0, replayed.stderr
    assert f"{dead_id}: processed" in replayed.stdout
    assert server.ticket("generic", "T-100")["subject"] == "Charged twice for November"
    twice = cli("deadletters", "replay", "--all", "--config", str(config_file))
    assert twice.returncode == 0 and "0 dead letter" in cli("deadletters", "list", "--config", str(config_file)).stdout
    assert server.post_fixture("generic", "generic", "ticket_created__full").status_code in (200, 202)


def test_replay_of_a_still_broken_letter_fails_with_exit_1(config_file: Path, server):
    answer = server.post_signed("generic", b"{broken")
    result = cli("deadletters", "replay", str(answer.json()["dead_letter_id"]), "--config", str(config_file))
    assert result.returncode == 1 and "still dead" in result.stdout


def test_import_applies_good_lines_and_reports_bad_ones_with_line_numbers(config_file: Path, tmp_path: Path, server):
    path = tmp_path / "events.jsonl"
    bad = {1234, 5000, 9999}
    with open(path, "w", encoding="utf-8") as fh:
        for n in range(1, 10_001):
            if n == 1234:
                fh.write("{not json\n")
            elif n == 5000:
                fh.write(json.dumps({"event": "ticket.created", "occurred_at": "2026-11-20T09:00:00Z", "ticket": {}}))
                fh.write("\n")
            elif n == 9999:
                fh.write(json.dumps({"event": "ticket.updated", "occurred_at": "yesterday", "ticket": {"id": "x"}}))
                fh.write("\n")
            else:
                event = {
                    "event": "ticket.created",
                    "occurred_at": "2026-11-20T09:00:00Z",
                    "ticket": {
                        "id": f"I-{n}",
                        "subject": f"ticket {n}",
                        "status": "open",
                        "requester": {"email": f"c{n % 50}@example.com"},
                    },
                }
                fh.write(json.dumps(event) + "\n")
    result = cli("import", str(path), "--config", str(config_file))
    assert result.returncode == 1  # some lines failed
    assert "applied 9997, duplicate 0, failed 3" in result.stdout
    rejects = [json.loads(line) for line in (tmp_path / "events.jsonl.rejects.jsonl").read_text().splitlines()]
    assert {r["line"] for r in rejects} == bad
    assert any("ticket.id" in r["error"] for r in rejects)
    assert server.ticket("generic", "I-9998")["subject"] == "ticket 9998"
    again = cli("import", str(path), "--config", str(config_file))
    assert "applied 0, duplicate 9997, failed 3" in again.stdout


def test_import_without_a_generic_source_is_a_usage_error(tmp_path: Path, db_url: str):
    path = tmp_path / "c.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n')
    data = tmp_path / "e.jsonl"
    data.write_bytes(load_fixture("generic", "ticket_created__minimal"))
    assert cli("import", str(data), "--config", str(path)).returncode == 2
