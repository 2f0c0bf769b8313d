"""Start-up objects out of the garbage collector's walks (``warmup``): for the length of an import, for good in a
server process."""

from __future__ import annotations

import gc
import subprocess
import sys

from helpdesk_retain.tagging import tagger
from helpdesk_retain.warmup import settled


def test_settled_builds_the_rules_freezes_for_its_length_and_the_last_block_to_end_unfreezes(runtime):
    assert gc.get_freeze_count() == 0
    with settled(runtime):
        frozen = gc.get_freeze_count()
        assert frozen > 0
        # the runtime's tagger was built before the freeze (its ~100,000 objects are among the frozen ones)
        assert id(runtime.settings.tagging) in tagger._BY_SECTION and frozen > 10_000
        with settled(runtime):
            pass
        assert gc.get_freeze_count() >= frozen  # an inner block ending leaves the outer one's freeze
    assert gc.get_freeze_count() == 0


def test_settle_freezes_for_good():
    # in a child process: a freeze for good would stay in this test process
    code = (
        "import gc\n"
        "from helpdesk_retain.config import settings_from_dict\n"
        "from helpdesk_retain.runtime import build_runtime\n"
        "from helpdesk_retain.warmup import settle, settled\n"
        "rt = build_runtime(settings_from_dict({'database': {'url': 'sqlite://'}}, environ={}))\n"
        "settle(rt)\n"
        "with settled(rt):\n"
        "    pass\n"
        "print(gc.get_freeze_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert int(out) > 10_000
