"""Email notifier against a real SMTP server (aiosmtpd): MIME shape, TLS, AUTH, failures, outbox files."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme

from helpdesk_retain.config import ConfigError, settings_from_dict
from helpdesk_retain.notify import InlineImage, PermanentError, TransientError
from helpdesk_retain.notify.channels import notifier_class
from helpdesk_retain.plugins.email.notifier import Config, EmailNotifier
from helpdesk_retain.testing import SmtpSink, free_port, sample_message

#: a 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f00"
    "05000201e2215b3c0000000049454e44ae426082"
)


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def notifier(tmp_path: Path, smtp: dict[str, Any] | None = None, **config: Any) -> EmailNotifier:
    data: dict[str, Any] = {"outbox": {"path": str(tmp_path / "outbox")}}
    if smtp is not None:
        data["smtp"] = smtp
    return EmailNotifier(Config(plugin="email", **config), settings_from_dict(data, environ={}))


def test_the_email_channel_is_registered_under_its_entry_point():
    assert notifier_class("email") is EmailNotifier


def test_a_reminder_arrives_as_text_and_html_with_the_ticket_links(smtp, tmp_path):
    notifier(tmp_path, smtp.settings(sender="Helpdesk <bot@support.example.com>")).send(sample_message())
    [mail] = smtp.received
    msg = mail.message
    assert (mail.mail_from, mail.rcpt_tos) == ("bot@support.example.com", ["sam@example.com"])
    assert msg["Subject"] == "Follow up: 2 customers can hear their bug is fixed"
    assert msg["Message-ID"] == f"<{sample_message().uid}@support.example.com>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for link in ("https://acme.zendesk.com/agent/tickets/35436", "https://acme.zendesk.com/agent/tickets/35502"):
        assert link in text and f'href="{link}"' in html
    assert "https://github.com/acme/app/issues/123" in text
    assert "Card declined &lt;twice&gt; &amp; charged" in html  # ticket text is escaped in HTML


def test_inline_images_travel_in_a_related_part_referenced_by_cid(smtp, tmp_path):
    message = replace(
        sample_message(),
        html='<p>Chart</p><img src="cid:chart-1">',
        images=(InlineImage("chart-1", "image/png", PNG),),
    )
    notifier(tmp_path, smtp.settings()).send(message)
    msg = smtp.received[0].message
    related = msg.get_payload()[1]
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert 'src="cid:chart-1"' in html.get_content()
    assert (image.get_content_type(), image["Content-ID"], image.get_content()) == ("image/png", "<chart-1>", PNG)


def test_without_smtp_each_message_is_an_eml_file_named_by_its_uid_and_a_retry_replaces_it(tmp_path):
    email = notifier(tmp_path)
    email.send(sample_message())
    email.send(sample_message())
    files = list((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == [f"{sample_message().uid}.eml"]  # no second file, no temporary left over
    raw = files[0].read_bytes()
    assert b"\r\nSubject: Follow up: 2 customers can hear their bug is fixed\r\n" in raw
    assert b"To: sam@example.com" in raw


def test_an_unwritable_outbox_is_a_transient_failure(tmp_path):
    (tmp_path / "outbox").write_text("a file where the folder should be")
    with pytest.raises(TransientError, match="outbox"):
        notifier(tmp_path).send(sample_message())


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, str]:
    """A server context with a certificate for 127.0.0.1 from a private CA, and that CA's PEM file."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server, str(ca_file)


def test_starttls_and_auth_are_used_when_configured(tls, tmp_path):
    server, ca_file = tls
    sink = SmtpSink(tls_context=server, require_starttls=True, auth=("bot", "s3cret")).start()
    try:
        cfg = sink.settings(starttls=True, username="bot", password="s3cret")
        notifier(tmp_path, cfg, ca_file=ca_file).send(sample_message())
        with pytest.raises(PermanentError, match="535"):
            notifier(tmp_path, {**cfg, "password": "wrong"}, ca_file=ca_file).send(sample_message())
    finally:
        sink.stop()
    assert len(sink.received) == 1


def test_implicit_tls_is_used_when_ssl_is_set(tls, tmp_path):
    server, ca_file = tls
    sink = SmtpSink(ssl_context=server).start()
    try:
        notifier(tmp_path, sink.settings(ssl=True), ca_file=ca_file).send(sample_message())
        with pytest.raises(TransientError, match="CERTIFICATE_VERIFY_FAILED"):  # not our CA: refused
            notifier(tmp_path, sink.settings(ssl=True)).send(sample_message())
    finally:
        sink.stop()
    assert len(sink.received) == 1


def test_a_refused_connection_is_transient_for_the_whole_channel(tmp_path):
    with pytest.raises(TransientError) as caught:
        notifier(tmp_path, {"host": "127.0.0.1", "port": free_port()}).send(sample_message())
    assert caught.value.whole_channel and "ConnectionRefusedError" in str(caught.value)


def test_smtp_4xx_is_transient_and_5xx_permanent(smtp, tmp_path):
    email = notifier(tmp_path, smtp.settings())
    smtp.reject = (452, "4.2.2 Mailbox full")
    with pytest.raises(TransientError, match="452 4.2.2 Mailbox full") as caught:
        email.send(sample_message())
    assert not caught.value.whole_channel
    smtp.reject = (421, "4.7.0 Too many connections")
    with pytest.raises(TransientError) as caught:
        email.send(sample_message())
    assert caught.value.whole_channel
    smtp.reject = (550, "5.1.1 No such user")
    with pytest.raises(PermanentError, match="550 5.1.1 No such user"):
        email.send(sample_message())


def test_one_connection_carries_several_messages(smtp, tmp_path):
    with notifier(tmp_path, smtp.settings()).connection() as send:
        smtp.reject = (550, "5.1.1 No such user")
        with pytest.raises(PermanentError):
            send(sample_message(row_id=1))
        smtp.reject = None
        for row_id in (2, 3):
            send(sample_message(row_id=row_id))
    assert [m.message["Message-ID"].split("_")[1] for m in smtp.received] == ["2", "3"]


def test_a_recipient_that_is_not_an_address_fails_permanently(smtp, tmp_path):
    with pytest.raises(PermanentError, match="not an email address"):
        notifier(tmp_path, smtp.settings()).send(replace(sample_message(), recipient="#support"))


def test_a_subject_with_line_breaks_stays_one_header(smtp, tmp_path):
    message = replace(sample_message(), subject="Follow up:\r\n Bcc: everyone@example.com")
    notifier(tmp_path, smtp.settings(), subject_prefix="[hd] ").send(message)
    msg = smtp.received[0].message
    assert msg["Subject"] == "[hd] Follow up: Bcc: everyone@example.com" and msg["Bcc"] is None


def test_a_chinese_subject_and_sender_name_arrive_intact(smtp, tmp_path):
    message = replace(sample_message(), subject="跟进：您报告的问题已修复", text="您好，问题已修复。")
    notifier(tmp_path, smtp.settings(sender="客服机器人 <bot@example.com>")).send(message)
    msg = smtp.received[0].message
    assert msg["Subject"] == "跟进：您报告的问题已修复" and msg["From"] == "客服机器人 <bot@example.com>"
    assert msg.get_body(("plain",)).get_content() == "您好，问题已修复。"
    assert smtp.received[0].raw.isascii()  # headers encoded, bodies base64: 7-bit clean on the wire


def test_an_unknown_key_of_the_email_channel_stops_startup():
    with pytest.raises(ConfigError, match=r"notify\.channels\.email\.host: Extra inputs are not permitted"):
        settings_from_dict({"notify": {"channels": {"email": {"plugin": "email", "host": "x"}}}}, environ={})
