"""TAT clocks as a pure function of a ticket's event log, its policies and calendars, and the time now.

Metrics (DESIGN.md §5):

- ``first_response``: from creation to the first public agent comment.
- ``next_response``: from a public customer comment made after the first response to the next public
  agent comment; one clock per such exchange (``seq`` 1, 2, ...), while the ticket is not solved.
- ``resolution``: from creation to solved/closed; paused while the status is in the policy's
  ``pause_on``; a reopen resumes it and a new solve stops it again.

Solving a ticket also stops its running response clocks. The policy in force is re-selected whenever a
matched field changes; from then on each clock runs on that policy's calendar toward its target, with the
business time it already used counting against the new target (so a stricter policy can breach a clock
at the moment it starts to apply, never before). While the policy in force has no target for a metric,
that clock does not run, and it is reported only if it breached earlier.

A clock runs out at its due time: ``add`` of the remaining business time to the start of the current
run. It is ``met`` if it stopped at or before that instant, otherwise ``breached`` with ``breached_at``
equal to the due time; a breach is final (a late stop only sets ``stopped_at``). ``now`` (or the last
event, if later) decides whether a still-running clock has run out.

Cost: one pass over the log; calendar arithmetic only where a clock starts, pauses, switches policy or
stops, and a few calls per reported clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .policies import Facts, PolicySet
from .replay import Clock, LogRow, Replay, replay_key

__all__ = ["Clock", "LogRow", "base_facts", "compute_clocks"]


def compute_clocks(
    created_at: datetime,
    log: Iterable[LogRow],
    policies: PolicySet,
    now: datetime,
    *,
    category: str | None = None,
    plan: str | None = None,
) -> list[Clock]:
    """The ticket's clocks as of ``now`` (see the module docstring).

    ``log`` is the ticket's event log; it is replayed in ``replay_key`` order (time, then the canonical order of
    rows logged at one instant; a stable sort, so rows equal under it keep the order given, which should be by
    id). ``category`` and ``plan`` are the ticket's complaint category and the customer's plan, which policies
    may match on.
    """
    rows = sorted(log, key=replay_key)
    base = base_facts(category, plan)
    run = Replay(policies, base, created_at, rows)
    for row in rows:
        run.apply(row, max(row.at, created_at))
    last = max(rows[-1].at, now) if rows else now
    return run.results(last)


def base_facts(category: str | None, plan: str | None) -> Facts:
    """The facts that do not come from the log: the complaint category and the customer's plan."""
    return Facts(category=_fold(category), plan=_fold(plan))


def _fold(value: str | None) -> str | None:
    return value.casefold() if value is not None else None
