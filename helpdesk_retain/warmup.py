"""Start-up of long-running work: build what every event needs before the first one arrives, then take what is
alive at that point out of the cyclic garbage collector's sight (``gc.freeze``).

Why: the tagger's compiled rules are ~120,000 container objects that live as long as the process. Each of
CPython's full collections walks every tracked object, and ingest allocates enough (ORM states, rows) to cause one
every ~2,000 events: an import of 20,000 events spent ~13% of its time in 11 full collections, ~1.5% once the
start-up objects were frozen (``bench/README.md``). Frozen objects are neither walked nor collected, so only what
lives until the process ends (``settle``) or until the work is done (``settled``) may be frozen.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .runtime import Runtime

_lock = threading.Lock()
_holders = 0  # ``settled`` blocks running now
_for_good = False  # something froze for good: nothing unfreezes


def warm_up(rt: Runtime) -> None:
    """Build what the first event would otherwise build: the tagger for the runtime's rules."""
    from .tagging.tagger import tagger_for

    tagger_for(rt.settings)


def freeze_for_good() -> None:
    """Collect, then freeze everything alive for the rest of the process: no ``settled`` block ending later
    unfreezes it. May be called again (what was loaded since is frozen too)."""
    global _for_good
    with _lock:
        _freeze()
        _for_good = True


def _freeze() -> None:
    # collect first: garbage frozen would never be collected
    gc.collect()
    gc.freeze()


def settle(rt: Runtime, *, warm: bool = True) -> None:
    """For a process that lives as long as ``rt`` (``serve``, ``web``, ``scheduler``): warm up, then
    ``freeze_for_good``. ``warm=False``: freeze only (a process that never tags text, such as the scheduler, would
    hold the rules for nothing)."""
    if warm:
        warm_up(rt)
    freeze_for_good()


@contextmanager
def settled(rt: Runtime) -> Iterator[None]:
    """The same around work inside a process that goes on after it (``import`` called from code or a test):
    unfrozen when the last such block ends, unless something froze for good meanwhile or before."""
    global _holders
    warm_up(rt)
    with _lock:
        _freeze()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and not _for_good:
                gc.unfreeze()
