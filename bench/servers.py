"""Servers the ingest benchmark starts in their own process: ``python bench/servers.py bare|full URL PORT``.

Both run under waitress with the same thread count, so the ratio compares the webhook pipeline (signature,
inbox, parse, apply) with the cheapest useful handler: a Flask view that inserts one row.
"""

from __future__ import annotations

import logging
import sys

import waitress
from flask import Flask, request
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, insert

from helpdesk_retain import create_app
from helpdesk_retain.config import settings_from_dict
from helpdesk_retain.db import make_engine
from helpdesk_retain.testing import GENERIC_TEST_SECRET

THREADS = 8


def bare_app(url: str) -> Flask:
    engine = make_engine(url)
    meta = MetaData()
    table = Table("bench_bare", meta, Column("id", Integer, primary_key=True), Column("body", LargeBinary))
    meta.drop_all(engine)
    meta.create_all(engine)
    app = Flask("bare")

    @app.post("/webhooks/generic")
    def receive() -> tuple[str, int]:
        with engine.begin() as conn:
            conn.execute(insert(table).values(body=request.get_data()))
        return '{"status":"accepted"}', 202

    return app


def full_app(url: str) -> Flask:
    settings = settings_from_dict(
        {
            "database": {"url": url},
            "server": {"replay_window_seconds": 3600},
            "sources": {"generic": {"plugin": "generic", "secret": GENERIC_TEST_SECRET}},
        },
        environ={},
    )
    return create_app(settings)


if __name__ == "__main__":
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N": expected under load
    mode, url, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app = bare_app(url) if mode == "bare" else full_app(url)
    waitress.serve(app, host="127.0.0.1", port=port, threads=THREADS, _quiet=True)
