"""Delivery of the tenants' outbound emails (playbook emails in each tenant's ``outbound_emails``)
and SMS (``outbound_sms``, through Twilio: :mod:`anima.mail.twilio_client`).

:func:`send_tenant_emails` (run with the platform's mail by every worker each minute):

1. **Finds tenants with due mail** without visiting the others: the playbook engine notes the
   tenant's ``mail`` work in the platform's due-work index when it queues an email
   (:mod:`anima.events.due_work`); a pass claims due ``mail`` rows (``FOR UPDATE SKIP LOCKED`` and
   a lease, so two workers take different tenants).
2. **Claims** up to ``limit`` due rows of each such tenant in one tenant transaction (entered
   through :func:`anima.jobs.runner.tenant_transaction` only): it first takes the tenant's due
   index rows, then marks ``queued`` rows whose time has come, and ``sending`` rows whose lease ran
   out (a sender that died), ``sending`` with one more attempt and a lease (``FOR UPDATE SKIP
   LOCKED``: concurrent senders never take the same row). The recipient is decrypted there. A
   **marketing** email to a recipient who opted out (:mod:`anima.domains.reach`) becomes
   ``skipped``, never sent. Before committing, the tenant's next due moment (the earliest
   ``next_attempt_at`` still queued or sending, leases included) is noted again, so retries and
   crashed sends are found by a later pass.
3. **Sends** each message (the transports of :mod:`anima.mail.sender`: ``SMTP_URL`` or the local
   mailbox), From the organization's name (:func:`anima.mail.compose.from_header`); a marketing
   one carries ``List-Unsubscribe`` / ``List-Unsubscribe-Post`` and a footer with the signed
   unsubscribe link (:mod:`anima.mail.unsubscribe`); one with a ``calendar`` (a booking's
   invitation) carries it as a ``text/calendar`` attachment with its METHOD.
   Exactly as the platform's emails (:mod:`anima.mail.sender`): ``handed_at`` is committed in a
   tenant transaction just before the final "." of the DATA; a row left ``sending`` with it after
   its lease is in doubt — ``failed`` with the reason and listed to operators, never re-sent
   blindly (queued again with the local mailbox, whose delivery is idempotent).
4. **Records** each outcome in its own tenant transaction guarded by the claim (``sending`` and
   the claimed ``attempts``): ``sent``; back to ``queued`` after :func:`anima.mail.sender.backoff`
   (transient); ``failed`` with the server's reason (permanent, or after
   :data:`anima.mail.sender.MAX_ATTEMPTS`).

SMS go the same way, claimed in the same tenant transaction: one whose patient (or lead) has no current SMS
consent at that moment (:func:`anima.domains.reach.sms.consents`), or any while Twilio is not
configured, becomes ``skipped`` with the reason; before sending, the platform remembers that this
organization texts the number (:func:`anima.domains.reach.sms.note_texted`), for STOP replies. A
refusal with Twilio's error 21610 (the person replied STOP to Twilio, which now blocks the number)
fails the text and withdraws the patient's SMS consent in the same transaction.

Logs carry ids, template, category, status and error codes only, never an address, a number or content.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from anima.config import Settings
from anima.domains.reach import sms
from anima.domains.reach.services import opted_out
from anima.events.due_work import FUNCTION_SCHEMA, WorkKind, claim_due, take_due
from anima.jobs.runner import TenantInactive, tenant_transaction
from anima.logs import get_logger
from anima.mail import compose, unsubscribe
from anima.mail.domains import VERIFIED_SQL
from anima.mail.failures import record_failure
from anima.mail.twilio_client import SmsTransport
from anima.mail.sender import (
    IN_DOUBT, MAX_ATTEMPTS, ClaimLost, Claimed, Handing, MailboxTransport, PermanentFailure, SmtpTransport, TransientFailure,
    backoff, build_message, lease_of,
)
from anima.runtime import Runtime
from anima.tenancy.transaction import TenantTransaction

log = get_logger(__name__)

#: the entered tenant's next mail moment: the earliest queued or claimed email or SMS (NULL: nothing noted)
NOTE_NEXT_MAIL = sa.text(
    f"SELECT {FUNCTION_SCHEMA}.note('{WorkKind.MAIL}', LEAST("
    "(SELECT min(next_attempt_at) FROM outbound_emails WHERE status IN ('queued', 'sending')),"
    "(SELECT min(next_attempt_at) FROM outbound_sms WHERE status IN ('queued', 'sending'))))"
)

_CLAIM = sa.text(
    """
    WITH due AS (
        SELECT id FROM outbound_emails
        WHERE (status = 'queued' OR (status = 'sending' AND handed_at IS NULL)) AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbound_emails AS o
    SET status = 'sending', attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => :lease),
        handed_at = NULL
    FROM due WHERE o.id = due.id
    RETURNING o.id, o.recipient_enc, o.subject, o.body, o.html_body, o.template, o.created_at, o.attempts,
        o.category, o.recipient_bidx, o.language, o.calendar
    """
)

_IN_DOUBT = sa.text(
    """
    UPDATE outbound_emails AS o
    SET status = CASE WHEN :requeue THEN 'queued' ELSE 'failed' END,
        last_error = CASE WHEN :requeue THEN o.last_error ELSE :reason END,
        handed_at = CASE WHEN :requeue THEN NULL ELSE o.handed_at END, next_attempt_at = now()
    WHERE o.id IN (SELECT id FROM outbound_emails
                   WHERE status = 'sending' AND handed_at IS NOT NULL AND next_attempt_at <= now()
                   FOR UPDATE SKIP LOCKED)
    RETURNING o.id, o.template, o.attempts, o.status
    """
)

_HAND = sa.text(
    "UPDATE outbound_emails SET handed_at = now(), next_attempt_at = now() + make_interval(secs => :lease) "
    "WHERE id = :id AND status = 'sending' AND attempts = :attempts"
)

_SKIP = sa.text(
    "UPDATE outbound_emails SET status = 'skipped', last_error = 'the recipient opted out of marketing emails', "
    "next_attempt_at = now() WHERE id = :id AND status = 'sending' AND attempts = :attempts"
)

_FINISH = sa.text(
    """
    UPDATE outbound_emails
    SET status = :status, next_attempt_at = :next_attempt_at, last_error = :last_error,
        sent_at = coalesce(:sent_at, sent_at)
    WHERE id = :id AND status = 'sending' AND attempts = :attempts
    """
)

_CLAIM_SMS = sa.text(
    """
    WITH due AS (
        SELECT id FROM outbound_sms
        WHERE status IN ('queued', 'sending') AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbound_sms AS o
    SET status = 'sending', attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => :lease)
    FROM due WHERE o.id = due.id
    RETURNING o.id, o.patient_id, o.to_enc, o.body, o.template, o.attempts, o.lead_id
    """
)

_SKIP_SMS = sa.text(
    "UPDATE outbound_sms SET status = 'skipped', last_error = :reason, next_attempt_at = now() "
    "WHERE id = :id AND status = 'sending' AND attempts = :attempts"
)

_FINISH_SMS = sa.text(
    """
    UPDATE outbound_sms
    SET status = :status, next_attempt_at = :next_attempt_at, last_error = :last_error,
        sent_at = coalesce(:sent_at, sent_at), provider_id = coalesce(:provider_id, provider_id)
    WHERE id = :id AND status = 'sending' AND attempts = :attempts
    """
)

#: Twilio's refusal for a recipient who replied STOP to its number (error 21610): their consent is withdrawn
UNSUBSCRIBED_AT_TWILIO = "twilio-error-21610"

_ORG = sa.text(f"SELECT name, mail_from_address, {VERIFIED_SQL} AS verified FROM platform.tenants t WHERE id = :id")


@dataclass
class TenantSendReport:
    """What one pass did: (tenant id, email id) pairs by outcome."""

    sent: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    retrying: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    failed: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    skipped: list[tuple[int, uuid.UUID]] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"sent": len(self.sent), "retrying": len(self.retrying), "failed": len(self.failed), "skipped": len(self.skipped)}


@dataclass(frozen=True)
class _Outgoing:
    email: Claimed
    template: str
    category: str


@dataclass(frozen=True)
class _OutgoingSms:
    id: uuid.UUID
    patient_id: uuid.UUID | None
    to: str
    body: str
    template: str
    attempts: int
    lead_id: uuid.UUID | None = None


@dataclass
class _Batch:
    emails: list[_Outgoing] = field(default_factory=list)
    sms: list[_OutgoingSms] = field(default_factory=list)
    #: (id, template, attempts) of emails found in doubt, to list for operators after the commit
    in_doubt: list[tuple[uuid.UUID, str, int]] = field(default_factory=list)


async def _claim_sms(job: TenantTransaction, settings: Settings, tenant_id: int, limit: int,
                     report: TenantSendReport) -> list[_OutgoingSms]:
    """Claim the tenant's due SMS; those without a current consent (or with SMS off) are skipped."""
    rows = (await job.session.execute(_CLAIM_SMS, {"limit": limit, "lease": lease_of(settings)})).all()
    consenting = await sms.consents(job.session, [row.patient_id for row in rows if row.patient_id])
    leads_consenting = await sms.lead_consents(job.session, [row.lead_id for row in rows if row.lead_id])
    outgoing = []
    for row in rows:
        reason = None if settings.sms_configured else "SMS is not configured on this deployment"
        if reason is None and row.patient_id and not consenting.get(row.patient_id):
            reason = "the patient has no SMS consent"
        if reason is None and row.lead_id and not leads_consenting.get(row.lead_id):
            reason = "the lead has no SMS consent"
        if reason is not None:
            await job.session.execute(_SKIP_SMS, {"id": row.id, "attempts": row.attempts, "reason": reason})
            report.skipped.append((tenant_id, row.id))
            log.info("sms skipped", sms_id=str(row.id), template=row.template, status="skipped")
            continue
        to = await job.cipher.decrypt_text("outbound_sms", "to_enc", row.id, row.to_enc)
        outgoing.append(_OutgoingSms(row.id, row.patient_id, to, row.body, row.template, row.attempts, row.lead_id))
    return outgoing


async def _claim_tenant(runtime: Runtime, settings: Settings, tenant_id: int, limit: int,
                        report: TenantSendReport) -> _Batch:
    async with runtime.sessionmaker() as session:
        org = (await session.execute(_ORG, {"id": tenant_id})).first()
        await session.rollback()
    batch = _Batch()
    if org is None:
        return batch
    outgoing = batch.emails
    async with tenant_transaction(runtime, tenant_id) as job:
        await take_due(job.session, WorkKind.MAIL)
        doubtful = (await job.session.execute(_IN_DOUBT, {"requeue": settings.local_mailbox, "reason": IN_DOUBT})).all()
        batch.in_doubt = [(row.id, row.template, row.attempts) for row in doubtful if row.status == "failed"]
        for row in doubtful:
            log.warning("email in doubt", email_id=str(row.id), template=row.template, status=row.status)
        rows = (await job.session.execute(_CLAIM, {"limit": limit, "lease": lease_of(settings)})).all()
        blocked = await opted_out(job.session, (bytes(r.recipient_bidx) for r in rows if r.category == "marketing" and r.recipient_bidx))
        for row in rows:
            recipient = await job.cipher.decrypt_text("outbound_emails", "recipient_enc", row.id, row.recipient_enc)
            bidx = bytes(row.recipient_bidx) if row.recipient_bidx else None
            if row.category == "marketing" and bidx is None:  # queued before blind indexes were kept
                try:
                    bidx = await job.cipher.blind_index("email", recipient)
                    blocked |= await opted_out(job.session, [bidx])
                except ValueError:
                    bidx = None  # not an address at all: the server refuses it and the refusal is recorded
            if row.category == "marketing" and bidx is not None and bidx in blocked:
                await job.session.execute(_SKIP, {"id": row.id, "attempts": row.attempts})
                report.skipped.append((tenant_id, row.id))
                log.info("email skipped", email_id=str(row.id), template=row.template, category=row.category, status="skipped")
                continue
            extra: tuple[tuple[str, str], ...] = ()
            text, html = row.body, row.html_body
            if row.category == "marketing" and bidx is not None:
                token = unsubscribe.make_token(settings.secret_key, tenant_id, bidx)
                extra = unsubscribe.headers(settings.public_url, token)
                foot_text, foot_html = compose.footer(
                    "unsubscribe_footer", row.language, org_name=org.name, link=unsubscribe.page_link(settings.public_url, token))
                text, html = compose.with_footer(text, html or "", foot_text, foot_html) if html else (
                    compose.with_footer(text, "", foot_text, "")[0], None)
            outgoing.append(_Outgoing(
                Claimed(id=row.id, recipient=recipient, subject=row.subject, body=text, kind=f"playbook:{row.template}"[:32],
                        created_at=row.created_at, attempts=row.attempts, html=html, org_name=org.name,
                        org_address=org.mail_from_address, headers=extra, calendar=row.calendar,
                        org_verified=bool(org.verified)),
                row.template, row.category,
            ))
        batch.sms = await _claim_sms(job, settings, tenant_id, limit, report)
        await job.session.execute(NOTE_NEXT_MAIL)
    for email_id, template, attempts in batch.in_doubt:
        await _listed(runtime, tenant_id, email_id, "email", template, IN_DOUBT, attempts)
    if batch.sms:  # before sending: a STOP reply may come back at once
        async with runtime.sessionmaker() as session:
            async with session.begin():
                await sms.note_texted(session, settings.secret_key, tenant_id, {m.to for m in batch.sms})
    return batch


async def _finish(runtime: Runtime, tenant_id: int, email: Claimed, status: str, *,
                  delay: datetime.timedelta | None = None, error: str | None = None) -> None:
    now = datetime.datetime.now(datetime.UTC)
    async with tenant_transaction(runtime, tenant_id) as job:
        await job.session.execute(_FINISH, {
            "id": email.id, "attempts": email.attempts, "status": status, "last_error": error,
            "next_attempt_at": now + delay if delay is not None else now, "sent_at": now if status == "sent" else None,
        })
        if status == "queued":
            await job.session.execute(NOTE_NEXT_MAIL)
    if status == "failed":
        await _listed(runtime, tenant_id, email.id, "email", email.kind.removeprefix("playbook:"), error, email.attempts)


async def _listed(runtime: Runtime, tenant_id: int, message_id: uuid.UUID, channel: str, kind: str, error: str | None,
                  attempts: int) -> None:
    """List a failed message for operators (:mod:`anima.mail.failures`; platform transaction)."""
    async with runtime.sessionmaker() as session:
        async with session.begin():
            await record_failure(session, message_id=message_id, tenant_id=tenant_id, channel=channel, kind=kind,
                                 reason=error or "failed", attempts=attempts)


async def send_tenant_emails(runtime: Runtime, *, settings: Settings | None = None, limit: int = 50,
                             tenants: int = 100) -> TenantSendReport:
    """One pass over up to ``tenants`` tenants with due mail, up to ``limit`` emails each (see the
    module docstring). ``settings`` overrides the runtime's (tests point ``SMTP_URL`` elsewhere)."""
    settings = settings or runtime.settings
    report = TenantSendReport()
    async with runtime.sessionmaker() as session:
        async with session.begin():
            tenant_ids = await claim_due(session, WorkKind.MAIL, lease=lease_of(settings), limit=tenants)
    if not tenant_ids:
        return report
    smtp = SmtpTransport(settings.smtp_url) if settings.smtp_url else None
    local = MailboxTransport(settings)
    texts: SmsTransport | None = None
    try:
        for tenant_id in tenant_ids:
            try:
                batch = await _claim_tenant(runtime, settings, tenant_id, limit, report)
            except TenantInactive:
                continue  # a suspended tenant's mail waits; its index row's lease runs out
            for item in batch.emails:
                await _send_one(runtime, settings, tenant_id, item, smtp, local, report)
            if batch.sms and texts is None:
                texts = SmsTransport(settings)
            for text in batch.sms:
                await _send_sms(runtime, tenant_id, text, texts, report)  # type: ignore[arg-type]
    finally:
        if smtp is not None:
            await smtp.close()
        if texts is not None:
            await texts.__aexit__()
    return report


async def _finish_sms(runtime: Runtime, tenant_id: int, text: _OutgoingSms, status: str, *,
                      delay: datetime.timedelta | None = None, error: str | None = None, provider_id: str | None = None) -> None:
    now = datetime.datetime.now(datetime.UTC)
    async with tenant_transaction(runtime, tenant_id) as job:
        await job.session.execute(_FINISH_SMS, {
            "id": text.id, "attempts": text.attempts, "status": status, "last_error": error, "provider_id": provider_id,
            "next_attempt_at": now + delay if delay is not None else now, "sent_at": now if status == "sent" else None,
        })
        if status == "queued":
            await job.session.execute(NOTE_NEXT_MAIL)
        if error and UNSUBSCRIBED_AT_TWILIO in error:  # the person replied STOP to Twilio itself
            await sms.record_withdrawal(job.session, text.patient_id, text.lead_id)
    if status == "failed":
        await _listed(runtime, tenant_id, text.id, "sms", text.template, error, text.attempts)


async def _send_sms(runtime: Runtime, tenant_id: int, text: _OutgoingSms, transport: SmsTransport,
                    report: TenantSendReport) -> None:
    fields: dict[str, Any] = {"sms_id": str(text.id), "template": text.template, "attempts": text.attempts}
    try:
        sid = await transport.send(text.to, text.body)
    except PermanentFailure as exc:
        await _finish_sms(runtime, tenant_id, text, "failed", error=str(exc))
        report.failed.append((tenant_id, text.id))
        log.warning("sms failed", status="failed", error=exc.code, **fields)
    except TransientFailure as exc:
        if text.attempts >= MAX_ATTEMPTS:
            await _finish_sms(runtime, tenant_id, text, "failed", error=f"gave up after {text.attempts} attempts: {exc}"[:500])
            report.failed.append((tenant_id, text.id))
        else:
            await _finish_sms(runtime, tenant_id, text, "queued", delay=backoff(text.attempts), error=str(exc))
            report.retrying.append((tenant_id, text.id))
        log.warning("sms not sent", error=exc.code, **fields)
    else:
        await _finish_sms(runtime, tenant_id, text, "sent", provider_id=sid)
        report.sent.append((tenant_id, text.id))
        log.info("sms sent", status="sent", **fields)


def _hander(runtime: Runtime, tenant_id: int, email: Claimed, lease: float) -> Handing:
    """The commit of ``handed_at`` before the final "." (raises ClaimLost when the claim is gone)."""
    async def handing() -> None:
        async with tenant_transaction(runtime, tenant_id) as job:
            result = await job.session.execute(_HAND, {"id": email.id, "attempts": email.attempts, "lease": lease})
        if not result.rowcount:
            raise ClaimLost(str(email.id))
    return handing


async def _send_one(runtime: Runtime, settings: Settings, tenant_id: int, item: _Outgoing, smtp: SmtpTransport | None,
                    local: MailboxTransport, report: TenantSendReport) -> None:
    email = item.email
    fields: dict[str, Any] = {"email_id": str(email.id), "template": item.template, "category": item.category,
                              "attempts": email.attempts}
    try:
        message = build_message(settings, email)
        handing = _hander(runtime, tenant_id, email, lease_of(settings))
        if smtp is not None:
            await smtp.send(message, handing)
        else:
            await local.send(message, email.id, handing)
    except ClaimLost:
        log.warning("email claimed by another sender", **fields)
        return
    except PermanentFailure as exc:
        await _finish(runtime, tenant_id, email, "failed", error=str(exc))
        report.failed.append((tenant_id, email.id))
        log.warning("email failed", status="failed", error=exc.code, **fields)
    except TransientFailure as exc:
        if email.attempts >= MAX_ATTEMPTS:
            await _finish(runtime, tenant_id, email, "failed", error=f"gave up after {email.attempts} attempts: {exc}"[:500])
            report.failed.append((tenant_id, email.id))
            status = "failed"
        else:
            await _finish(runtime, tenant_id, email, "queued", delay=backoff(email.attempts), error=str(exc))
            report.retrying.append((tenant_id, email.id))
            status = "queued"
        log.warning("email not sent", status=status, error=exc.code, **fields)
    else:
        await _finish(runtime, tenant_id, email, "sent")
        report.sent.append((tenant_id, email.id))
        log.info("email sent", status="sent", transport="smtp" if smtp is not None else "mailbox", **fields)


async def run_once(runtime: Runtime, *, settings: Settings | None = None, limit: int = 50) -> dict[str, int]:
    """:func:`send_tenant_emails` until a pass finds nothing due; the summed counts."""
    total = {"sent": 0, "retrying": 0, "failed": 0, "skipped": 0}
    for _ in range(100):  # bounded: a pass that finds work again and again is picked up next minute
        report = await send_tenant_emails(runtime, settings=settings, limit=limit)
        counts = report.as_dict()
        for key, value in counts.items():
            total[key] += value
        if not sum(counts.values()):
            break
    return total


__all__ = ["NOTE_NEXT_MAIL", "TenantSendReport", "run_once", "send_tenant_emails"]
