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
