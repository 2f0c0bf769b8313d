"""A database that is unavailable answers 503 with Retry-After, and nothing is half-stored."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text

from helpdesk_retain.testing import load_fixture


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``stop()`` cuts every connection (the database 'goes away'
    for this app only, while the real server keeps serving other tests)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.running = True
        # the accept thread and stop() race: a connection accepted while stopping must be closed by one of them
        self.lock = threading.Lock()
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.running:
                    client.close()
                    return
                try:
                    upstream = socket.create_connection(self.target)
                except OSError:
                    client.close()
                    continue
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        with self.lock:
            self.running = False
        # close() alone does not wake a thread blocked in accept(); shutdown() does, and frees the port
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.acceptor.join(timeout=10)
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.fixture
def proxy(db_url: str) -> Iterator[TcpProxy | None]:
    if not db_url.startswith("postgresql"):
        yield None
        return
    parts = urlsplit(db_url)
    live = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield live
    live.stop()


def proxied(db_url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(db_url)
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_it_answers_503_with_retry_after_when_the_database_is_unavailable(start_server, db_url, proxy):
    if proxy is not None:
        server = start_server(extra={"database": {"url": proxied(db_url, proxy)}})
        assert server.post_fixture("generic", "generic", "ticket_created__minimal").status_code == 202
        proxy.stop()
        blocker = None
    else:
        server = start_server(extra={"database": {"busy_timeout_ms": 100}})
        # another process holds SQLite's write lock longer than the busy timeout
        blocker = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
    try:
        answer = server.post_fixture("generic", "generic", "ticket_created__full")
        assert answer.status_code == 503
        assert int(answer.headers["Retry-After"]) > 0
        assert answer.json()["error"] == "database unavailable"
        assert server.http.get(f"{server.url}/readyz").status_code == 503
        assert server.http.get(f"{server.url}/healthz").status_code == 200
    finally:
        if blocker is not None:
            blocker.rollback()
            blocker.close()
    check = create_engine(db_url)
    with check.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tickets WHERE external_id = 'T-100'")).scalar_one() == 0
    check.dispose()


def test_the_help_desk_retry_succeeds_once_the_database_is_back(start_server, db_url):
    server = start_server(extra={"database": {"busy_timeout_ms": 100}})
    body = load_fixture("generic", "ticket_created__full")
    headers = server.integration("generic").sign(body, delivery_id="msg_retry")
    if db_url.startswith("sqlite"):
        blocker = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        assert server.post("generic", body, headers).status_code == 503
        blocker.rollback()
        blocker.close()
    assert server.post("generic", body, headers).status_code == 202
    assert server.ticket("generic", "T-100")["subject"] == "Charged twice for November"
