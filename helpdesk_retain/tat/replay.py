"""The replay engine behind ``clocks.compute_clocks`` (see its module docstring for the rules)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from .policies import SNAPSHOT_KEYS, Facts, Policy, PolicySet
from .timing import ZERO, due_after, elapsed_between

SOLVED = frozenset({"solved", "closed"})


class LogRow(Protocol):
    """What the computation reads of a ``ticket_log`` row (a Row of those columns will do)."""

    at: datetime
    kind: str
    status: str | None
    author_role: str | None
    public: bool | None
    snapshot: Mapping[str, Any] | None


def tie_rank(row: LogRow) -> int:
    """Where a row goes among rows logged at the same instant (help desks often stamp to the second): the
    ticket's creation, then a customer's public comment, then updates, then agents' comments and notes. A
    canonical order, so the clocks do not depend on which of the rows arrived first: a customer's message and
    the agent's answer stamped alike count as asked, then answered. Two updates of one instant keep their order
    (by id): they contradict each other, and the ticket's own fields take the one delivered last too."""
    if row.kind == "created":
        return 0
    if row.kind == "comment":
        return 1 if row.author_role == "customer" and row.public else 3
    return 2


def replay_key(row: LogRow) -> tuple[datetime, int]:
    """The order a log is replayed in (rows equal under it keep their order: by id)."""
    return row.at, tie_rank(row)


class Clock(NamedTuple):
    """One computed clock (a tuple: cheap to build for every clock on every event)."""

    metric: str
    seq: int
    policy: str
    target_minutes: int
    started_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
    state: str  # running | paused | met | breached
    stopped_at: datetime | None = None
    breached_at: datetime | None = None


class ClockState:
    __slots__ = (
        "metric",
        "seq",
        "started_at",
        "consumed",
        "since",
        "stopped_at",
        "stop_policy",
        "stop_due",
        "last_run",
        "breach",
    )

    def __init__(self, metric: str, seq: int, started_at: datetime) -> None:
        self.metric, self.seq, self.started_at = metric, seq, started_at
        self.consumed = ZERO  # business time used before ``since``
        self.since: datetime | None = None  # start of the current run; None while not running
        self.stopped_at: datetime | None = None
        self.stop_policy: Policy | None = None
        #: the due time when it stopped while running; else (policy, since, consumed) of its last run
        self.stop_due: datetime | None = None
        self.last_run: tuple[Policy, datetime, timedelta] | None = None
        self.breach: tuple[Policy, datetime] | None = None


class Replay:
    """Replays one ticket's log. Its attributes are its whole state (``checkpoint`` saves and restores
    them): the fields policies match on, the policy in force, the status, and the clocks."""

    def __init__(self, policies: PolicySet, base: Facts, created_at: datetime, rows: Iterable[LogRow] = ()) -> None:
        """``rows``: the log about to be replayed, in replay order. Without its creation row (the creation event
        did not arrive: an import of later events, a lost delivery), the first row that carries the fields
        policies match on says what the ticket was like at creation; else no policy might match until then."""
        self.policies, self.base = policies, base
        rows = list(rows)
        first = None
        if not any(r.kind == "created" for r in rows):
            first = next((r.snapshot for r in rows if r.snapshot and not SNAPSHOT_KEYS.isdisjoint(r.snapshot)), None)
        self.fields: dict[str, Any] = {k: first[k] for k in SNAPSHOT_KEYS.intersection(first)} if first else {}
        self.policy = policies.select(base.with_snapshot(self.fields) if self.fields else base)
        self.status, self.solved, self.exchanges = "new", False, 0
        self.first = ClockState("first_response", 1, created_at)
        self.resolution = ClockState("resolution", 1, created_at)
        self.next: ClockState | None = None
        self.clocks = [self.first, self.resolution]
        for clock in self.clocks:
            self._sync(clock, created_at)

    # --- events ---------------------------------------------------------------------------------

    def apply(self, row: LogRow, t: datetime) -> None:
        snapshot = row.snapshot
        if snapshot and not SNAPSHOT_KEYS.isdisjoint(snapshot):
            self._fields(snapshot, t)
        status = row.status or (snapshot.get("status") if snapshot else None)
        if status and status != self.status:
            self._status(status, t)
        if row.kind == "comment" and row.public:
            self._comment(row.author_role, t)

    def _fields(self, snapshot: Mapping[str, Any], t: datetime) -> None:
        changed = False
        for key in SNAPSHOT_KEYS.intersection(snapshot):
            if self.fields.get(key) != snapshot[key]:
                self.fields[key] = snapshot[key]
                changed = True
        if changed:
            policy = self.policies.select(self.base.with_snapshot(self.fields))
            if policy is not self.policy:
                for clock in self._live():
                    self._pause(clock, t)
                self.policy = policy
                for clock in self._live():
                    self._sync(clock, t)

    def _status(self, status: str, t: datetime) -> None:
        self.status = status
        if status in SOLVED and not self.solved:
            self.solved = True
            for clock in self._live():
                self._stop(clock, t)
            self.next = None
        elif status not in SOLVED and self.solved:
            self.solved = False
            self.resolution.stopped_at = self.resolution.stop_policy = None
            self._sync(self.resolution, t)
        else:
            self._sync(self.resolution, t)

    def _comment(self, role: str | None, t: datetime) -> None:
        if role == "agent":
            self._stop(self.first, t)
            if self.next is not None:
                self._stop(self.next, t)
                self.next = None
        elif role == "customer" and self.next is None and not self.solved and self.first.stopped_at is not None:
            self.exchanges += 1
            self.next = ClockState("next_response", self.exchanges, t)
            self.clocks.append(self.next)
            self._sync(self.next, t)

    # --- clock mechanics ------------------------------------------------------------------------

    def _live(self) -> list[ClockState]:
        return [c for c in (self.first, self.resolution, self.next) if c is not None and c.stopped_at is None]

    def _should_run(self, clock: ClockState) -> bool:
        policy = self.policy
        if clock.stopped_at is not None or clock.breach is not None or policy is None:
            return False
        if clock.metric not in policy.targets:
            return False
        return clock.metric != "resolution" or self.status not in policy.pause_on

    def _sync(self, clock: ClockState, t: datetime) -> None:
        run = self._should_run(clock)
        if run and clock.since is None:
            clock.since = t
        elif not run and clock.since is not None:
            self._pause(clock, t)

    def _pause(self, clock: ClockState, t: datetime) -> None:
        """End the current run at ``t`` under the policy in force, noting a breach inside it."""
        since, policy = clock.since, self.policy
        if since is None or policy is None:
            return
        clock.since = None
        if clock.breach is not None:
            return
        remaining = timedelta(minutes=policy.targets[clock.metric]) - clock.consumed
        used = elapsed_between(policy.calendar, since, t) if t > since else ZERO
        if used >= remaining:
            clock.breach = (policy, due_after(policy.calendar, since, remaining))
        else:
            clock.last_run = (policy, since, clock.consumed)
            clock.consumed += used

    def _stop(self, clock: ClockState, t: datetime) -> None:
        if clock.stopped_at is not None:
            return
        since, policy = clock.since, self.policy
        clock.stop_due = None
        if since is not None and policy is not None and clock.breach is None:
            target = timedelta(minutes=policy.targets[clock.metric])
            due = due_after(policy.calendar, since, target - clock.consumed)
            if due < t:
                clock.breach = (policy, due)
            clock.stop_due = due
            if clock.metric == "resolution" and clock.breach is None:  # the only clock a reopen resumes
                # this run is the last one now: a later stop while paused shows its due time
                clock.last_run = (policy, since, clock.consumed)
                clock.consumed += elapsed_between(policy.calendar, since, t)
        clock.since = None
        clock.stopped_at, clock.stop_policy = t, policy

    # --- results --------------------------------------------------------------------------------

    def first_replayed_exchange(self) -> int:
        """The lowest next-response ``seq`` among this replay's clocks (a resumed replay holds only the
        running one and later ones), or the next to come."""
        return next((c.seq for c in self.clocks[2:]), self.exchanges + 1)

    def results(self, now: datetime) -> list[Clock]:
        """First response, next responses in order, resolution (``self.clocks`` holds them in start order)."""
        ordered = [self.first, *self.clocks[2:], self.resolution]
        return [found for c in ordered if (found := self._result(c, now)) is not None]

    def _result(self, clock: ClockState, now: datetime) -> Clock | None:
        if clock.breach is not None:
            policy, due = clock.breach
            return self._clock(clock, policy, due, None, "breached", due)
        policy = clock.stop_policy if clock.stopped_at is not None else self.policy
        if policy is None or clock.metric not in policy.targets:
            return None
        if clock.stopped_at is not None:
            due = clock.stop_due or _due(clock.last_run, clock.metric)
            return self._clock(clock, policy, due, None, "met")
        if clock.since is None:
            return self._clock(clock, policy, None, None, "paused")
        target = timedelta(minutes=policy.targets[clock.metric])
        due = due_after(policy.calendar, clock.since, target - clock.consumed)
        if due <= now:
            return self._clock(clock, policy, due, None, "breached", due)
        warn = max(target * policy.warn_at - clock.consumed, ZERO)
        return self._clock(clock, policy, due, due_after(policy.calendar, clock.since, warn), "running")

    @staticmethod
    def _clock(
        clock: ClockState,
        policy: Policy,
        due: datetime | None,
        warn: datetime | None,
        state: str,
        breached: datetime | None = None,
    ) -> Clock:
        target = policy.targets[clock.metric]
        return Clock(
            clock.metric, clock.seq, policy.name, target, clock.started_at, due, warn, state, clock.stopped_at, breached
        )


def _due(run: tuple[Policy, datetime, timedelta] | None, metric: str) -> datetime | None:
    """The due time a clock had during its last run (shown for a clock that stopped in time)."""
    if run is None:
        return None
    policy, since, consumed = run
    return due_after(policy.calendar, since, timedelta(minutes=policy.targets[metric]) - consumed)
