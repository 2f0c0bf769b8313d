"""The body of ``helpdesk-retain digest``: preview files and/or send now (exit codes as in ``cli``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from ..cli import Failure
from ..events import utcnow
from .send import DigestError, delivery_states, send_week
from .weeks import BadWeek, IsoWeek

if TYPE_CHECKING:
    from ..runtime import Runtime


def last_complete_week(now: datetime, zone: str) -> IsoWeek:
    return IsoWeek.of(now.astimezone(ZoneInfo(zone)).date()).shift(-1)


def run_digest_command(rt: Runtime, week_text: str | None, out: Path | None, send_now: bool, force: bool) -> None:
    now = utcnow()
    try:
        week = IsoWeek.parse(week_text) if week_text else last_complete_week(now, rt.settings.digest.timezone)
    except BadWeek as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None
    if out is not None:
        from .preview import write_preview

        for path in write_preview(rt, week, out, now):
            click.echo(f"wrote {path}")
    if send_now:
        _send(rt, week, now, force)


def _send(rt: Runtime, week: IsoWeek, now: datetime, force: bool) -> None:
    from ..notify.delivery import run_due_messages

    try:
        enqueued = send_week(rt, week, now, force=force)
    except DigestError as exc:
        raise click.UsageError(str(exc)) from None
    if not enqueued:
        click.echo(f"digest {week} was sent already; --force sends it again")
        return
    run_due_messages(rt, utcnow())
    states = delivery_states(rt, week)
    click.echo(
        f"digest {week}: {enqueued} message(s) enqueued; " + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    )
    if states.get("failed"):
        raise Failure(f"{states['failed']} digest message(s) failed; the messages table keeps the error (last_error)")
