"""Keeping ``tat_clocks`` equal to the clocks computed from each ticket's event log.

``recompute_step`` is the ingest ticket step: after every ticket event it replays the ticket's log and
writes the difference, keyed by ``(ticket_id, metric, seq)``, so duplicate and out-of-order deliveries
converge on identical rows. It runs inside the delivery's transaction, after ``upsert_ticket`` has locked
the ticket row, so two deliveries for one ticket cannot interleave their recomputes.

Cost per event does not grow with the log: the replay resumes from the ticket's checkpoint and reads only
the rows added since (a late, out-of-order row makes it replay the whole log once), and only the clocks
that replay reports are compared, by their stored fingerprint, and written if changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import Customer, Ticket
from ..models.tat import TatClock
from .checkpoint import Checkpoint, dump, inputs_key, load_checkpoint, restore, save_checkpoint
from .clocks import Clock, base_facts
from .logrows import LogEntry, full_log, rows_after
from .policies import Facts, PolicySet, policy_set
from .replay import Replay, replay_key, tie_rank

if TYPE_CHECKING:
    from ..events import TicketEvent
    from ..ingest import Context

COMPUTED = ("policy", "target_minutes", "started_at", "due_at", "warn_at", "state", "stopped_at", "breached_at")
#: a change in these re-arms the sweep (``sweep_at``); other changes keep its bookmark
TIMING = ("due_at", "warn_at", "state", "breached_at")
#: checkpoint state key: ``tie_rank`` of the last replayed row; ``NO_RANK`` sorts after every rank
LAST_RANK, NO_RANK = "last_rank", 9
FINGERPRINTS = text(
    "SELECT metric, seq, fingerprint FROM tat_clocks"
    " WHERE ticket_id = :ticket AND (metric <> 'next_response' OR seq >= :from_seq)"
)


def recompute_step(ctx: Context, ticket: Ticket, ev: TicketEvent) -> None:
    """Ingest ticket step: recompute this ticket's clocks (idempotent)."""
    policies = policy_set(ctx.settings)
    if not policies.policies or ticket.id is None:
        return
    recompute(ctx.session, ticket, policies, ctx.now)


def recompute(session: Session, ticket: Ticket, policies: PolicySet, now: datetime) -> list[Clock]:
    """Compute ``ticket``'s clocks from its log as of ``now`` and store those that changed; returns the
    clocks the replay reported (all of them after a full replay)."""
    ticket_id, category = ticket.id or 0, ticket.complaint_category
    plan = _plan(session, ticket) if policies.uses_plan else None
    key = inputs_key(policies, ticket.created_at, category, plan)
    run, rows, saved = _resume(session, ticket_id, key, policies, base_facts(category, plan))
    if run is None:
        rows = full_log(session, ticket_id)
        run = Replay(policies, base_facts(category, plan), ticket.created_at, rows)
    for row in rows:
        run.apply(row, max(row.at, ticket.created_at))
    last_at = max([r.at for r in rows[-1:]] + ([saved.last_at] if saved else []), default=ticket.created_at)
    clocks = run.results(max(last_at, now))
    save_clocks(session, ticket_id, clocks, from_seq=run.first_replayed_exchange())
    if rows or saved is None:
        last_id = max([r.id for r in rows] + ([saved.last_id] if saved else [0]))
        state = dump(run)
        # the last replayed row's rank among rows of its instant: a later row of that instant that ranks before
        # it must be replayed in its place (see ``_resume``)
        state[LAST_RANK] = tie_rank(rows[-1]) if rows else None
        save_checkpoint(session, ticket_id, Checkpoint(key, last_id, last_at, state))
    return clocks


def _resume(
    session: Session, ticket_id: int, key: str, policies: PolicySet, base: Facts
) -> tuple[Replay | None, list[LogEntry], Checkpoint | None]:
    """The replay restored from a valid checkpoint and the rows added since, or (None, [], None)."""
    saved = load_checkpoint(session, ticket_id)
    if saved is None or saved.key != key:
        return None, [], None
    rows = rows_after(session, ticket_id, saved.last_id)
    # a late row sorts among the replayed ones: before the last of them in replay order (a checkpoint written
    # before ranks were kept counts every row of its last instant as after it)
    last_rank = saved.state.get(LAST_RANK)
    if rows and replay_key(rows[0]) < (saved.last_at, NO_RANK if last_rank is None else last_rank):
        return None, [], None
    return restore(policies, base, saved.state), rows, saved


def _plan(session: Session, ticket: Ticket) -> str | None:
    if ticket.customer_id is None:
        return None
    return session.execute(select(Customer.plan).where(Customer.id == ticket.customer_id)).scalar_one_or_none()


@lru_cache(maxsize=1 << 14)  # the same clocks come back on every event of a ticket
def fingerprint(clock: Clock) -> tuple[str, str]:
    """(the ``TIMING`` columns as text, all ``COMPUTED`` columns as text starting with the former).

    Plain text rather than a hash: exact, and cheaper to build than to hash on every event.
    """
    timing = f"{clock.due_at}|{clock.warn_at}|{clock.state}|{clock.breached_at}|"
    return timing, f"{timing}{clock.started_at}|{clock.stopped_at}|{clock.target_minutes}|{clock.policy}"


def save_clocks(session: Session, ticket_id: int, clocks: Iterable[Clock], from_seq: int = 1) -> None:
    """Make the ticket's stored clocks equal ``clocks``: upsert changed ones, delete vanished ones.

    ``clocks`` covers the first response, the resolution and the next responses from ``from_seq`` on;
    stored next responses before it are left as they are (a resumed replay does not report them).
    """
    params = {"ticket": ticket_id, "from_seq": from_seq}
    stored = {(metric, seq): text for metric, seq, text in session.execute(FINGERPRINTS, params)}
    rearm, keep = [], []
    for clock in clocks:
        timing, full = fingerprint(clock)
        old = stored.pop((clock.metric, clock.seq), None)
        if old == full:
            continue
        row = {"ticket_id": ticket_id, "metric": clock.metric, "seq": clock.seq, "fingerprint": full}
        row.update((name, getattr(clock, name)) for name in COMPUTED)
        if old is not None and old.startswith(timing):
            keep.append(row)
        else:
            rearm.append({**row, "sweep_at": sweep_time(clock)})
    _upsert(session, rearm, ("sweep_at",))
    _upsert(session, keep, ())
    for metric, seq in stored:  # a clock the log no longer implies (e.g. a late reply renumbered them)
        session.execute(
            delete(TatClock).where(TatClock.ticket_id == ticket_id, TatClock.metric == metric, TatClock.seq == seq)
        )


def sweep_time(clock: Clock) -> datetime | None:
    """When the sweep should next look at a (re)computed clock: its warning, else its breach time."""
    if clock.state == "running":
        due, warn = clock.due_at, clock.warn_at
        return warn if warn is not None and due is not None and warn < due else due
    if clock.state == "breached":
        return clock.breached_at
    return None


def _upsert(session: Session, rows: list[dict[str, Any]], also: tuple[str, ...]) -> None:
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(TatClock.__table__)
    update = {name: stmt.excluded[name] for name in (*COMPUTED, "fingerprint", *also)}
    session.execute(stmt.on_conflict_do_update(index_elements=["ticket_id", "metric", "seq"], set_=update), rows)
