"""Start-up objects out of the garbage collector's walks (``warmup``): for the length of an import, for good in a
server process. Each case runs in a child process: a freeze is process-wide, and this test process may hold one
for good already (the dashboard's first request freezes)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SETUP = """
import gc
from helpdesk_retain.config import settings_from_dict
from helpdesk_retain.runtime import build_runtime
from helpdesk_retain.tagging import tagger
from helpdesk_retain.warmup import freeze_for_good, settle, settled
rt = build_runtime(settings_from_dict({"database": {"url": "sqlite://"}}, environ={}))
"""

CASES = {
    # an import: the rules are built before the freeze, which lasts until the last (outer) block ends
    "settled": """
        assert gc.get_freeze_count() == 0
        with settled(rt):
            frozen = gc.get_freeze_count()
            assert frozen > 10_000 and id(rt.settings.tagging) in tagger._BY_SECTION
            with settled(rt):
                pass
            assert gc.get_freeze_count() >= frozen
        assert gc.get_freeze_count() == 0
    """,
    # a server process froze for good: an import inside it ending later leaves that freeze
    "settle first": """
        settle(rt)
        with settled(rt):
            pass
        assert gc.get_freeze_count() > 10_000
    """,
    # a gunicorn worker (``create_app()``): the app is built with its rules, and its first request, whatever it is,
    # freezes for good
    "first request": """
        from helpdesk_retain.web_app import build_app
        app = build_app(runtime=rt)
        assert id(rt.settings.tagging) in tagger._BY_SECTION and gc.get_freeze_count() == 0
        assert app.test_client().get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 10_000
        with settled(rt):
            pass
        assert gc.get_freeze_count() > 10_000
    """,
    # the dashboard's first request freezing for good while an import runs: still frozen after the import
    "for good meanwhile": """
        with settled(rt):
            freeze_for_good()
        assert gc.get_freeze_count() > 10_000
    """,
}


@pytest.mark.parametrize("case", CASES)
def test_start_up_objects_are_frozen_while_wanted(case):
    code = SETUP + textwrap.dedent(CASES[case])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
