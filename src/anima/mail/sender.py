"""Delivery of the platform's queued emails: claim, send, record.

:func:`send_due_emails` (run by every worker each minute and once at its start, see
:mod:`anima.jobs.worker`):

1. **Claims** up to ``limit`` due messages in one short transaction: ``queued`` rows whose
   ``next_attempt_at`` has come, and ``sending`` rows whose lease ran out (a sender that crashed
   mid-send), taken ``FOR UPDATE SKIP LOCKED`` so concurrent senders never take the same row. A
   claimed row becomes ``sending``, its ``attempts`` grows by one and ``next_attempt_at`` becomes
   the end of its lease (:data:`LEASE`).
2. **Sends** each one: through ``SMTP_URL`` with aiosmtplib (``smtp://`` upgrades with STARTTLS
   when the server offers it, ``smtps://`` is implicit TLS), or, with no ``SMTP_URL``, into the
   local mailbox (:mod:`anima.mail.mailbox`).
3. **Records** the outcome, each in its own statement guarded by the claim (status ``sending``
   and the claimed ``attempts``): ``sent``; back to ``queued`` after :func:`backoff` for a
   transient failure (no connection, a 4xx reply); ``failed`` with the server's reason for a
   permanent one (a 5xx reply) or after :data:`MAX_ATTEMPTS` attempts.

**Exactly once, and what is in doubt.** Each message has a fixed ``Message-ID`` (its row's id).
Sending one goes MAIL, RCPT, DATA and the body; then, *before* the final ``.`` that asks the
server to take it, ``handed_at`` is committed (guarded by the claim, which also renews the lease:
if another sender took the row meanwhile, the connection is dropped without the ``.`` and nothing
is delivered); then the ``.``, the server's 250 and at once ``sent`` (committed per message, never
per batch). A sender killed before the ``.`` leaves a row ``sending`` without ``handed_at``: when its
lease ends it is claimed and sent again, safely (a server discards a transaction whose connection
closed before the ``.``, RFC 5321 §4.1.1.4). A row left ``sending`` *with* ``handed_at`` is in
doubt (the server may have answered 250 just before the crash): it is never re-sent blindly but
becomes ``failed`` with an "in doubt" reason and is listed to operators (:mod:`anima.mail.failures`,
``/operator/mail``), who may re-send it (same Message-ID, so a receiver that deduplicates keeps
one). With the local mailbox (no ``SMTP_URL``) delivery is idempotent (the file is named by the
id), so such a row is simply queued again.

Logs carry ids, kind, status and error codes only, never a subject, body or address.
"""

from __future__ import annotations

import asyncio
import datetime
import re
import ssl
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker

from anima.config import Settings
from anima.db.engine import Database
from anima.logs import get_logger
from anima.mail import domains, mailbox
from anima.mail.domains import VERIFIED_SQL
from anima.mail.compose import from_header
from anima.mail.failures import record_failure
from anima.runtime import Runtime

log = get_logger(__name__)

#: how long a claimed message may stay ``sending`` before another sender takes it again
LEASE = datetime.timedelta(minutes=5)
#: retry delays double from one minute up to this cap
MAX_BACKOFF = datetime.timedelta(hours=1)
#: a message still failing transiently after this many attempts becomes ``failed``
MAX_ATTEMPTS = 12
#: seconds an SMTP connection or command may take
SMTP_TIMEOUT = 30.0

_CLAIM = sa.text(
    """
    WITH due AS (
        SELECT id FROM platform.email_outbox
        WHERE (status = 'queued' OR (status = 'sending' AND handed_at IS NULL)) AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE platform.email_outbox AS e
    SET status = 'sending', attempts = e.attempts + 1, next_attempt_at = now() + make_interval(secs => :lease),
        handed_at = NULL
    FROM due WHERE e.id = due.id
    RETURNING e.id, e.recipient, e.subject, e.body, e.kind, e.created_at, e.attempts, e.html_body,
        (SELECT t.name FROM platform.tenants t WHERE t.id = e.tenant_id),
        (SELECT t.mail_from_address FROM platform.tenants t WHERE t.id = e.tenant_id),
        coalesce((SELECT """ + VERIFIED_SQL + """ FROM platform.tenants t WHERE t.id = e.tenant_id), false)
    """
)

#: what a row handed to the server before its sender died becomes (see the module docstring)
IN_DOUBT = ("in doubt: the sender stopped after handing the message to the mail server and before recording "
            "its answer; it may have been delivered. Check with the recipient before sending it again.")

#: rows handed over whose sender died (lease over): ``failed`` in doubt, or queued again with the local mailbox
_IN_DOUBT = sa.text(
    """
    UPDATE platform.email_outbox AS e
    SET status = CASE WHEN :requeue THEN 'queued' ELSE 'failed' END,
        last_error = CASE WHEN :requeue THEN e.last_error ELSE :reason END,
        handed_at = CASE WHEN :requeue THEN NULL ELSE e.handed_at END, next_attempt_at = now()
    WHERE e.id IN (SELECT id FROM platform.email_outbox
                   WHERE status = 'sending' AND handed_at IS NOT NULL AND next_attempt_at <= now()
                   FOR UPDATE SKIP LOCKED)
    RETURNING e.id, e.kind, e.attempts, e.status
    """
)

#: the last commit before the server may take the message: ``handed_at``, lease renewed, if still ours
_HAND = sa.text(
    "UPDATE platform.email_outbox SET handed_at = now(), next_attempt_at = now() + make_interval(secs => :lease) "
    "WHERE id = :id AND status = 'sending' AND attempts = :attempts"
)

_FINISH = sa.text(
    """
    UPDATE platform.email_outbox
    SET status = :status, next_attempt_at = :next_attempt_at, last_error = :last_error,
        sent_at = coalesce(:sent_at, sent_at)
    WHERE id = :id AND status = 'sending' AND attempts = :attempts
    """
)


@dataclass(frozen=True)
class Claimed:
    """One claimed message (what a sender needs to send it)."""

    id: uuid.UUID
    recipient: str
    subject: str
    body: str
    kind: str
    created_at: datetime.datetime
    attempts: int
    html: str | None = None
    #: the organization the message belongs to (its name is the From's display name), if any
    org_name: str | None = None
    org_address: str | None = None
    #: extra headers (List-Unsubscribe …), in order
    headers: tuple[tuple[str, str], ...] = ()
    #: an iCalendar object with its METHOD (RFC 5546), attached as ``text/calendar; method=…``
    calendar: str | None = None
    #: whether ``org_address``'s domain is a verified sending domain (else it becomes the Reply-To:
    #: :func:`anima.mail.domains.sender`)
    org_verified: bool = True


_METHOD = re.compile(r"^METHOD:([A-Z-]+)\r?$", re.MULTILINE)


def _attach_calendar(message: EmailMessage, calendar: str) -> None:
    """Attach ``calendar`` as ``invite.ics``, ``text/calendar; method=<its METHOD>`` (RFC 6047 §2.4:
    the Content-Type's method matches the object's METHOD), which turns the message into
    ``multipart/mixed`` around the text and HTML alternatives."""
    found = _METHOD.search(calendar)
    params = {"method": found.group(1)} if found else {}
    message.add_attachment(calendar, subtype="calendar", filename="invite.ics", params=params)


@dataclass
class SendReport:
    """What one :func:`send_due_emails` run did: message ids by outcome."""

    sent: list[uuid.UUID] = field(default_factory=list)
    retrying: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"sent": len(self.sent), "retrying": len(self.retrying), "failed": len(self.failed)}


class TransientFailure(Exception):
    """Sending may succeed later (no connection, a 4xx reply)."""

    @property
    def code(self) -> str:
        """What a log may say: the reply code, or the error type when there was no reply."""
        return str(self).split(" ", 1)[0]


class PermanentFailure(TransientFailure):
    """Sending will not succeed (a 5xx reply)."""


class ClaimLost(Exception):
    """Another sender claimed the message (this one's lease ran out) before it was handed to the
    server: this sender did not send it and records nothing."""


#: the step committed just before the server may take a message (raises :class:`ClaimLost`)
Handing = Callable[[], Awaitable[None]]


async def _data_handing(protocol: Any, message: bytes, timeout: float | None, handing: Handing) -> Any:
    """aiosmtplib's DATA step with ``handing`` awaited between the body and the final ``.``: the
    moment after which the server may have accepted the message is preceded by our commit.

    Mirrors :meth:`aiosmtplib.protocol.SMTPProtocol.execute_data_command` (line endings, dot
    stuffing, the 354 then 250 replies) of the pinned aiosmtplib version."""
    if protocol._command_lock is None:  # noqa: SLF001 - see the docstring
        raise aiosmtplib.SMTPServerDisconnected("Server not connected")
    body = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message))
    async with protocol._command_lock:  # noqa: SLF001
        protocol._response_pending = True  # noqa: SLF001
        protocol.write(b"DATA\r\n")
        start = await protocol.read_response(timeout=timeout)
        if start.code != 354:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        protocol.write(body)
        try:
            await handing()
        except BaseException:
            if protocol.transport is not None:  # no "." ever follows: the server discards the transaction
                protocol.transport.abort()
            raise
        protocol._response_pending = True  # noqa: SLF001
        protocol.write(b".\r\n")
        response = await protocol.read_response(timeout=timeout)
        if response.code != 250:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


def backoff(attempts: int) -> datetime.timedelta:
    """The wait before the next attempt after ``attempts`` failed ones: 1, 2, 4 … minutes, capped."""
    return min(datetime.timedelta(minutes=2 ** max(0, attempts - 1)), MAX_BACKOFF)


def build_message(settings: Settings, email: Claimed) -> EmailMessage:
    """The RFC 5322 message of ``email``, UTF-8: ``multipart/alternative`` with the plain-text part
    first and the HTML part last (RFC 2046 §5.1.4: the last is the richest), or plain text alone
    for a message queued without HTML. From: :func:`anima.mail.compose.from_header` (the
    organization's name when the message belongs to one, else ``ANIMA_MAIL_FROM``), at the
    organization's address only when its domain is verified, else with it as Reply-To
    (:mod:`anima.mail.domains`)."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "anima.example"
    message = EmailMessage()
    if email.org_name is not None:
        chosen = domains.sender(settings.mail_from, email.org_address, email.org_verified)
        message["From"] = from_header(settings.mail_from, email.org_name, chosen.address)
        if chosen.reply_to:
            message["Reply-To"] = chosen.reply_to
    else:
        message["From"] = settings.mail_from
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.created_at.astimezone(datetime.UTC))
    message["Message-ID"] = f"<{email.id}@{domain}>"
    message["X-Anima-Kind"] = email.kind
    for name, value in email.headers:
        message[name] = value
    message.set_content(email.body)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    if email.calendar:
        _attach_calendar(message, email.calendar)
    return message


def _reason(code: int, text: str) -> str:
    return f"{code} {' '.join(str(text).split())}"[:500]


def _classify(exc: BaseException) -> Exception:
    """A :class:`TransientFailure` or :class:`PermanentFailure` for an error from aiosmtplib."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients[0] if exc.recipients else None
        code = refused.code if refused is not None else 550
        reason = _reason(code, refused.message if refused is not None else "recipient refused")
        return PermanentFailure(reason) if code >= 500 else TransientFailure(reason)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        reason = _reason(exc.code, exc.message)
        return PermanentFailure(reason) if 500 <= exc.code < 600 else TransientFailure(reason)
    return TransientFailure(type(exc).__qualname__)


class SmtpTransport:
    """One SMTP connection for a batch, opened lazily from ``SMTP_URL``."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        self._client = aiosmtplib.SMTP(
            hostname=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=None if not implicit else False,
            timeout=SMTP_TIMEOUT,
            tls_context=ssl.create_default_context(),
        )
        self._connected = False
        self._down: TransientFailure | None = None

    async def send(self, message: EmailMessage, handing: Handing | None = None) -> None:
        """Send ``message``. Raises TransientFailure, PermanentFailure, or ClaimLost from
        ``handing`` (awaited after the body, before the final ``.``: then the connection is
        dropped, so the server discards the transaction).

        Failing to connect, to start TLS or to log in is transient whatever the reply (the
        messages are not at fault; the server or ``SMTP_URL`` is), and the batch's remaining
        messages then fail at once without trying again.
        """
        if self._down is not None:
            raise TransientFailure(str(self._down))
        if not self._connected:
            try:
                await self._client.connect()
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
                self._client.close()
                code = getattr(exc, "code", None)
                self._down = TransientFailure(_reason(code, exc.message) if isinstance(code, int) and hasattr(exc, "message")
                                              else type(exc).__qualname__)
                raise TransientFailure(str(self._down)) from None
            self._connected = True
        protocol = self._client.protocol
        if handing is not None:
            protocol.execute_data_command = lambda data, timeout=None: _data_handing(protocol, data, timeout, handing)
        try:
            await self._client.send_message(message)
        except ClaimLost:
            self._connected = False
            self._client.close()
            raise
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            failure = _classify(exc)
            if isinstance(exc, OSError | asyncio.TimeoutError):  # the connection is lost (aiosmtplib's are ConnectionErrors)
                self._connected = False
                self._client.close()
            else:
                try:  # the transaction is abandoned; the connection serves the next message
                    await self._client.rset()
                except Exception:  # noqa: BLE001
                    self._connected = False
                    self._client.close()
            raise failure from None
        finally:
            if handing is not None and protocol is not None:
                protocol.__dict__.pop("execute_data_command", None)

    async def close(self) -> None:
        if self._connected:
            try:
                await self._client.quit()
            except Exception:  # noqa: BLE001 - the messages are sent; a failed QUIT changes nothing
                self._client.close()
            self._connected = False


class MailboxTransport:
    """The local mailbox (no ``SMTP_URL``): each message becomes a ``.eml`` file."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage, email_id: uuid.UUID, handing: Handing | None = None) -> None:
        if handing is not None:
            await handing()
        try:
            await asyncio.to_thread(mailbox.deliver, self._settings, email_id, message)
        except OSError as exc:
            raise TransientFailure(type(exc).__qualname__) from None


def _sessionmaker(holder: Runtime | Database) -> async_sessionmaker:
    return holder.sessionmaker if isinstance(holder, Runtime) else holder.sessionmaker()


def lease_of(settings: Settings) -> float:
    """Seconds of a claim's lease: ``ANIMA_MAIL_LEASE`` (default :data:`LEASE`)."""
    return float(getattr(settings, "mail_lease", None) or LEASE.total_seconds())


async def _claim(maker: async_sessionmaker, limit: int, lease: float, requeue_in_doubt: bool) -> list[Claimed]:
    async with maker() as session:
        async with session.begin():
            doubtful = (await session.execute(_IN_DOUBT, {"requeue": requeue_in_doubt, "reason": IN_DOUBT})).all()
            for row in doubtful:
                if row.status == "failed":
                    await record_failure(session, message_id=row.id, tenant_id=None, channel="email", kind=row.kind,
                                         reason=IN_DOUBT, attempts=row.attempts)
                log.warning("email in doubt", email_id=str(row.id), kind=row.kind, status=row.status)
            rows = (await session.execute(_CLAIM, {"limit": limit, "lease": lease})).all()
    return [Claimed(*row[:10], org_verified=bool(row[10])) for row in rows]


def _hander(maker: async_sessionmaker, email: Claimed, lease: float) -> Handing:
    async def handing() -> None:
        async with maker() as session:
            async with session.begin():
                result = await session.execute(_HAND, {"id": email.id, "attempts": email.attempts, "lease": lease})
        if not result.rowcount:
            raise ClaimLost(str(email.id))
    return handing


async def _finish(maker: async_sessionmaker, email: Claimed, status: str, *, delay: datetime.timedelta | None = None,
                  error: str | None = None) -> None:
    now = datetime.datetime.now(datetime.UTC)
    async with maker() as session:
        async with session.begin():
            result = await session.execute(
                _FINISH,
                {"id": email.id, "attempts": email.attempts, "status": status, "last_error": error,
                 "next_attempt_at": now + delay if delay is not None else now,
                 "sent_at": now if status == "sent" else None},
            )
            if status == "failed" and result.rowcount:  # listed for operators (anima.mail.failures)
                await record_failure(session, message_id=email.id, tenant_id=None, channel="email", kind=email.kind,
                                     reason=error or "failed", attempts=email.attempts)


async def send_due_emails(holder: Runtime | Database, *, settings: Settings | None = None, limit: int = 50) -> SendReport:
    """Claim, send and record up to ``limit`` due emails (see the module docstring).

    Args:
        holder: the process's :class:`~anima.runtime.Runtime`, or a :class:`~anima.db.engine.Database`
            together with ``settings``.
        settings: the settings when ``holder`` is a Database (else the runtime's).
        limit: at most this many messages in this run.
    """
    if settings is None:
        if not isinstance(holder, Runtime):
            raise TypeError("send_due_emails(Database) needs settings=")
        settings = holder.settings
    maker = _sessionmaker(holder)
    report = SendReport()
    lease = lease_of(settings)
    claimed = await _claim(maker, limit, lease, requeue_in_doubt=settings.local_mailbox)
    if not claimed:
        return report
    smtp = SmtpTransport(settings.smtp_url) if settings.smtp_url else None
    local = MailboxTransport(settings)
    try:
        for email in claimed:
            try:
                message = build_message(settings, email)
                if smtp is not None:
                    await smtp.send(message, _hander(maker, email, lease))
                else:
                    await local.send(message, email.id, _hander(maker, email, lease))
            except ClaimLost:
                log.warning("email claimed by another sender", email_id=str(email.id), kind=email.kind)
                continue
            except PermanentFailure as exc:
                await _finish(maker, email, "failed", error=str(exc))
                report.failed.append(email.id)
                log.warning("email failed", email_id=str(email.id), kind=email.kind, status="failed",
                            attempts=email.attempts, error=exc.code)
            except TransientFailure as exc:
                if email.attempts >= MAX_ATTEMPTS:
                    await _finish(maker, email, "failed", error=f"gave up after {email.attempts} attempts: {exc}"[:500])
                    report.failed.append(email.id)
                    status = "failed"
                else:
                    await _finish(maker, email, "queued", delay=backoff(email.attempts), error=str(exc))
                    report.retrying.append(email.id)
                    status = "queued"
                log.warning("email not sent", email_id=str(email.id), kind=email.kind, status=status,
                            attempts=email.attempts, error=exc.code)
            else:
                await _finish(maker, email, "sent")
                report.sent.append(email.id)
                log.info("email sent", email_id=str(email.id), kind=email.kind, status="sent",
                         transport="smtp" if smtp is not None else "mailbox")
    finally:
        if smtp is not None:
            await smtp.close()
    return report


async def run_once(holder: Runtime | Database, *, settings: Settings | None = None, limit: int = 200) -> dict[str, Any]:
    """:func:`send_due_emails` until nothing due is left or a run sends nothing; the summed counts."""
    total = {"sent": 0, "retrying": 0, "failed": 0}
    while True:
        report = await send_due_emails(holder, settings=settings, limit=limit)
        for key, value in report.as_dict().items():
            total[key] += value
        if sum(report.as_dict().values()) < limit or not report.sent:
            return total
