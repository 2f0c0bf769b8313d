"""Email notifier: SMTP from ``[smtp]`` (STARTTLS or implicit TLS, optional AUTH), else ``.eml`` files.

SMTP replies decide retries (RFC 5321 §4.2.1): a 4yz reply is a transient failure, a 5yz reply a permanent
one; 421 means the server is closing the connection (busy, rate limit), so the channel waits. Refused or
timed-out connections are transient. One connection serves every message of a delivery run; a connection
idle for a while is checked with NOOP first, because servers drop idle clients.

Without ``[smtp]`` each message is written to ``[outbox] path`` as ``<uid>.eml`` through a temporary file
and an atomic rename: a reader never sees half a file, and a retry replaces the file rather than adding one.
"""

from __future__ import annotations

import base64
import os
import smtplib
import ssl
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email.encoders import encode_base64
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

from helpdesk_retain.config import Settings, SmtpSettings
from helpdesk_retain.notify.contract import (
    InlineImage,
    Notifier,
    NotifierConfig,
    NotifierError,
    OutboundMessage,
    PermanentError,
    Sender,
    TransientError,
)

#: a connection unused this long is checked with NOOP before the next message
IDLE_CHECK_SECONDS = 5.0


class _SmtpPolicy(Compat32):
    """compat32 with CRLF line ends that folds a plain ASCII header itself, at spaces, to lines of at most 78
    characters where the words allow: the ``Header`` machinery costs ~0.1 ms per header, most of the time of
    flattening a reminder. Values with encoded words or line breaks still go through it."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if not (isinstance(value, str) and value.isascii()) or "\n" in value or "\r" in value:
            return super()._fold(name, value, sanitize)
        if len(name) + len(value) < 77:
            return f"{name}: {value}{self.linesep}"
        lines, line = [], f"{name}:"
        for word in value.split(" "):
            if len(line) + 1 + len(word) > 78 and line.strip() != f"{name}:":
                lines.append(line)
                line = ""
            line += " " + word
        return self.linesep.join([*lines, line]) + self.linesep


SMTP_COMPAT32 = _SmtpPolicy(linesep="\r\n")


class Config(NotifierConfig):
    #: the From address; default: ``[smtp] sender``
    sender: str | None = None
    reply_to: str | None = None
    subject_prefix: str = ""
    #: a PEM bundle of CAs to trust for STARTTLS / SSL instead of the system store (a private mail relay)
    ca_file: str | None = None


def build_mime(message: OutboundMessage, sender: str, reply_to: str | None = None, prefix: str = "") -> Message:
    """The MIME message: text, plus HTML with inline ``cid:`` images when given.

    Structure: ``multipart/alternative`` [``text/plain``, ``multipart/related`` [``text/html``, images]] (without
    images the HTML part stands alone). Built with the ``email.mime`` classes and the compat32 policy: the
    header-parsing ``EmailMessage`` API costs ~10x more per message, which matters at hundreds per second.
    """
    if "@" not in message.recipient:
        raise PermanentError(f"not an email address: {message.recipient!r}")
    msg = _text(message.text, "plain")
    if message.html is not None:
        html = _text(message.html, "html")
        # boundaries with "_", which base64 bodies never contain: no scan of the text for a collision
        if message.images:
            parts = [html, *(_image(image) for image in message.images)]
            html = MIMEMultipart("related", boundary=f"=_{message.uid}_r", _subparts=parts)
        msg = MIMEMultipart("alternative", boundary=f"=_{message.uid}_a", _subparts=[msg, html])
    from_header, _, domain = sender_parts(sender)
    msg["From"] = from_header
    msg["To"] = message.recipient
    msg["Subject"] = _header(" ".join((prefix + message.subject).split()))  # a ticket subject may hold line breaks
    msg["Date"] = format_datetime(message.created_at)
    msg["Message-ID"] = f"<{message.uid}@{domain}>"
    # RFC 3834: automated mail; auto-responders (and Exchange, by its own header) should not answer it
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    if reply_to:
        msg["Reply-To"] = reply_to
    return msg


def to_bytes(msg: Message) -> bytes:
    """The message as sent over SMTP (CRLF line ends; bodies are base64, so no line is too long)."""
    return msg.as_bytes(policy=SMTP_COMPAT32)


@cache
def sender_parts(sender: str) -> tuple[str, str, str]:
    """``(From header, envelope address, domain for Message-IDs)`` of a configured sender."""
    name, address = parseaddr(sender)
    return formataddr((name, address), charset="utf-8"), address, address.rpartition("@")[2] or "localhost"


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def _text(text: str, subtype: str) -> Message:
    """What ``MIMEText(text, subtype, "utf-8")`` makes (base64 body), without its charset machinery."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(text.encode()).decode("ascii"))
    return part


def _image(image: InlineImage) -> Message:
    maintype, _, subtype = image.content_type.partition("/")
    part = MIMEBase(maintype, subtype or "octet-stream")
    part.set_payload(image.data)
    encode_base64(part)
    part["Content-ID"] = f"<{image.cid}>"
    part["Content-Disposition"] = f'inline; filename="{image.cid}"'
    return part


def classify(exc: Exception) -> NotifierError:
    """An smtplib / socket failure as a transient or permanent notifier error."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return _by_code(code, text)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"SMTP server does not support what [smtp] asks for: {exc}")
    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):  # refused, reset, timeout, TLS handshake
        return TransientError(f"SMTP connection: {type(exc).__name__}: {exc}", whole_channel=True)
    return TransientError(f"SMTP: {type(exc).__name__}: {exc}")


def _by_code(code: int, text: bytes | str) -> NotifierError:
    reply = f"SMTP {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if 500 <= code < 600:
        return PermanentError(reply)
    return TransientError(reply, whole_channel=code == 421)


class SmtpConnection:
    """One lazily opened SMTP client; dropped after a connection-level failure and reopened on demand."""

    def __init__(self, cfg: SmtpSettings, tls: ssl.SSLContext) -> None:
        self.cfg, self.tls = cfg, tls
        self.client: smtplib.SMTP | None = None
        self.last_used = 0.0

    def _open(self) -> smtplib.SMTP:
        cfg = self.cfg
        if cfg.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds, context=self.tls)
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
        try:
            if cfg.starttls and not cfg.ssl:
                client.starttls(context=self.tls)
            if cfg.username:
                client.login(cfg.username, cfg.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _client(self) -> smtplib.SMTP:
        if self.client is not None and time.monotonic() - self.last_used > IDLE_CHECK_SECONDS:
            try:
                self.client.noop()
            except (smtplib.SMTPException, OSError):
                self.drop()
        if self.client is None:
            self.client = self._open()
        return self.client

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        try:
            self._client().sendmail(sender, [recipient], data)
        except (smtplib.SMTPException, OSError) as exc:
            error = classify(exc)
            if isinstance(error, TransientError) and error.whole_channel:
                self.drop()
            raise error from exc
        finally:
            self.last_used = time.monotonic()

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def close(self) -> None:
        if self.client is not None:
            with suppress(smtplib.SMTPException, OSError):
                self.client.quit()
            self.drop()


class EmailNotifier(Notifier):
    slug = "email"
    Config = Config
    addresses_people = True

    def __init__(self, config: Config, settings: Settings) -> None:
        super().__init__(config, settings)
        self.smtp = settings.smtp
        self.outbox = Path(settings.outbox.path)
        self.sender = config.sender or (settings.smtp or SmtpSettings()).sender
        self.reply_to = config.reply_to
        self.prefix = config.subject_prefix
        self.ca_file = config.ca_file

    def build(self, message: OutboundMessage) -> bytes:
        return to_bytes(build_mime(message, self.sender, self.reply_to, self.prefix))

    def send(self, message: OutboundMessage) -> None:
        with self.connection() as send:
            send(message)

    @contextmanager
    def connection(self) -> Iterator[Sender]:
        if self.smtp is None:
            yield self.write_eml
            return
        conn = SmtpConnection(self.smtp, ssl.create_default_context(cafile=self.ca_file))
        try:
            envelope_from = sender_parts(self.sender)[1]
            yield lambda message: conn.send(envelope_from, message.recipient, self.build(message))
        finally:
            conn.close()

    def write_eml(self, message: OutboundMessage) -> None:
        """Write ``<outbox>/<uid>.eml`` atomically (temporary file in the same folder, fsync, rename)."""
        data = self.build(message)
        target = self.outbox / f"{message.uid}.eml"
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.outbox, prefix=f".{message.uid}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise TransientError(f"outbox {self.outbox}: {exc}", whole_channel=True) from exc
