"""Bug links in the store: the ticket step, the issue step and the ticket API's ``bug_links`` section.

Decision: a link to an issue we have not heard of creates no ``issues`` row; the API shows such a link
as ``open`` (its URL from the link). Issue rows are created by the issue's own events only, so their
``updated_at`` is always a tracker time and stale deliveries can be told apart.

Issue events (``IssueEvent``) are applied stale-safe by ``occurred_at``: an event older than the newest
applied one changes nothing. A change of state is what drives follow-ups: to ``fixed`` starts a new fix
cycle and creates them, to ``open`` (reopened) or ``wontfix`` cancels the unfinished ones. An issue first
heard of in a delivery that does not show the transition (``transition=False``: an edit of an issue that
was closed before we were set up) records the state but reminds nobody.

Tickets mentioned in an issue (``IssueEvent.links``) are linked back when the URL names a ticket we
store: a recognised help-desk URL shape (``links.TICKET_URLS``) maps to the configured sources of that
plugin (when a source's table has ``subdomain``, ``domain``, ``url``, ``base_url`` or ``host``, the URL's
host must match it), and any URL equal to a ticket's stored ``url`` (the generic source's ``ticket.url``).
A ticket not stored yet is not linked then; its own text links it when it arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from . import followups
from .events import IssueEvent, TicketEvent
from .ingest import Context
from .links import Found, Ref, TicketRef, extractor, make_ref, ticket_refs
from .models import Ticket
from .models.links import BugLink, Issue
from .sqlutil import insert_ignore, insert_ignore_many

log = logging.getLogger(__name__)

HOST_HINT_KEYS = ("subdomain", "domain", "url", "base_url", "host")


# --- the ticket step -----------------------------------------------------------------------------------


def link_ticket(ctx: Context, ticket: Ticket, ev: TicketEvent) -> None:
    """Ticket step: store the references the event carries; a public agent reply completes follow-ups."""
    link_fields = ctx.source_config.link_fields if ctx.source_config is not None else ()
    found = extractor(ctx.settings.links).ticket_refs(ev, link_fields)
    if found and ticket.id is not None:
        add_links(ctx, [(ticket.id, f) for f in found])
    if ev.comment is not None and ticket.id is not None:
        followups.complete_by_reply(ctx.session, ticket.id, ev.comment)


def add_links(ctx: Context, links: Iterable[tuple[int, Found]]) -> None:
    """Insert links, keeping the first origin of a (ticket, issue) pair; re-adding one changes nothing."""
    rows = [
        {
            "ticket_id": ticket_id,
            "tracker": f.ref.tracker,
            "key": f.ref.key,
            "issue": f.ref.issue,
            "url": f.ref.url,
            "origin": f.origin[:200],
            "delivery_id": ctx.delivery_row_id,
            "created_at": ctx.now,
        }
        for ticket_id, f in links
    ]
    if rows:
        insert_ignore_many(ctx.session, BugLink.__table__, rows, ["ticket_id", "tracker", "key"])


# --- the issue step ------------------------------------------------------------------------------------


def apply_issue(ctx: Context, ev: IssueEvent) -> None:
    """Issue step: upsert the issue (stale-safe), link tickets it names, act on a change of state."""
    ref = make_ref(ev.tracker, ev.issue, ev.url)
    issue, is_new = _lock_issue(ctx, ref, ev)
    if ev.links:
        _link_back(ctx, ref, ev.links)
    if not is_new and ev.occurred_at < issue.updated_at:
        log.info("stale event for %s %s ignored (%s < %s)", ref.tracker, ref.issue, ev.occurred_at, issue.updated_at)
        return
    _merge(issue, ref, ev)
    if not is_new and ev.state == issue.state:
        return
    previous = None if is_new else issue.state
    issue.state = ev.state
    issue.state_changed_at = ev.occurred_at
    if ev.state == "fixed":
        issue.fix_cycle += 1
        issue.fixed_at = ev.occurred_at
        if ev.transition or previous is not None:
            ctx.session.flush()
            followups.create_for_fix(ctx, issue)
    elif previous is not None:
        reason = "issue closed as won't fix" if ev.state == "wontfix" else "issue reopened"
        followups.cancel_for_issue(ctx.session, issue, f"{reason} at {ev.occurred_at.isoformat()}", ev.occurred_at)


def _lock_issue(ctx: Context, ref: Ref, ev: IssueEvent) -> tuple[Issue, bool]:
    """The issue row, created if new and locked for the transaction (two deliveries serialize here)."""
    values = {
        "tracker": ref.tracker,
        "key": ref.key,
        "issue": ref.issue,
        "state": "open",
        "fix_cycle": 0,
        "updated_at": ev.occurred_at,
        "created_at": ctx.now,
    }
    new_id = insert_ignore(ctx.session, Issue.__table__, values, ["tracker", "key"])
    stmt = select(Issue).where(Issue.tracker == ref.tracker, Issue.key == ref.key).with_for_update()
    return ctx.session.execute(stmt).scalar_one(), new_id is not None


def _merge(issue: Issue, ref: Ref, ev: IssueEvent) -> None:
    issue.issue = ref.issue
    issue.updated_at = ev.occurred_at
    for name in ("url", "title", "external_id", "is_bug"):
        value = getattr(ev, name)
        if value is not None and getattr(issue, name) != value:
            setattr(issue, name, value)


def _link_back(ctx: Context, ref: Ref, urls: Iterable[str]) -> None:
    ticket_ids = tickets_for(ctx.session, ctx.settings.sources, ticket_refs(urls))
    add_links(ctx, [(ticket_id, Found(ref, "issue")) for ticket_id in ticket_ids])


def tickets_for(session: Session, sources: Mapping[str, Mapping[str, Any]], refs: list[TicketRef]) -> list[int]:
    """Ids of stored tickets that ``refs`` name (see the module docstring for the mapping rules)."""
    conditions = []
    for ref in refs:
        conditions.append(Ticket.url == ref.url)
        if ref.plugin is not None:
            names = [n for n, t in sources.items() if t.get("plugin") == ref.plugin and _host_matches(t, ref.host)]
            if names:
                conditions.append(and_(Ticket.source.in_(names), Ticket.external_id == ref.external_id))
    if not conditions:
        return []
    return list(session.execute(select(Ticket.id).where(or_(*conditions)).order_by(Ticket.id)).scalars())


def _host_matches(table: Mapping[str, Any], host: str) -> bool:
    hints = [str(table[k]).lower() for k in HOST_HINT_KEYS if isinstance(table.get(k), str) and table[k]]
    if not hints:
        return True
    return any(host == h or host.startswith(h + ".") or f"//{host}" in h or h == host.split(".")[0] for h in hints)


# --- the API section -----------------------------------------------------------------------------------


def load_bug_links(session: Session, ticket_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Section loader: ``{ticket_id: [{"tracker", "issue", "state", "url"}]}``, unknown issues ``open``."""
    if not ticket_ids:
        return {}
    stmt = (
        select(BugLink.ticket_id, BugLink.tracker, BugLink.issue, BugLink.url, Issue.issue, Issue.state, Issue.url)
        .outerjoin(Issue, and_(Issue.tracker == BugLink.tracker, Issue.key == BugLink.key))
        .where(BugLink.ticket_id.in_(ticket_ids))
        .order_by(BugLink.ticket_id, BugLink.id)
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for ticket_id, tracker, issue, url, known_issue, state, known_url in session.execute(stmt):
        out.setdefault(ticket_id, []).append(
            {"tracker": tracker, "issue": known_issue or issue, "state": state or "open", "url": known_url or url}
        )
    return out
