"""``helpdesk-retain import FILE.jsonl``: generic events, one per line, through the same apply code.

Streams the file (constant memory whatever its size), applies lines in batches of ``batch_size`` per
transaction, and keys each line in the inbox on the hash of its bytes, so importing a file twice
applies it once. A line that cannot be parsed or applied goes to the reject file with its line number
and the reason; the rest of its batch is applied line by line with a savepoint each.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session
from tqdm import tqdm

from .db import session_scope
from .events import Event, utcnow
from .inbox import Pending, inbox_row
from .ingest import Context, apply_events, finish_apply, preload
from .integrations import Integration, IntegrationError, UnsupportedEvent
from .models import Delivery
from .runtime import Runtime
from .sqlutil import DEFERRED_PREFIX, insert_ignore, insert_ignore_many
from .warmup import settled

log = logging.getLogger(__name__)

#: lines per transaction: each batch reads its tickets, customers and repeat-contact windows once, so larger
#: batches cost less an event (2,000 against 500: ~5% faster, ~14 MB more held while a batch is applied)
DEFAULT_BATCH = 2000


@dataclass
class ImportSummary:
    applied: int = 0
    duplicate: int = 0
    failed: int = 0
    ignored: int = 0


@dataclass
class Line:
    number: int
    key: str
    events: list[Event]


def import_file(
    rt: Runtime, path: Path, source: str, reject_path: Path, *, batch_size: int = DEFAULT_BATCH, progress: bool = True
) -> ImportSummary:
    summary = ImportSummary()
    integration = rt.integrations[source]
    size = path.stat().st_size
    with (
        settled(rt),  # the rules built and out of the garbage collector's walks for the import's length
        open(path, "rb") as fh,
        open(reject_path, "w", encoding="utf-8") as rejects,
        tqdm(total=size, unit="B", unit_scale=True, disable=not progress, desc="import") as bar,
    ):
        batch: list[Line] = []
        for number, raw in enumerate(fh, start=1):
            bar.update(len(raw))
            line = _parse_line(integration, number, raw, summary, rejects)
            if line is not None:
                batch.append(line)
            if len(batch) >= batch_size:
                _apply_batch(rt, source, batch, summary, rejects)
                batch = []
        if batch:
            _apply_batch(rt, source, batch, summary, rejects)
    return summary


def _reject(rejects: IO[str], number: int, reason: str) -> None:
    rejects.write(json.dumps({"line": number, "error": reason}, ensure_ascii=False) + "\n")


def _parse_line(
    integration: Integration, number: int, raw: bytes, summary: ImportSummary, rejects: IO[str]
) -> Line | None:
    text = raw.strip()
    if not text:
        return None
    try:
        # lines are bodies of the source's own format; there are no headers and no signature to check
        events = integration.parse({}, text)
    except UnsupportedEvent as exc:
        summary.ignored += 1
        log.info("line %d ignored: %s", number, exc)
        return None
    except (ValueError, IntegrationError) as exc:
        summary.failed += 1
        _reject(rejects, number, str(exc))
        return None
    except Exception as exc:  # a parser's own bug fails its line, not the import
        log.exception("line %d: parsing failed", number)
        summary.failed += 1
        _reject(rejects, number, f"parse failed: {exc!r}")
        return None
    return Line(number, "import:" + hashlib.sha256(text).hexdigest(), events)


def _apply_batch(rt: Runtime, source: str, batch: list[Line], summary: ImportSummary, rejects: IO[str]) -> None:
    try:
        with session_scope(rt.sessions) as session:
            row_ids = _record_deliveries(session, source, batch)
            applied = [line for line, row_id in zip(batch, row_ids, strict=True) if row_id]
            preload(session, source, [ev for line in applied for ev in line.events])
            counts = [
                _apply_line(rt, session, source, line, finish=False, row_id=row_id) if row_id else 0
                for line, row_id in zip(batch, row_ids, strict=True)
            ]
            if any(counts):  # work the steps leave for the end, done once for the whole batch
                finish_apply(Context(session, rt.settings, source, rt.source_config(source), utcnow()), rt.steps)
    except IntegrationError:
        raise
    except Exception:
        if len(batch) == 1:
            raise
        _apply_one_by_one(rt, source, batch, summary, rejects)
        return
    summary.applied += sum(counts)
    summary.duplicate += len(counts) - sum(counts)


def _apply_one_by_one(rt: Runtime, source: str, batch: list[Line], summary: ImportSummary, rejects: IO[str]) -> None:
    with session_scope(rt.sessions) as session:
        for line in batch:
            savepoint = session.begin_nested()
            try:
                applied = _apply_line(rt, session, source, line)
                savepoint.commit()
            except Exception as exc:
                savepoint.rollback()
                # caches may hold rows the rollback just removed; rows queued for writing (``DeferredRows``) drop
                # their own on the rollback, and earlier lines' queued rows must stay
                for key in [k for k in session.info if not k.startswith(DEFERRED_PREFIX)]:
                    del session.info[key]
                summary.failed += 1
                _reject(rejects, line.number, f"apply failed: {exc!r}")
                continue
            summary.applied += applied
            summary.duplicate += 1 - applied


def _delivery(source: str, line: Line, now: datetime) -> dict[str, Any]:
    return inbox_row(Pending(source, line.key, {}, None, line.events), now)


def _record_deliveries(session: Session, source: str, batch: list[Line]) -> list[int | None]:
    """Insert the inbox rows of the batch's lines in one executemany; per line, its row id (None: a duplicate).

    Lines already in the inbox (an earlier import of the file) and repeats of a line within the batch are
    duplicates: the unique constraint decides (INSERT ... ON CONFLICT DO NOTHING), so a concurrent import of the
    same lines makes this wait for it on PostgreSQL, and its rows then count as stored before.
    """
    now = utcnow()
    first: dict[str, Line] = {}
    for line in batch:
        first.setdefault(line.key, line)
    rows = [_delivery(source, line, now) for line in first.values()]
    returned = insert_ignore_many(session, Delivery.__table__, rows, ["source", "delivery_id"], ("delivery_id", "id"))
    ids: dict[str, int] = dict(returned)  # type: ignore[arg-type]
    # the first occurrence of a line takes its row; a repeat within the batch is a duplicate
    return [ids.pop(line.key, None) for line in batch]


def _apply_line(  # noqa: ANN001
    rt: Runtime, session, source: str, line: Line, *, finish: bool = True, row_id: int | None = None
) -> int:
    """Apply one line; ``row_id`` is its inbox row if the caller recorded it (else it is recorded here, and a
    line already in the inbox counts as a duplicate: returns 0)."""
    now = utcnow()
    if row_id is None:
        row_id = insert_ignore(session, Delivery.__table__, _delivery(source, line, now), ["source", "delivery_id"])
    if row_id is None:
        return 0
    ctx = Context(session, rt.settings, source, rt.source_config(source), now, row_id)
    apply_events(ctx, line.events, rt.steps, finish=finish)
    return 1
