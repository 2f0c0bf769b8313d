"""Group commit: deliveries that arrive while a batch is written share the next transaction, and still each
commit with its own events, fail on their own, and count as duplicates exactly as when accepted one by one."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, text

from helpdesk_retain import inbox
from helpdesk_retain.db import session_scope
from helpdesk_retain.groupcommit import GroupCommit
from helpdesk_retain.inbox import Accepted, Pending, accept_many
from helpdesk_retain.models import Delivery, Ticket, TicketLog
from helpdesk_retain.models.tagging import RiskSignal
from helpdesk_retain.runtime import build_runtime
from helpdesk_retain.testing import load_fixture, wait_until
from tests.conftest import requires_postgres

# --- the batcher alone ----------------------------------------------------------------------------------------


class Recorder:
    """A ``run`` that doubles numbers, fails on negative ones, records its batches and can be held at a gate."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        self.gate.wait(10)
        return [ValueError(f"bad {i}") if i < 0 else i * 2 for i in items]


def submit_in_threads(committer: GroupCommit[int, int], items: list[int]) -> dict[int, Any]:
    """Submit each item from its own thread; once they all wait, return the threads and their outcome map."""
    outcomes: dict[int, Any] = {}

    def one(i: int) -> None:
        try:
            outcomes[i] = committer.submit(i)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=one, args=(i,), name=f"caller-{i}") for i in items]
    for t in threads:
        t.start()
    return {"threads": threads, "outcomes": outcomes}


def behind_a_held_batch(committer: GroupCommit[int, int], run: Recorder, rest: list[int]) -> dict[int, Any]:
    """Submit 1 while ``run`` is held at its gate, then ``rest`` from their own threads; once they all wait for
    the next batch, release the gate. Every caller's outcome."""
    run.gate.clear()
    first = submit_in_threads(committer, [1])
    assert run.entered.wait(10)
    others = submit_in_threads(committer, rest)
    assert wait_until(lambda: committer.waiting == len(rest))
    run.gate.set()
    for t in first["threads"] + others["threads"]:
        t.join(10)
    return first["outcomes"] | others["outcomes"]


def test_a_lone_item_runs_at_once_on_its_callers_thread():
    run = Recorder()
    committer = GroupCommit(run)
    assert committer.submit(21) == 42
    assert run.batches == [[21]] and run.threads == [threading.current_thread().name]


def test_items_arriving_during_a_batch_run_together_in_the_next_and_each_gets_its_own_result():
    run = Recorder()
    committer = GroupCommit(run)
    outcomes = behind_a_held_batch(committer, run, [2, 3, 4, 5])
    assert run.batches[0] == [1] and sorted(run.batches[1]) == [2, 3, 4, 5] and len(run.batches) == 2
    assert run.threads[1] in {f"caller-{i}" for i in (2, 3, 4, 5)}  # a waiting caller ran it, no extra thread
    assert outcomes == {1: 2, 2: 4, 3: 6, 4: 8, 5: 10}
    assert committer.waiting == 0


def test_a_batch_holds_at_most_max_batch_items_and_the_rest_follow_in_order():
    run = Recorder()
    run.gate.clear()
    committer = GroupCommit(run, max_batch=2)
    first = submit_in_threads(committer, [0])
    assert run.entered.wait(10)
    started = []
    for i in (1, 2, 3, 4, 5):  # queued one at a time, so their order is known
        started.append(submit_in_threads(committer, [i]))
        assert wait_until(lambda i=i: committer.waiting == i)
    run.gate.set()
    for s in [first, *started]:
        for t in s["threads"]:
            t.join(10)
    assert run.batches == [[0], [1, 2], [3, 4], [5]]


def test_an_item_that_fails_raises_to_its_own_caller_only():
    run = Recorder()
    outcomes = behind_a_held_batch(GroupCommit(run), run, [2, -3, 4])
    assert outcomes[2] == 4 and outcomes[4] == 8
    assert isinstance(outcomes[-3], ValueError) and str(outcomes[-3]) == "bad -3"


def test_when_run_itself_fails_every_caller_of_that_batch_hears_it_and_later_batches_still_run():
    calls = []

    def run(items: list[int]) -> list[int | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        return [i for i in items]

    committer = GroupCommit(run)
    with pytest.raises(ConnectionError, match="went away"):
        committer.submit(1)
    assert committer.submit(2) == 2


def test_a_run_that_answers_the_wrong_number_of_results_fails_the_batch():
    committer: GroupCommit[int, int] = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        committer.submit(1)


# --- deliveries ------------------------------------------------------------------------------------------------


def pending(runtime, body: bytes, key: str) -> Pending:  # noqa: ANN001
    events = runtime.integrations["generic"].parse({}, body)
    return Pending("generic", key, {"content-type": "application/json"}, body, events)


def comment(ticket: str, comment_id: str, text: str, at: str = "2026-11-20T10:00:00Z") -> bytes:
    return json.dumps(
        {
            "event": "comment.created",
            "occurred_at": at,
            "ticket": {"id": ticket, "subject": "Export", "status": "open", "requester": {"email": "ana@example.com"}},
            "comment": {"id": comment_id, "body": text, "public": True, "author_role": "customer", "created_at": at},
        }
    ).encode()


def counts(runtime) -> tuple[int, int, int]:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        return tuple(  # type: ignore[return-value]
            session.execute(select(func.count()).select_from(m)).scalar_one() for m in (Delivery, Ticket, TicketLog)
        )


def test_a_batch_records_and_applies_each_delivery_in_order_with_duplicates_reported(runtime):
    created = load_fixture("generic", "ticket_created__full")  # T-100, "Charged twice for November"
    batch = [
        pending(runtime, created, "msg_1"),
        pending(runtime, comment("T-100", "c1", "I want a refund or I will cancel my account."), "msg_2"),
        pending(runtime, created, "msg_1"),  # the first again, within the batch
        pending(runtime, comment("T-200", "c2", "How do I export my data to CSV?"), "msg_3"),
    ]
    results = accept_many(runtime, batch)
    assert [r.status for r in results if isinstance(r, Accepted)] == ["accepted", "accepted", "duplicate", "accepted"]
    assert [r.events for r in results if isinstance(r, Accepted)] == [1, 1, 0, 1]
    assert counts(runtime) == (3, 2, 3)
    with session_scope(runtime.sessions) as session:
        ticket = session.execute(select(Ticket).where(Ticket.external_id == "T-100")).scalar_one()
        signals = set(session.execute(select(RiskSignal.signal).where(RiskSignal.ticket_id == ticket.id)).scalars())
        assert ticket.is_complaint and {"refund_request", "cancel_intent"} <= signals
        logged = session.execute(select(TicketLog.delivery_id).where(TicketLog.ticket_id == ticket.id)).scalars()
        rows = {r.delivery_id: r.id for r in session.execute(select(Delivery)).scalars()}
        assert sorted(logged) == sorted([rows["msg_1"], rows["msg_2"]])
    # the same deliveries again: every one a duplicate, nothing changes
    again = accept_many(runtime, batch)
    assert [r.status for r in again if isinstance(r, Accepted)] == ["duplicate"] * 4
    assert counts(runtime) == (3, 2, 3)


def test_a_delivery_that_fails_to_apply_fails_alone_and_the_others_of_its_batch_are_stored(runtime):
    def refuse(ctx, ticket, ev) -> None:  # noqa: ANN001
        if ev.external_id == "BAD":
            raise RuntimeError("this ticket cannot be applied")

    runtime.steps.ticket.append(refuse)
    batch = [
        pending(runtime, comment("T-1", "c1", "first"), "msg_1"),
        pending(runtime, comment("BAD", "c2", "second"), "msg_2"),
        pending(runtime, comment("T-3", "c3", "third"), "msg_3"),
    ]
    results = accept_many(runtime, batch)
    assert isinstance(results[1], RuntimeError) and "cannot be applied" in str(results[1])
    assert [r.status for r in (results[0], results[2])] == ["accepted", "accepted"]  # type: ignore[union-attr]
    assert counts(runtime) == (2, 2, 2)  # the failing delivery left nothing behind
    with session_scope(runtime.sessions) as session:
        assert set(session.execute(select(Delivery.delivery_id)).scalars()) == {"msg_1", "msg_3"}


def test_concurrent_deliveries_share_a_transaction_and_a_failing_one_becomes_a_dead_letter(
    server, runtime, monkeypatch
):
    gate, entered = threading.Event(), threading.Event()

    def hold(ctx, ticket, ev) -> None:  # noqa: ANN001
        if ev.external_id == "SLOW":
            entered.set()
            gate.wait(10)
        if ev.external_id == "BAD":
            raise RuntimeError("this ticket cannot be applied")

    runtime.steps.ticket.append(hold)
    sizes: list[int] = []
    real = inbox.accept_many

    def spy(rt, batch):  # noqa: ANN001, ANN202
        sizes.append(len(batch))
        return real(rt, batch)

    monkeypatch.setattr(inbox, "accept_many", spy)
    codes: dict[str, int] = {}

    def post(ticket: str, n: int) -> None:
        body = comment(ticket, f"c{n}", f"comment {n}")
        codes[ticket] = server.post_signed("generic", body, delivery_id=f"msg_{n}").status_code

    first = threading.Thread(target=post, args=("SLOW", 0))
    first.start()
    assert entered.wait(10)
    others = [threading.Thread(target=post, args=(t, n)) for n, t in enumerate(["T-1", "BAD", "T-2", "T-3"], 1)]
    for t in others:
        t.start()
    committer = inbox.group_commit(runtime)
    assert wait_until(lambda: committer.waiting == 4)
    gate.set()
    for t in [first, *others]:
        t.join(30)
    assert sizes == [1, 4]
    assert codes == {"SLOW": 202, "T-1": 202, "BAD": 500, "T-2": 202, "T-3": 202}
    with session_scope(runtime.sessions) as session:
        states = dict(session.execute(select(Delivery.delivery_id, Delivery.state)).all())
    assert states == {
        "msg_0": "processed",
        "msg_1": "processed",
        "msg_2": "dead",
        "msg_3": "processed",
        "msg_4": "processed",
    }
    assert counts(runtime)[1:] == (4, 4)


def test_batches_of_two_processes_that_deadlock_are_then_accepted_one_by_one(runtime, caplog):
    requires_postgres()
    caplog.set_level(logging.INFO, logger="helpdesk_retain.inbox")
    other = build_runtime(runtime.settings)  # another process's runtime: its own engine, pool and batches
    try:
        tickets = ("X-1", "X-2")
        assert all(
            isinstance(r, Accepted)
            for r in accept_many(runtime, [pending(runtime, comment(t, f"c-{t}", "x"), f"m-{t}") for t in tickets])
        )
        # a batch locks its own tickets together, in one order; a deadlock needs rows locked one at a time: each
        # batch's first delivery locks one of, waits for the other batch to lock the other, asks for it
        meet, met, lock = threading.Barrier(2, timeout=10), [0], threading.Lock()
        crossing = {"a": tickets, "b": tickets[::-1]}

        def cross(ctx, ticket, ev) -> None:  # noqa: ANN001
            with lock:
                first = met[0] < 2
                met[0] += 1
            if first:
                mine, theirs = crossing[ev.external_id[0]]
                locked = "SELECT id FROM tickets WHERE external_id = :e FOR UPDATE"
                ctx.session.execute(text(locked), {"e": mine})
                meet.wait()
                ctx.session.execute(text(locked), {"e": theirs})

        runtime.steps.ticket.append(cross)
        other.steps.ticket.append(cross)
        results: dict[str, list[Any]] = {}

        def run(name: str, rt: Any) -> None:
            results[name] = accept_many(
                rt, [pending(rt, comment(f"{name}-{n}", f"c{n}", "y"), f"{name}{n}") for n in (1, 2)]
            )

        threads = [threading.Thread(target=run, args=args) for args in (("a", runtime), ("b", other))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        outcomes = results["a"] + results["b"]
        assert [r.status for r in outcomes if isinstance(r, Accepted)] == ["accepted"] * 4, outcomes
        assert counts(runtime) == (6, 6, 6)
        assert "met a conflict" in caplog.text  # PostgreSQL broke the deadlock; that batch went one by one
    finally:
        other.close()
