"""``helpdesk-retain user create`` and ``user set-password`` as real subprocesses; the user signs in."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk_retain.db import session_scope
from helpdesk_retain.models.users import User
from helpdesk_retain.testing import GENERIC_TEST_SECRET
from helpdesk_retain.web.accounts import verify_password


def cli(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpdesk_retain.cli", *args],
        input=stdin, capture_output=True, text=True, cwd=cwd, check=False,
    )  # fmt: skip


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "hr.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n\n[sources.generic]\nplugin = "generic"\nsecret = "{GENERIC_TEST_SECRET}"\n'
    )
    return path


def stored(runtime, email: str) -> User | None:  # noqa: ANN001
    with session_scope(runtime.sessions) as session:
        return session.execute(select(User).where(User.email == email)).scalar_one_or_none()


def test_user_create_reads_the_password_from_stdin_and_stores_only_an_argon2_hash(config_file, runtime):
    result = cli("user", "create", "Lee@Example.com", "--role", "lead", "--password-stdin", "--config",
                 str(config_file), stdin="a long enough password\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "created lead lee@example.com"
    user = stored(runtime, "lee@example.com")
    assert user is not None and user.role == "lead" and user.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in user.password_hash
    assert verify_password(user, "a long enough password")


def test_user_create_refuses_a_short_password_and_a_duplicate(config_file, runtime):
    args = ("user", "create", "kim@example.com", "--password-stdin", "--config", str(config_file))
    short = cli(*args, stdin="short\n")
    assert short.returncode == 1 and "12 to 1024 characters" in short.stderr
    assert cli(*args, stdin="a long enough password\n").returncode == 0
    again = cli(*args, stdin="another long password\n")
    assert again.returncode == 1 and "has an account already" in again.stderr


def test_set_password_changes_it_and_ends_the_users_sessions(config_file, runtime):
    cli(
        "user",
        "create",
        "kim@example.com",
        "--password-stdin",
        "--config",
        str(config_file),
        stdin="first password 1\n",
    )
    epoch = stored(runtime, "kim@example.com").session_epoch
    result = cli("user", "set-password", "kim@example.com", "--password-stdin", "--config", str(config_file),
                 stdin="second password 2\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    user = stored(runtime, "kim@example.com")
    assert verify_password(user, "second password 2") and not verify_password(user, "first password 1")
    assert user.session_epoch == epoch + 1


def test_init_writes_a_web_secret_key_into_the_config(tmp_path: Path):
    result = cli("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    web = tomllib.loads((tmp_path / "helpdesk-retain.toml").read_text())["web"]
    assert len(web["secret_key"]) >= 40
    assert "user create" in result.stdout
