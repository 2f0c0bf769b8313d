"""The ticket list: the API's flags (``api.flag_filters``), source, assignee, customer and a text search,
newest first, paged with the cursor scheme of ``GET /api/tickets``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request
from sqlalchemy import Select, and_, func, or_, select

from ..api import ApiError, decode_cursor, encode_cursor, flag_filters
from ..db import session_scope
from ..models import Customer, Ticket
from ..ticketview import serialize_tickets
from .base import bp, current_user, runtime, wants_fragment

FLAGS = ("complaint", "at_risk", "saved", "breached")


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


def filtered(f: Filters, me: str, dialect: str) -> Select[Any]:
    stmt = select(Ticket)
    conditions = flag_filters()
    for flag in f.flags:
        if flag in conditions:
            stmt = stmt.where(conditions[flag]())
    if f.q:
        stmt = stmt.where(or_(contains(Ticket.subject, f.q, dialect), contains(Ticket.description, f.q, dialect)))
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
    stmt = filtered(f, me, rt.engine.dialect.name)
    bad_cursor = False
    if f.cursor:
        try:
            created, row_id = decode_cursor(f.cursor)
            stmt = stmt.where(or_(Ticket.created_at < created, and_(Ticket.created_at == created, Ticket.id < row_id)))
        except ApiError:
            bad_cursor = True
    stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(size + 1)
    with session_scope(rt.sessions) as session:
        rows = list(session.execute(stmt).scalars())
        shown, more = rows[:size], len(rows) > size
        items = serialize_tickets(session, shown)
    for item in items:
        item["breached"] = any(clock["state"] == "breached" for clock in item["tat"])
    cursor = encode_cursor(shown[-1].created_at, shown[-1].id or 0) if more else None
    return items, cursor, bad_cursor


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
