"""The ingest step: re-tag a ticket from its CURRENT text on every event that can change it.

Texts are the subject, the description and the public comments written by the customer (an agent's reply
or an internal note never makes a complaint). Everything is recomputed from the stored ticket and its log,
so a re-delivered or out-of-order event changes nothing, and an edited subject or description replaces the
signals it used to carry. Agent overrides are honoured as ``complaints.py`` describes.

A ticket inserted by this very apply has no stored signals, state or earlier comments, so the step skips
reading them (the common case on ingest: most events create or extend new tickets).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..events import Comment, TicketEvent
from ..ingest import Context
from ..integrations import IntegrationConfig
from ..models import Ticket, TicketLog
from ..models.tagging import ComplaintState
from .complaints import (
    MAX_EVIDENCE,
    Verdict,
    apply_verdict,
    complaint_time,
    decide,
    rules_verdict,
    save_complaint_time,
    tag_override,
)
from .matcher import TextTags
from .repeat import finish as finish_repeat_contacts
from .repeat import update_repeat_contacts
from .signals import Found, add_signals, sync_signals
from .tagger import tagger_for

#: session.info key: tickets tagged in this transaction (they are no longer "fresh")
TAGGED = "tagging.tagged"
Text = tuple[str, str, datetime]


#: ticket fields whose change makes the step re-read the ticket (the texts, the override tags, the customer)
TEXT_FIELDS = frozenset({"subject", "description"})
READ_FIELDS = TEXT_FIELDS | {"tags", "customer_id", "created_at"}


def ticket_step(ctx: Context, ticket: Ticket, ev: TicketEvent) -> None:
    """Ingest step (registered in ``ingest.default_steps``).

    Works from what the event changed (``ctx.changed``), not from what it carries: help desks resend the
    whole ticket with every comment, and re-reading an unchanged subject would re-read every comment too.
    """
    tagged: set[int] = ctx.session.info.setdefault(TAGGED, set())
    fresh = ticket.first_seen_at == ctx.now and ticket.id not in tagged
    reread = bool(ctx.changed & READ_FIELDS)
    if not (fresh or reread or _customer_said(ev.comment)):
        return
    tagged.add(ticket.id or 0)
    text_at = ticket.created_at if fresh or ev.kind == "ticket.created" else (ev.updated_at or ev.occurred_at)
    only_comment = not fresh and not reread and ev.comment is not None
    if only_comment and ticket.complaint_source == "rules":
        add_comment(ctx.session, ctx.settings, ticket, ev.comment)
    else:
        comment = ev.comment if fresh or only_comment else None
        config = ctx.source_config
        retag_ticket(ctx.session, ctx.settings, config, ticket, text_at=text_at, fresh=fresh, comment=comment)
    if fresh or ctx.changed & (TEXT_FIELDS | {"customer_id", "created_at"}):
        update_repeat_contacts(ctx.session, ctx.settings.tagging, tagger_for(ctx.settings), ticket, fresh=fresh)


def finish_step(ctx: Context) -> None:
    """Finish step (registered in ``ingest.default_steps``): the repeat contacts queued by this apply."""
    finish_repeat_contacts(ctx.session, ctx.settings.tagging, tagger_for(ctx.settings))


def _customer_said(comment: Comment | None) -> bool:
    return comment is not None and comment.public and comment.author_role == "customer"


def add_comment(session: Session, settings: Settings, ticket: Ticket, comment: Comment) -> None:
    """A customer's new comment on a ticket the rules judge: fold its verdict into the stored one.

    The ticket's other texts did not change, and the stored verdict is the rules' verdict over them (the
    ticket shows ``rules``), so only the comment is tagged and no text is re-read. Its signals are added.
    """
    tags = tagger_for(settings).tag(comment.body)
    if tags.complaint:
        if ticket.is_complaint:
            evidence = list(dict.fromkeys([*ticket.complaint_evidence, *tags.evidence]))[:MAX_EVIDENCE]
            if evidence != ticket.complaint_evidence:
                ticket.complaint_evidence = evidence
        else:
            apply_verdict(ticket, Verdict(True, tags.category, tags.evidence, "rules", comment.created_at))
            save_complaint_time(session, ticket, None, comment.created_at, was_complaint=False)
    source = f"comment:{comment.id}"[:200]
    add_signals(session, ticket.id or 0, [Found(n, source, e, comment.created_at) for n, e in tags.signals.items()])


def ticket_texts(session: Session, ticket: Ticket, text_at: datetime) -> list[Text]:
    """(source, text, time) of every text tagging reads, in order: subject, description, customer comments."""
    texts = _own_texts(ticket, text_at)
    stmt = (
        select(TicketLog.dedupe_key, TicketLog.body, TicketLog.at)
        .where(
            TicketLog.ticket_id == ticket.id,
            TicketLog.kind == "comment",
            TicketLog.author_role == "customer",
            TicketLog.public.is_(True),
        )
        .order_by(TicketLog.at, TicketLog.id)
    )
    texts += [(key, body, at) for key, body, at in session.execute(stmt) if body]
    return texts


def _own_texts(ticket: Ticket, text_at: datetime) -> list[Text]:
    return [(name, value, text_at) for name in ("subject", "description") if (value := getattr(ticket, name))]


def retag_ticket(
    session: Session,
    settings: Settings,
    source_config: IntegrationConfig | None,
    ticket: Ticket,
    *,
    text_at: datetime | None = None,
    fresh: bool = False,
    comment: Comment | None = None,
    load_state: bool = False,
) -> None:
    """Recompute the ticket's complaint columns, complaint state and text-sourced risk signals.

    ``fresh``: the ticket was inserted by this apply, so nothing about it is stored yet; ``comment`` is then
    the event's comment, the only one the ticket can have. ``comment`` on an older ticket: the event only
    added that comment, so the other texts' signal rows stand and only the comment's are added. The complaint
    state row is read only when an override may exist (``load_state``, or the ticket shows ``agent``).
    """
    at = text_at or ticket.created_at
    if fresh:
        texts = _own_texts(ticket, at)
        if comment is not None and _customer_said(comment) and comment.body:
            texts.append((f"comment:{comment.id}"[:200], comment.body, comment.created_at))
    else:
        texts = ticket_texts(session, ticket, at)
    tagger = tagger_for(settings)
    tagged: list[tuple[str, datetime, TextTags]] = [(source, at, tagger.tag(text)) for source, text, at in texts]
    read_state = not fresh and (load_state or ticket.complaint_source == "agent")
    state = session.get(ComplaintState, ticket.id) if read_state else None
    rules = rules_verdict((at, tags) for _source, at, tags in tagged)
    verdict = decide(rules, state, tag_override(ticket.tags, source_config))
    was_complaint = ticket.is_complaint
    apply_verdict(ticket, verdict)
    if state is not None or fresh or was_complaint != verdict.is_complaint:
        at_complaint = complaint_time(verdict, state, ticket)
        save_complaint_time(session, ticket, state, at_complaint, was_complaint=was_complaint)
    found = [Found(name, source, words, at) for source, at, tags in tagged for name, words in tags.signals.items()]
    if fresh or comment is None:
        sync_signals(session, ticket.id or 0, found, existing=[] if fresh else None)
    else:
        source = f"comment:{comment.id}"[:200]
        add_signals(session, ticket.id or 0, [f for f in found if f.source == source])
