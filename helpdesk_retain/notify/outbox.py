"""Enqueueing outbound messages, and turning a stored row back into what a notifier receives.

``enqueue`` runs in the caller's transaction, so a producer claims its source rows and enqueues their
messages atomically; the unique ``dedupe_key`` makes a second enqueue of the same thing a no-op.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ..models.messages import Message
from ..sqlutil import insert_ignore
from .contract import InlineImage, OutboundMessage, PermanentError

MESSAGES = Message.__table__


def enqueue(
    session: Session,
    *,
    dedupe_key: str,
    kind: str,
    channel: str,
    recipient: str,
    subject: str,
    text: str,
    now: datetime,
    html: str | None = None,
    images: Sequence[InlineImage] = (),
    blocks: Sequence[Mapping[str, Any]] = (),
    data: Mapping[str, Any] | None = None,
) -> int | None:
    """Insert a pending message due at ``now``; returns its id, or None when ``dedupe_key`` exists already.

    ``dedupe_key`` names the thing said to whom, e.g. ``reminder:41:email:sam@example.com`` or
    ``digest:2026-W47:email:lead@example.com``. Images travel base64-encoded in the row.
    """
    payload: dict[str, Any] = {"text": text}
    if html is not None:
        payload["html"] = html
    if images:
        payload["images"] = [image.to_json() for image in images]
    if blocks:
        payload["blocks"] = list(blocks)
    if data:
        payload["data"] = dict(data)
    values = {
        "kind": kind,
        "channel": channel,
        "recipient": recipient,
        "subject": subject,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    return insert_ignore(session, MESSAGES, values, ["dedupe_key"])


def message_uid(row_id: int, dedupe_key: str) -> str:
    """Stable across retries and unique per row: ``msg_<id>_<hash of the dedupe key>``."""
    return f"msg_{row_id}_{hashlib.sha256(dedupe_key.encode()).hexdigest()[:16]}"


def load_image(spec: Mapping[str, Any]) -> InlineImage:
    """An image stored as ``{"cid", "content_type", "base64"}`` or ``{"cid", "content_type", "path"}``."""
    try:
        data = base64.b64decode(spec["base64"]) if "base64" in spec else Path(spec["path"]).read_bytes()
        return InlineImage(cid=spec["cid"], content_type=spec.get("content_type", "image/png"), data=data)
    except (KeyError, OSError, ValueError) as exc:
        raise PermanentError(f"inline image {spec.get('cid')!r} unreadable: {exc}") from exc


def to_outbound(row: Any) -> OutboundMessage:
    """A ``messages`` row (ORM object or result row) as the notifier receives it."""
    payload: Mapping[str, Any] = row.payload or {}
    return OutboundMessage(
        uid=message_uid(row.id, row.dedupe_key),
        kind=row.kind,
        channel=row.channel,
        recipient=row.recipient,
        subject=row.subject,
        text=str(payload.get("text", "")),
        created_at=row.created_at,
        html=payload.get("html"),
        images=tuple(load_image(spec) for spec in payload.get("images", ())),
        blocks=tuple(payload.get("blocks", ())),
        data=payload.get("data") or {},
    )
