"""SMTP over TLS against aiosmtpd: STARTTLS (smtp://) and implicit TLS (smtps://), with a
certificate made in the test by ``cryptography`` — verified like any server's (an untrusted one
keeps the messages queued, never sends them in clear)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl

import msgspec
import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from anima.mail.sender import send_due_emails
from tests.conftest import unique_email
from tests.integration.test_mail_sender import RecordingHandler, _free_port, _queue, _row


class TlsRecorder(RecordingHandler):
    """Records, with each message, whether its session ran over TLS."""

    def __init__(self) -> None:
        super().__init__()
        self.over_tls: list[bool] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.over_tls.append(server.transport.get_extra_info("ssl_object") is not None)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate path, key path)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def _server_context(certificate: tuple[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def starttls(certificate):
    handler = TlsRecorder()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), tls_context=_server_context(certificate), require_starttls=True)
    controller.start()
    handler.port = controller.port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def implicit_tls(certificate):
    handler = TlsRecorder()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), ssl_context=_server_context(certificate))
    controller.start()
    handler.port = controller.port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        controller.stop()


async def test_starttls_to_a_trusted_server_sends_over_tls(db, settings, starttls, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])  # trusted like a public CA would be
    recipient = unique_email("starttls")
    email_id = await _queue(db, recipient)
    report = await send_due_emails(db, settings=msgspec.structs.replace(settings, smtp_url=f"smtp://127.0.0.1:{starttls.port}"), limit=500)
    assert email_id in report.sent and len(starttls.to(recipient)) == 1
    assert all(starttls.over_tls)


async def test_an_untrusted_certificate_keeps_the_message_queued(db, settings, starttls, tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    email_id = await _queue(db, unique_email("untrusted"))
    report = await send_due_emails(db, settings=msgspec.structs.replace(settings, smtp_url=f"smtp://127.0.0.1:{starttls.port}"), limit=500)
    row = await _row(db, email_id)
    assert email_id in report.retrying and row["status"] == "queued" and starttls.messages == []


async def test_smtps_is_implicit_tls(db, settings, implicit_tls, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    recipient = unique_email("smtps")
    email_id = await _queue(db, recipient)
    report = await send_due_emails(db, settings=msgspec.structs.replace(settings, smtp_url=f"smtps://127.0.0.1:{implicit_tls.port}"), limit=500)
    assert email_id in report.sent and len(implicit_tls.to(recipient)) == 1 and all(implicit_tls.over_tls)
