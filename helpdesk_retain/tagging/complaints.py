"""A ticket's complaint verdict: the rules over its texts, then the agent's word over the rules.

Precedence (documented in config.example.toml): an override set through
``POST /api/tickets/<source>/<id>/complaint`` is permanent until the next such call (or DELETE); otherwise a
help-desk tag from the source's ``complaint_tags`` / ``not_complaint_tags`` decides while the ticket carries
it (removing the tag hands the ticket back to the rules, since the help desk's current tags are the agent's
current word); otherwise the rules decide. Either override shows ``source: "agent"``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..ingest import TICKET_ROWS, set_column
from ..integrations import IntegrationConfig, vocab_key
from ..models import Ticket
from ..models.tagging import ComplaintState
from ..sqlutil import DeferredRows
from .matcher import TextTags, best
from .packs import CATEGORIES

MAX_EVIDENCE = 10


@dataclass(frozen=True)
class Verdict:
    is_complaint: bool
    category: str | None
    evidence: tuple[str, ...]
    source: str  # rules | agent
    at: datetime | None  # when the earliest complaining text was written


def rules_verdict(tagged: Iterable[tuple[datetime, TextTags]]) -> Verdict:
    """Complaint if any text is one; category by the summed category scores; evidence in text order."""
    scores: dict[str, float] = defaultdict(float)
    evidence: list[str] = []
    first: datetime | None = None
    for at, tags in tagged:
        if not tags.complaint:
            continue
        first = at if first is None or at < first else first
        for name, score in tags.categories.items():
            scores[name] += score
        evidence += [e for e in tags.evidence if e not in evidence]
    if first is None:
        return Verdict(False, None, (), "rules", None)
    return Verdict(True, best(scores, CATEGORIES), tuple(evidence[:MAX_EVIDENCE]), "rules", first)


def tag_override(tags: list[str], config: IntegrationConfig | None) -> bool | None:
    """True/False when the ticket carries a complaint / not-complaint tag (not-complaint wins a conflict)."""
    if config is None or not tags:
        return None
    present = {vocab_key(t) for t in tags}
    if present & {vocab_key(t) for t in config.not_complaint_tags}:
        return False
    if present & {vocab_key(t) for t in config.complaint_tags}:
        return True
    return None


def decide(rules: Verdict, state: ComplaintState | None, tag: bool | None) -> Verdict:
    forced = state.override_is_complaint if state is not None else None
    if forced is None:
        forced = tag
    if forced is None:
        return rules
    if not forced:
        return Verdict(False, None, (), "agent", None)
    category = (state.override_category if state is not None else None) or rules.category or "other"
    return Verdict(True, category, rules.evidence, "agent", rules.at)


def apply_verdict(ticket: Ticket, verdict: Verdict) -> None:
    """Write the verdict onto the ticket's complaint columns (only what changed, so no-op events stay no-ops)."""
    values = {
        "is_complaint": verdict.is_complaint,
        "complaint_category": verdict.category,
        "complaint_evidence": list(verdict.evidence),
        "complaint_source": verdict.source,
    }
    for name, value in values.items():
        if getattr(ticket, name) != value:
            set_column(ticket, name, value)


def complaint_time(verdict: Verdict, state: ComplaintState | None, ticket: Ticket) -> datetime | None:
    if not verdict.is_complaint:
        return None
    if verdict.at is not None:
        return verdict.at
    if state is not None and state.complaint_at is not None:
        return state.complaint_at
    return (state.override_at if state is not None else None) or ticket.created_at


@cache
def _upsert_complaint_time(dialect_name: str) -> Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(ComplaintState.__table__)
    return stmt.on_conflict_do_update(index_elements=["ticket_id"], set_={"complaint_at": stmt.excluded.complaint_at})


#: complaint times are upserted once per apply or import batch, the last one per ticket (see ``DeferredRows``)
COMPLAINT_TIMES = DeferredRows(
    ComplaintState.__table__, _upsert_complaint_time, key=lambda row: row["ticket_id"], after=[TICKET_ROWS]
)


def save_complaint_time(
    session: Session, ticket: Ticket, state: ComplaintState | None, at: datetime | None, *, was_complaint: bool
) -> None:
    """Store when the ticket became a complaint, when that is not simply its creation (the common case needs no
    row: readers use the ticket's ``created_at``). Without a loaded ``state`` (no override can exist: the verdict
    came from the rules) the row is upserted (queued: ``COMPLAINT_TIMES``), so nothing is read; the ticket row lock
    serialises it."""
    ticket_id = ticket.id or 0
    if state is not None:
        if state.complaint_at != at:
            state.complaint_at = at
        return
    if at is not None and at != ticket.created_at:
        COMPLAINT_TIMES.add(session, [{"ticket_id": ticket_id, "complaint_at": at}])
    elif at is None and was_complaint:  # an ORM write of the table: the queued upserts go first
        session.execute(update(ComplaintState).where(ComplaintState.ticket_id == ticket_id).values(complaint_at=None))
