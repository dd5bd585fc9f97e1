"""Sending the platform's queued emails through a real (in-process) SMTP server.

The server is aiosmtpd on a free local port; its handler records every message it accepts and
can be told to refuse recipients with a 451 (try later) or a 550 (never). Every test sends all
that is due in the session's database (other tests' emails too), so each one checks its own
recipients and that no message arrived twice.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import email
import email.policy
import socket
import uuid

import msgspec
import pytest
import sqlalchemy as sa
import structlog
from aiosmtpd.controller import Controller

from anima.config import Settings
from anima.db.engine import Database
from anima.mail import mailbox
from anima.mail.messages import queue_email
from anima.mail.sender import backoff, send_due_emails
from tests.conftest import signup, unique_email


class RecordingHandler:
    """Accepts and records messages; ``refuse`` = "451 ..." or "550 ..." refuses recipients instead."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802, ARG002
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ARG002
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def to(self, recipient: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == recipient]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> RecordingHandler:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    handler.port = controller.port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings: Settings, smtp: RecordingHandler) -> Settings:
    return msgspec.structs.replace(settings, smtp_url=f"smtp://127.0.0.1:{smtp.port}")  # type: ignore[attr-defined]


async def _queue(db: Database, recipient: str, *, subject: str = "Hello", body: str = "Body text") -> uuid.UUID:
    async with db.sessionmaker()() as session:
        async with session.begin():
            queued = await queue_email(session, recipient=recipient, subject=subject, body=body, kind="test")
    return queued.id


async def _row(db: Database, email_id: uuid.UUID) -> dict:
    async with db.admin.connect() as conn:
        row = (await conn.execute(
            sa.text("SELECT status, attempts, next_attempt_at, last_error, sent_at FROM platform.email_outbox WHERE id = :i"),
            {"i": email_id},
        )).mappings().one()
    return dict(row)


async def test_a_queued_invitation_arrives_once_with_its_recipient_and_subject(client, db, smtp, smtp_settings):
    org = await signup(client)
    invitee = unique_email("invitee")
    invited = await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": invitee, "role": "THERAPIST"}, headers=org.headers)
    assert invited.status_code == 201, invited.text

    report = await send_due_emails(db, settings=smtp_settings, limit=500)
    again = await send_due_emails(db, settings=smtp_settings, limit=500)

    arrived = smtp.to(invitee)
    assert len(arrived) == 1 and again.sent == []
    message = arrived[0]
    assert message["Subject"] == f"You are invited to join Practice {org.slug} on Anima"
    assert message["From"].addresses[0].display_name == f"Practice {org.slug}" and message["Message-ID"]  # the organization's name
    assert message["From"].addresses[0].addr_spec == "no-reply@anima.example"  # ANIMA_MAIL_FROM's address
    assert "/invitations/" in message.get_body(preferencelist=("plain",)).get_content()
    async with db.admin.connect() as conn:
        row = (await conn.execute(sa.text(
            "SELECT id, status, attempts, sent_at FROM platform.email_outbox WHERE recipient = :r"), {"r": invitee})).one()
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None and row.id in report.sent


async def test_two_concurrent_senders_never_send_a_message_twice(db, smtp, smtp_settings):
    recipients = [unique_email(f"many{i}") for i in range(30)]
    for recipient in recipients:
        await _queue(db, recipient)

    reports = await asyncio.gather(*(send_due_emails(db, settings=smtp_settings, limit=7) for _ in range(2)))
    while any(r.sent for r in reports):  # each run takes a few; run both again until nothing is left
        reports = await asyncio.gather(*(send_due_emails(db, settings=smtp_settings, limit=7) for _ in range(2)))

    counts = collections.Counter(m["To"] for m in smtp.messages)
    assert all(counts[r] == 1 for r in recipients), {r: counts[r] for r in recipients}
    ids = collections.Counter(m["Message-ID"] for m in smtp.messages)
    assert max(ids.values()) == 1


async def test_a_451_puts_the_message_back_in_the_queue_with_a_later_attempt(db, smtp, smtp_settings):
    email_id = await _queue(db, unique_email("later"))
    smtp.refuse = "451 4.3.0 Try again later"
    before = datetime.datetime.now(datetime.UTC)
    report = await send_due_emails(db, settings=smtp_settings, limit=500)

    row = await _row(db, email_id)
    assert email_id in report.retrying and smtp.messages == []
    assert row["status"] == "queued" and row["attempts"] == 1 and row["sent_at"] is None
    assert row["next_attempt_at"] >= before + backoff(1) - datetime.timedelta(seconds=1)
    assert row["last_error"].startswith("451")
    # not due yet: a second run leaves it alone
    assert email_id not in (await send_due_emails(db, settings=smtp_settings, limit=500)).retrying
    assert (await _row(db, email_id))["attempts"] == 1


async def test_a_550_fails_the_message_with_the_reason(db, smtp, smtp_settings):
    email_id = await _queue(db, unique_email("never"))
    smtp.refuse = "550 5.1.1 No such user here"
    report = await send_due_emails(db, settings=smtp_settings, limit=500)

    row = await _row(db, email_id)
    assert email_id in report.failed
    assert row["status"] == "failed" and row["attempts"] == 1
    assert row["last_error"] == "550 5.1.1 No such user here"


async def test_an_unreachable_server_is_a_transient_failure(db, settings):
    email_id = await _queue(db, unique_email("unreachable"))
    nowhere = msgspec.structs.replace(settings, smtp_url=f"smtp://127.0.0.1:{_free_port()}")
    report = await send_due_emails(db, settings=nowhere, limit=500)
    row = await _row(db, email_id)
    assert email_id in report.retrying and row["status"] == "queued" and row["attempts"] == 1


async def test_a_message_left_sending_by_a_crashed_sender_is_claimed_again(db, smtp, smtp_settings):
    recipient = unique_email("stale")
    email_id = await _queue(db, recipient)
    fresh_id = await _queue(db, unique_email("fresh-lease"))
    async with db.admin.begin() as conn:  # as a sender that claimed them and died: one lease ran out, one did not
        await conn.execute(sa.text(
            "UPDATE platform.email_outbox SET status = 'sending', attempts = 1, "
            "next_attempt_at = now() - interval '1 minute' WHERE id = :i"), {"i": email_id})
        await conn.execute(sa.text(
            "UPDATE platform.email_outbox SET status = 'sending', attempts = 1, "
            "next_attempt_at = now() + interval '4 minutes' WHERE id = :i"), {"i": fresh_id})

    report = await send_due_emails(db, settings=smtp_settings, limit=500)

    assert email_id in report.sent and fresh_id not in report.sent
    assert len(smtp.to(recipient)) == 1
    row = await _row(db, email_id)
    assert row["status"] == "sent" and row["attempts"] == 2
    assert (await _row(db, fresh_id))["status"] == "sending"


async def test_logs_name_ids_never_subject_or_body(db, smtp, smtp_settings):
    secret_subject = f"Subject-{uuid.uuid4().hex}"
    secret_body = f"Body-{uuid.uuid4().hex} https://example.org/t/{uuid.uuid4().hex}"
    sent_id = await _queue(db, unique_email("logged"), subject=secret_subject, body=secret_body)
    with structlog.testing.capture_logs() as logs:
        await send_due_emails(db, settings=smtp_settings, limit=500)
        failed_id = await _queue(db, unique_email("logged-fail"), subject=secret_subject, body=secret_body)
        smtp.refuse = "550 5.1.1 nobody"
        await send_due_emails(db, settings=smtp_settings, limit=500)
    text = repr(logs)
    assert str(sent_id) in text and str(failed_id) in text
    assert secret_subject not in text and secret_body.split()[0] not in text and "example.org/t/" not in text
    assert "logged" not in text  # not even the address


async def test_without_smtp_url_messages_go_to_the_local_mailbox(db, settings, tmp_path):
    local = msgspec.structs.replace(settings, smtp_url=None, data_dir=tmp_path)
    recipient = unique_email("local")
    email_id = await _queue(db, recipient, subject="Welcome to the mailbox", body="Open https://example.org/x\n")
    report = await send_due_emails(db, settings=local, limit=500)

    assert email_id in report.sent and (await _row(db, email_id))["status"] == "sent"
    saved = mailbox.read(local, email_id)
    assert saved is not None and saved.recipient == recipient and saved.subject == "Welcome to the mailbox"
    assert "https://example.org/x" in saved.body
    parsed = email.message_from_bytes((tmp_path / "mailbox" / f"{email_id}.eml").read_bytes(), policy=email.policy.default)
    assert parsed["To"] == recipient and parsed["From"] == settings.mail_from
    assert mailbox.messages(local)[0].date >= mailbox.messages(local)[-1].date


async def test_a_message_that_keeps_failing_transiently_is_given_up(db, smtp, smtp_settings):
    from anima.mail.sender import MAX_ATTEMPTS

    email_id = await _queue(db, unique_email("tired"))
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("UPDATE platform.email_outbox SET attempts = :a WHERE id = :i"), {"a": MAX_ATTEMPTS - 1, "i": email_id})
    smtp.refuse = "451 4.3.0 Still busy"
    report = await send_due_emails(db, settings=smtp_settings, limit=500)
    row = await _row(db, email_id)
    assert email_id in report.failed and row["status"] == "failed" and row["attempts"] == MAX_ATTEMPTS
    assert row["last_error"].startswith(f"gave up after {MAX_ATTEMPTS} attempts: 451")


def test_backoff_doubles_from_a_minute_up_to_an_hour():
    assert [backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(30) == datetime.timedelta(hours=1)


def test_the_worker_sends_mail_every_minute(db):
    from croniter import croniter

    from anima.jobs import mail as mail_jobs
    from anima.jobs.worker import build_worker
    from anima.runtime import build_runtime
    from tests.integration.events_support import queue_settings

    worker = build_worker(build_runtime(queue_settings("postgres"), db), handle_signals=False)
    crons = {c.function.__qualname__: c for c in worker.cron_jobs}
    assert "send_emails" in crons and "send_emails" in worker.functions
    assert crons["send_emails"].unique and crons["send_emails"].cron == mail_jobs.MAIL_CRON
    fires = croniter(mail_jobs.MAIL_CRON, 0)
    assert fires.get_next() - fires.get_next() == -60


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_a_refused_login_keeps_the_messages_queued_and_a_right_one_sends_them(db, smtp):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ARG001
        text = [v.decode() if isinstance(v, bytes) else v for v in (auth_data.login, auth_data.password)] \
            if isinstance(auth_data, LoginPassword) else None
        return AuthResult(success=text == ["anima", "s3cr%t"], handled=False)

    controller = Controller(smtp, hostname="127.0.0.1", port=_free_port(), authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    try:
        from anima.config import load_settings
        from tests.conftest import test_environ

        base = load_settings(test_environ())
        recipient = unique_email("login")
        email_id = await _queue(db, recipient)
        wrong = msgspec.structs.replace(base, smtp_url=f"smtp://anima:wrong@127.0.0.1:{controller.port}")
        report = await send_due_emails(db, settings=wrong, limit=500)
        row = await _row(db, email_id)
        assert email_id in report.retrying and row["status"] == "queued" and row["last_error"].startswith("535")
        assert report.failed == [] and smtp.to(recipient) == []

        async with db.admin.begin() as conn:
            await conn.execute(sa.text("UPDATE platform.email_outbox SET next_attempt_at = now() WHERE id = :i"), {"i": email_id})
        right = msgspec.structs.replace(base, smtp_url=f"smtp://anima:s3cr%25t@127.0.0.1:{controller.port}")
        assert email_id in (await send_due_emails(db, settings=right, limit=500)).sent
        assert len(smtp.to(recipient)) == 1
    finally:
        controller.stop()


def test_the_local_mailbox_prunes_messages_older_than_its_keep(settings, tmp_path):
    import os
    import time
    from email.message import EmailMessage

    local = msgspec.structs.replace(settings, smtp_url=None, data_dir=tmp_path)
    old_id, new_id = uuid.uuid4(), uuid.uuid4()
    for email_id in (old_id, new_id):
        message = EmailMessage()
        message["Subject"] = "kept?"
        message.set_content("body")
        mailbox.deliver(local, email_id, message)
    stranger = mailbox.directory(local) / "notes.eml"
    stranger.write_text("not ours")
    week_ago = time.time() - 15 * 86400
    for path in (mailbox.directory(local) / f"{old_id}.eml", stranger):
        os.utime(path, (week_ago, week_ago))

    assert mailbox.prune(local) == 1
    assert [m.id for m in mailbox.messages(local)] == [new_id] and stranger.exists()
    assert mailbox.prune(local, older_than=datetime.timedelta(0), now=datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=5)) == 1
    assert mailbox.messages(local) == []
    assert mailbox.prune(msgspec.structs.replace(settings, data_dir=tmp_path / "nowhere")) == 0
