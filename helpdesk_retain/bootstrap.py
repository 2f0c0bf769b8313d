"""First start: write a config with generated secrets (``init``, and ``serve`` without a config)."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

CONFIG_TEMPLATE = """# helpdesk-retain configuration, written by `helpdesk-retain init`.
# Every key, its default and its meaning: config.example.toml in the project.

[database]
url = "sqlite:///{db}"

[outbox]
path = "{outbox}"

[web]
# signs dashboard session cookies and CSRF tokens; keep it secret, keep it stable (changing it signs everyone out)
secret_key = "{web_secret}"

[sources.generic]
plugin = "generic"
# Standard Webhooks secret: producers sign with it (see plugins/generic/README.md)
secret = "{secret}"
"""


def new_standard_webhooks_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def write_default_config(path: Path) -> str:
    """Write a config for the embedded default (SQLite beside it, mail to ./outbox); returns the secret."""
    secret = new_standard_webhooks_secret()
    folder = path.resolve().parent
    text = CONFIG_TEMPLATE.format(
        db=folder / "helpdesk-retain.db", outbox=folder / "outbox", secret=secret, web_secret=secrets.token_urlsafe(48)
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return secret
