"""The ticket list: the API's flags (``api.flag_filters``), source, assignee, customer and a text search,
newest first, paged with the cursor scheme of ``GET /api/tickets``.

The text search (``q``) is a case-insensitive substring match on subject or description (``contains``). A text
index (``models.search``) finds the candidates, and ``contains`` confirms them, so the index changes how fast a
search is answered, never what it finds: PostgreSQL's trigram indexes serve ILIKE themselves; on SQLite the
FTS5 table's candidates are read first (``candidates``), and the tickets by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request
from sqlalchemy import Select, and_, func, or_, select, text
from sqlalchemy.orm import Session

from ..api import ApiError, decode_cursor, encode_cursor, flag_filters
from ..db import session_scope
from ..models import Customer, Ticket
from ..tagging.risk import reporting
from ..ticketview import serialize_tickets
from .base import bp, current_user, runtime, wants_fragment

FLAGS = ("complaint", "at_risk", "saved", "breached")
#: at most this many candidates are read by id; text more tickets contain is common enough that the newest
#: tickets hold a page of matches, so reading them newest first (the plain query) ends early
CANDIDATES = 2000
#: trigrams of the query that the index is asked for: any subset finds every match (``contains`` confirms)
TRIGRAMS = 12


@dataclass
class Filters:
    flags: list[str] = field(default_factory=list)
    q: str = ""
    source: str = ""
    assignee: str = ""
    customer: str = ""
    cursor: str = ""

    @classmethod
    def from_args(cls) -> Filters:
        args = request.args
        flags = [f for f in args.getlist("flag") if f in FLAGS]
        text = {k: args.get(k, "").strip()[:200] for k in ("q", "source", "assignee", "customer", "cursor")}
        return cls(flags=flags, **text)

    def query(self, **changes: Any) -> dict[str, Any]:
        """URL parameters of these filters (for links), with ``changes`` applied."""
        values = {"flag": self.flags, "q": self.q, "source": self.source, "assignee": self.assignee,
                  "customer": self.customer, **changes}  # fmt: skip
        return {k: v for k, v in values.items() if v}


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(column: Any, text: str, dialect: str) -> Any:
    """Case-insensitive substring match: ILIKE on PostgreSQL; on SQLite plain LIKE, which already ignores
    ASCII case (as SQLite's ``lower()`` does) and skips the two ``lower()`` calls per row ILIKE adds."""
    pattern = like_pattern(text)
    return column.ilike(pattern, escape="\\") if dialect == "postgresql" else column.like(pattern, escape="\\")


def trigram_query(q: str) -> str | None:
    """The FTS5 query for the tickets that contain every trigram taken from ``q`` (up to TRIGRAMS of them,
    spread over it), each quoted as a string of its own; None when ``q`` has fewer than three characters."""
    if len(q) < 3:
        return None
    starts = [*range(0, len(q) - 2, 3), len(q) - 3]
    grams = list(dict.fromkeys(q[i : i + 3] for i in starts))[:TRIGRAMS]
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


def candidates(session: Session, q: str) -> list[int] | None:
    """SQLite: the ids of the tickets that may contain ``q`` (``models.search``: every match is among them),
    or None when the index cannot narrow the search (fewer than three characters, or over CANDIDATES)."""
    query = trigram_query(q)
    if query is None:
        return None
    found = session.execute(
        text("SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH :q LIMIT :n"), {"q": query, "n": CANDIDATES + 1}
    )
    ids = list(found.scalars())
    return ids if len(ids) <= CANDIDATES else None


def filtered(f: Filters, me: str, dialect: str, ids: list[int] | None = None) -> Select[Any]:
    """The list's query; ``ids`` (from ``candidates``) narrows a text search to those tickets."""
    stmt = select(Ticket)
    conditions = flag_filters()
    for flag in f.flags:
        if flag in conditions:
            stmt = stmt.where(conditions[flag]())
    if f.q:
        stmt = stmt.where(or_(contains(Ticket.subject, f.q, dialect), contains(Ticket.description, f.q, dialect)))
        if ids is not None:
            stmt = stmt.where(Ticket.id.in_(ids))
    if f.source:
        stmt = stmt.where(Ticket.source == f.source)
    if f.assignee:
        assignee = me if f.assignee == "me" else f.assignee.lower()
        stmt = stmt.where(func.lower(Ticket.assignee_email) == assignee)
    if f.customer:
        customers = select(Customer.id).where(Customer.email == f.customer.lower())
        stmt = stmt.where(Ticket.customer_id.in_(customers))
    return stmt


def page(f: Filters, me: str, size: int) -> tuple[list[dict[str, Any]], str | None, bool]:
    """(tickets as the API shows them, next cursor, whether the cursor was unreadable)."""
    rt = runtime()
    dialect = rt.engine.dialect.name
    with session_scope(rt.sessions) as session:
        reporting(session)  # PostgreSQL: plan for this search's own pattern and flags
        ids = candidates(session, f.q) if f.q and dialect == "sqlite" else None
        stmt, bad_cursor = after_cursor(filtered(f, me, dialect, ids), f.cursor)
        stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(size + 1)
        rows = list(session.execute(stmt).scalars())
        shown, more = rows[:size], len(rows) > size
        items = serialize_tickets(session, shown)
    for item in items:
        item["breached"] = any(clock["state"] == "breached" for clock in item["tat"])
    cursor = encode_cursor(shown[-1].created_at, shown[-1].id or 0) if more else None
    return items, cursor, bad_cursor


def after_cursor(stmt: Select[Any], cursor: str) -> tuple[Select[Any], bool]:
    """``stmt`` limited to the tickets after ``cursor``, and whether the cursor was unreadable (then ignored)."""
    if not cursor:
        return stmt, False
    try:
        created, row_id = decode_cursor(cursor)
    except ApiError:
        return stmt, True
    return stmt.where(or_(Ticket.created_at < created, and_(Ticket.created_at == created, Ticket.id < row_id))), False


@bp.get("/tickets")
def tickets() -> str:
    f = Filters.from_args()
    rt = runtime()
    items, cursor, bad_cursor = page(f, current_user().email, rt.settings.web.page_size)
    template = "web/_ticket_results.html" if wants_fragment() else "web/tickets.html"
    return render_template(
        template,
        f=f,
        items=items,
        next_cursor=cursor,
        bad_cursor=bad_cursor,
        flags=[x for x in FLAGS if x in flag_filters()],
        sources=sorted(rt.settings.sources),
    )
