"""Sending the digest: one email per recipient and week through a real SMTP server, rendered in Chromium,
exactly once with two schedulers and after downtime; the ``digest`` command's preview and send."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.digest import send as digest_send
from helpdesk_retain.digest.render import render
from helpdesk_retain.digest.send import run_due_digest, send_week
from helpdesk_retain.models.digest import Digest
from helpdesk_retain.models.messages import Message
from helpdesk_retain.notify.delivery import run_due_messages
from helpdesk_retain.runtime import Runtime, build_runtime
from helpdesk_retain.scheduler import sweep_jobs
from helpdesk_retain.testing import SmtpSink, wait_until
from tests.conftest import IN_CI, requires_postgres
from tests.test_digest_figures import DIGEST_EXTRA, NOW, W47, berlin, figures_of, seed_week

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RECIPIENTS = DIGEST_EXTRA["digest"]["recipients"]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_runtime(make_settings: Any, smtp: SmtpSink) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(extra={**DIGEST_EXTRA, "smtp": smtp.settings()}))
    yield rt
    rt.close()


def seed(rt: Runtime) -> Runtime:
    with session_scope(rt.sessions) as session:
        seed_week(session)
    return rt


def received(smtp: SmtpSink, count: int) -> list[EmailMessage]:
    assert wait_until(lambda: len(smtp.received) >= count), len(smtp.received)
    return [email.message_from_bytes(m.raw, policy=policy.default) for m in smtp.received]  # type: ignore[misc]


def digests(rt: Runtime) -> list[tuple[str, int]]:
    with session_scope(rt.sessions) as session:
        return [tuple(r) for r in session.execute(select(Digest.week, Digest.sends).order_by(Digest.week))]


def digest_keys(rt: Runtime) -> list[str]:
    with session_scope(rt.sessions) as session:
        stmt = select(Message.dedupe_key).where(Message.kind == "digest").order_by(Message.dedupe_key)
        return list(session.execute(stmt).scalars())


def test_the_digest_job_is_a_registered_sweep_job():
    assert ("digest", run_due_digest) in sweep_jobs()


def test_each_recipient_receives_one_multipart_alternative_mail_with_html_text_and_charts(mail_runtime, smtp):
    seed(mail_runtime)
    assert send_week(mail_runtime, W47, NOW) == 2
    run_due_messages(mail_runtime, NOW)
    mails = received(smtp, 2)
    assert sorted(r for m in smtp.received for r in m.rcpt_tos) == sorted(RECIPIENTS)
    for mail in mails:
        assert mail.get_content_type() == "multipart/alternative"
        assert mail["Subject"] == "Week 47: 2 saves (USD 49 + EUR 10 MRR), TAT 60%"
        plain, related = mail.get_payload()
        assert (plain.get_content_type(), related.get_content_type()) == ("text/plain", "multipart/related")
        assert "2 customers saved" in plain.get_content()
        html, *images = related.get_payload()
        assert html.get_content_type() == "text/html"
        assert [i.get_content_type() for i in images] == ["image/png"] * 3
        for image in images:
            assert image.get_content().startswith(b"\x89PNG")
            assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html.get_content()
    time.sleep(0.2)  # nothing else arrives
    assert len(smtp.received) == 2


def html_with_inline_images(mail: EmailMessage) -> str:
    """What a mail client shows: the HTML part with each ``cid:`` resolved to its related image."""
    import base64

    _, second = mail.get_payload()
    html, *images = second.get_payload() if second.get_content_type() == "multipart/related" else [second]
    page = html.get_content()
    for image in images:
        data = base64.b64encode(image.get_content()).decode()
        page = page.replace(f"cid:{image['Content-ID'].strip('<>')}", f"data:image/png;base64,{data}")
    return page


def screenshot(html: str, name: str) -> dict[str, Any]:
    """Render ``html`` in headless Chromium at a mail client's width, save a full-page screenshot."""
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 720, "height": 900})
            page.set_content(html, wait_until="load")
            page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            return page.evaluate(
                """() => ({
                    title: document.title,
                    text: document.body.innerText,
                    images: Array.from(document.images).map(i => i.complete && i.naturalWidth > 0),
                    overflow: document.documentElement.scrollWidth > window.innerWidth,
                })"""
            )
        finally:
            browser.close()


def test_the_received_html_renders_in_headless_chromium(mail_runtime, smtp):
    seed(mail_runtime)
    send_week(mail_runtime, W47, NOW)
    run_due_messages(mail_runtime, NOW)
    mail = received(smtp, 2)[0]
    shown = screenshot(html_with_inline_images(mail), "digest-2026-W47-en.png")
    assert shown["title"] == mail["Subject"]
    assert shown["images"] == [True, True, True] and not shown["overflow"]
    assert shown["text"].index("2 customers saved") < shown["text"].index("Complaints")
    zh = render(figures_of(mail_runtime), "zh-Hans").html_standalone()
    shown = screenshot(zh, "digest-2026-W47-zh-Hans.png")
    assert "挽回 2 位客户" in shown["text"] and all(shown["images"])


def test_an_empty_week_is_sent_as_a_calm_digest(mail_runtime, smtp):
    assert send_week(mail_runtime, W47, NOW) == 2
    run_due_messages(mail_runtime, NOW)
    mail = received(smtp, 2)[0]
    assert mail["Subject"] == "Week 47: no saves"
    plain, html = mail.get_payload()
    assert "No complaints this week." in plain.get_content()
    assert html.get_content_type() == "text/html"  # no related images: no chart of nothing
    assert "No complaints this week." in screenshot(html_with_inline_images(mail), "digest-empty-en.png")["text"]


def test_the_job_sends_the_due_week_once_and_after_downtime_only_the_newest_missed_week(mail_runtime):
    monday = berlin(11, 23, 8, 30)
    assert run_due_digest(mail_runtime, monday) == 2
    assert run_due_digest(mail_runtime, monday + timedelta(minutes=1)) == 0
    assert run_due_digest(mail_runtime, monday + timedelta(days=3)) == 0
    later = berlin(12, 16, 15)  # three weeks of downtime: W48 and W49 are not sent late
    assert run_due_digest(mail_runtime, later) == 2
    assert run_due_digest(mail_runtime, later) == 0
    assert digests(mail_runtime) == [("2026-W47", 1), ("2026-W50", 1)]
    assert digest_keys(mail_runtime) == sorted(f"digest:{w}:{r}" for w in ("2026-W47", "2026-W50") for r in RECIPIENTS)


def test_a_week_is_sent_again_only_when_forced(mail_runtime, smtp):
    assert send_week(mail_runtime, W47, NOW) == 2
    assert send_week(mail_runtime, W47, NOW) == 0
    assert send_week(mail_runtime, W47, NOW, force=True) == 2
    assert digests(mail_runtime) == [("2026-W47", 2)]
    assert sum(k.endswith("#2") for k in digest_keys(mail_runtime)) == 2
    run_due_messages(mail_runtime, NOW)
    assert len(received(smtp, 4)) == 4


def test_a_failed_render_is_recorded_and_retried_later_not_on_every_tick(mail_runtime, monkeypatch):
    monday = berlin(11, 23, 8, 30)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("template exploded")

    monkeypatch.setattr(digest_send, "render", broken)
    with pytest.raises(RuntimeError):
        run_due_digest(mail_runtime, monday)
    with session_scope(mail_runtime.sessions) as session:
        row = session.execute(select(Digest)).scalar_one()
        assert (row.claimed_at, row.error, row.retry_at) == (
            None,
            "RuntimeError: template exploded",
            monday + digest_send.RETRY_AFTER,
        )  # noqa: E501
    monkeypatch.undo()
    assert run_due_digest(mail_runtime, monday + timedelta(minutes=1)) == 0
    assert run_due_digest(mail_runtime, monday + digest_send.RETRY_AFTER) == 2
    assert digest_keys(mail_runtime) == sorted(f"digest:2026-W47:{r}" for r in RECIPIENTS)


SCHEDULER = """
import sys, time
from datetime import datetime
from helpdesk_retain.config import load_settings
from helpdesk_retain.digest.send import run_due_digest
from helpdesk_retain.runtime import build_runtime
rt = build_runtime(load_settings(sys.argv[1]))
rt.engine.connect().close()
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(run_due_digest(rt, datetime.fromisoformat(sys.argv[3])))
"""


def config_toml(tmp_path: Path, db_url: str, smtp: SmtpSink | None = None) -> Path:
    lines = [
        f"[database]\nurl = {json.dumps(db_url)}\n",
        f"[outbox]\npath = {json.dumps(str(tmp_path / 'outbox'))}\n",
        f'[digest]\ntimezone = "Europe/Berlin"\nrecipients = {json.dumps(RECIPIENTS)}\n',
        '[calendars.support]\ntimezone = "Europe/Berlin"\n',
        '[[tat.policies]]\nname = "standard"\ncalendar = "support"\ntargets = { first_response = 60 }\n',
    ]
    if smtp is not None:
        lines.append(f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\n')
    path = tmp_path / "digest.toml"
    path.write_text("\n".join(lines))
    return path


def test_two_scheduler_processes_on_postgresql_send_one_digest_per_week(mail_runtime, db_url, tmp_path):
    requires_postgres()
    config = config_toml(tmp_path, db_url)
    start = time.time() + 4  # both processes import first, then race for the claim at the same instant
    now = berlin(11, 23, 8, 30).isoformat()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCHEDULER, str(config), str(start), now],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(3)
    ]
    counts = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        counts.append(int(out.strip().splitlines()[-1]))
    assert sorted(counts) == [0, 0, 2]
    assert digests(mail_runtime) == [("2026-W47", 1)]
    assert digest_keys(mail_runtime) == sorted(f"digest:2026-W47:{r}" for r in RECIPIENTS)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helpdesk_retain.cli", *args], capture_output=True, text=True)


def test_the_digest_command_writes_a_preview_without_sending_anything(mail_runtime, db_url, tmp_path):
    seed(mail_runtime)
    out = tmp_path / "preview"
    result = cli("digest", "--config", str(config_toml(tmp_path, db_url)), "--week", "2026-W47", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["2026-W47.eml", "2026-W47.html", "2026-W47.txt"]
    mail = email.message_from_bytes((out / "2026-W47.eml").read_bytes(), policy=policy.default)
    assert mail.get_content_type() == "multipart/alternative" and mail["To"] == ", ".join(RECIPIENTS)
    assert "data:image/png;base64," in (out / "2026-W47.html").read_text()
    assert "2 customers saved" in (out / "2026-W47.txt").read_text()
    assert (digests(mail_runtime), digest_keys(mail_runtime)) == ([], [])


def test_the_digest_command_sends_once_unless_forced(mail_runtime, db_url, tmp_path, smtp):
    config = str(config_toml(tmp_path, db_url, smtp))
    first = cli("digest", "--config", config, "--week", "2026-W47", "--send")
    assert first.returncode == 0, first.stderr
    assert "2 message(s) enqueued; sent 2" in first.stdout
    again = cli("digest", "--config", config, "--week", "2026-W47", "--send")
    assert again.returncode == 0 and "sent already" in again.stdout
    forced = cli("digest", "--config", config, "--week", "2026-W47", "--send", "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(received(smtp, 4)) == 4


@pytest.mark.parametrize(
    "args",
    [["--week", "2026-W47"], ["--week", "2026-W47", "--force", "--out"], ["--week", "2025-W53", "--out"]],
)
def test_the_digest_command_refuses_bad_usage_with_exit_code_2(db_url, tmp_path, args):
    args = [*args, str(tmp_path / "out")] if args[-1] == "--out" else args
    result = cli("digest", "--config", str(config_toml(tmp_path, db_url)), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert not (tmp_path / "out").exists()


def test_the_current_week_is_not_due_before_it_ends(mail_runtime):
    sunday = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)  # Sunday 23:00 Berlin: W48 still running
    assert run_due_digest(mail_runtime, sunday) == 2
    assert digests(mail_runtime) == [("2026-W47", 1)]
