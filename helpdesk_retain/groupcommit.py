"""Group commit: requests that arrive while a batch is being written are written together in the next one.

``GroupCommit.submit(item)`` hands an item to ``run``, a function that takes a list of items and answers, in the
same order, each item's result or the exception it failed with. There is no thread of its own: the first caller
that finds no batch running runs one, with everything queued so far (at most ``max_batch`` items); the callers
that arrive meanwhile wait. When a batch ends, the first caller still waiting (if any) is woken to run the next
one, with everything queued behind it, so no caller waits for more than the batch before its own, and a lone
caller on an idle service runs its item at once, alone, on its own thread.

Under load this turns N transactions into one: one BEGIN and COMMIT (and on SQLite one WAL write) for N
deliveries, and the rows they queue written by one statement. ``run`` decides what a batch means and how a
failure of one item is kept from the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("item", "outcome", "lead", "event")

    def __init__(self, item: T) -> None:
        self.item = item
        self.outcome: R | BaseException | None = None
        self.lead = False  # set with ``event`` when this caller is to run the next batch
        self.event = threading.Event()


class GroupCommit(Generic[T, R]):
    """Batches ``submit`` calls from concurrent threads into calls of ``run`` (see the module docstring).

    Contract of ``run(items)``: returns a list as long as ``items``, each entry the item's result or an exception
    (raised to that item's caller). If ``run`` itself raises, every item of the batch gets that exception.
    """

    def __init__(self, run: Callable[[list[T]], list[R | BaseException]], *, max_batch: int = 32) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run = run
        self.max_batch = max_batch
        self._mutex = threading.Lock()
        self._queue: list[_Slot[T, R]] = []
        self._running = False  # a caller is running a batch, or has been woken to run the next one

    @property
    def waiting(self) -> int:
        """How many submitted items wait for a batch (not counting the batch running)."""
        with self._mutex:
            return len(self._queue)

    def submit(self, item: T) -> R:
        """``item``'s result, once the batch it joined has run; raises the exception ``run`` gave for it."""
        slot: _Slot[T, R] = _Slot(item)
        with self._mutex:
            self._queue.append(slot)
            lead = not self._running
            self._running = True
        if not lead:
            slot.event.wait()
            lead = slot.lead
        if lead:
            # this slot is first in the queue: whoever queued before it is in an earlier batch, so it is in this one
            self._run_batch()
        outcome = slot.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[return-value]

    def _run_batch(self) -> None:
        with self._mutex:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        outcomes: list[R | BaseException]
        try:
            outcomes = self._run([slot.item for slot in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"group commit: {len(outcomes)} results for {len(batch)} items")
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch raises it (``submit``)
            outcomes = [exc] * len(batch)
        with self._mutex:  # hand the next batch to the first caller waiting, or stand down
            successor = self._queue[0] if self._queue else None
            if successor is None:
                self._running = False
        for slot, outcome in zip(batch, outcomes, strict=True):
            slot.outcome = outcome
            slot.event.set()
        if successor is not None:
            successor.lead = True
            successor.event.set()
