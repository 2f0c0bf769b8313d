"""``helpdesk-retain digest --out DIR``: the week's digest as files, without sending or recording anything.

Writes ``<week>.eml`` (the MIME message exactly as the digest's channel would build it, when that channel's
notifier can build one), ``<week>.html`` (charts as ``data:`` URLs, so it opens in a browser) and
``<week>.txt`` (the plain-text alternative). Nothing is written to the database.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from pathlib import Path
from typing import TYPE_CHECKING

from ..notify.contract import OutboundMessage
from .render import Rendered
from .send import compose
from .weeks import IsoWeek

if TYPE_CHECKING:
    from ..runtime import Runtime

PREVIEW_RECIPIENT = "digest-preview@localhost"


def outbound(rendered: Rendered, recipient: str, now: datetime) -> OutboundMessage:
    return OutboundMessage(
        uid=f"digest-{rendered.week.lower()}-preview",
        kind="digest",
        channel="preview",
        recipient=recipient,
        subject=rendered.subject,
        text=rendered.text,
        created_at=now,
        html=rendered.html,
        images=rendered.images,
    )


def write_preview(runtime: Runtime, week: IsoWeek, out: Path, now: datetime) -> list[Path]:
    """Write the preview files into ``out`` (created if missing); returns their paths."""
    from ..notify.channels import notifiers

    rendered = compose(runtime, week, now)[1]
    out.mkdir(parents=True, exist_ok=True)
    stem = out / str(week)
    paths = [stem.with_suffix(".html"), stem.with_suffix(".txt")]
    paths[0].write_text(rendered.html_standalone(), encoding="utf-8")
    paths[1].write_text(rendered.text, encoding="utf-8")
    notifier = notifiers(runtime).get(runtime.settings.digest.channel)
    build = getattr(notifier, "build", None)  # the email notifier's MIME builder: one source of the structure
    if build is not None:
        recipient = ", ".join(runtime.settings.digest.recipients) or PREVIEW_RECIPIENT
        eml = stem.with_suffix(".eml")
        built = build(outbound(rendered, recipient, now))  # the wire bytes, or an email.message.Message
        eml.write_bytes(built if isinstance(built, bytes) else built.as_bytes(policy=policy.SMTP))
        paths.insert(0, eml)
    return paths
