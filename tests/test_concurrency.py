"""Deliveries racing each other apply exactly once (the unique constraint decides, not a check)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models import Delivery, Ticket, TicketLog
from helpdesk_retain.testing import load_fixture


def test_concurrent_duplicate_deliveries_from_threads_apply_exactly_once(server, runtime):
    body = load_fixture("generic", "comment_created__customer")
    headers = server.integration("generic").sign(body, delivery_id="msg_race")
    barrier = threading.Barrier(8)
    codes: list[int] = []

    def post() -> None:
        barrier.wait()
        codes.append(server.post("generic", body, headers).status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 7 + [202]
    with session_scope(runtime.sessions) as session:
        assert session.execute(select(func.count()).select_from(Delivery)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(TicketLog)).scalar_one() == 1


def test_different_deliveries_creating_the_same_ticket_concurrently_make_one_ticket(server, runtime):
    body = load_fixture("generic", "ticket_created__full")
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def post(i: int) -> None:
        headers = server.integration("generic").sign(body, delivery_id=f"msg_{i}")
        barrier.wait()
        codes.append(server.post("generic", body, headers).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [202] * 6
    with session_scope(runtime.sessions) as session:
        assert session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(TicketLog)).scalar_one() == 1


def test_sqlite_writers_of_one_process_queue_and_a_broken_transaction_does_not_keep_the_lock(tmp_path):
    from sqlalchemy import Column, Integer, MetaData, Table, insert, text

    from helpdesk_retain.db import make_engine

    # a short busy timeout: threads must queue on the process's writer lock, not time out on SQLite's
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}", busy_timeout_ms=2000)
    table = Table("w", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer))
    table.metadata.create_all(engine)
    broken = engine.connect()
    broken.begin()
    broken.execute(text("SELECT 1"))
    broken.invalidate()  # mid-transaction: its lock must be released
    broken.close()
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(40):
                with engine.begin() as conn:
                    conn.execute(insert(table).values(n=worker * 100 + n))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 320
    engine.dispose()
