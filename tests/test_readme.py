"""The README's first command and its curl example work on a fresh folder."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- curl-example -->", 1)[1].split("<!-- /curl-example -->", 1)[0]
    return block.split("```sh", 1)[1].rsplit("```", 1)[0]


def test_the_readme_commands_start_the_service_and_the_curl_example_is_accepted(tmp_path: Path):
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[3] == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/helpdesk-retain serve"
    assert lines[7] == "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest"
    port = free_port()
    exe = Path(sys.executable).parent / "helpdesk-retain"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_RETAIN")}
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        out = ""
        deadline = time.monotonic() + 60
        while "listening on" not in out and time.monotonic() < deadline:
            out += proc.stdout.readline()  # type: ignore[union-attr]
        secret = re.search(r"(whsec_\S+)", out).group(1)  # type: ignore[union-attr]
        token = re.search(r"(hr_\S+)", out).group(1)  # type: ignore[union-attr]
        script = (
            curl_example()
            .replace("SECRET='whsec_...'", f"SECRET='{secret}'")
            .replace("TOKEN='hr_...'", f"TOKEN='{token}'")
        )
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            env={**env, "URL": f"http://127.0.0.1:{port}"},
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert '"status":"accepted"' in result.stdout.replace(" ", "")
        assert '"external_id":"T-1"' in result.stdout.replace(" ", "")
        assert (tmp_path / "helpdesk-retain.db").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
