"""Emailing an issued invoice or credit note to its patient, through the platform's mail outbox.

The message (subject and plain-text body, in the invoice's language, money and dates by Babel) is
composed inside the tenant (:func:`compose`: the patient's email address is decrypted there) and
queued on the platform (:func:`queue`, the one call to :func:`anima.mail.messages.queue_email`),
so a route needs a tenant transaction to read and the platform transaction to write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.invoices.models import Invoice
from anima.domains.invoices.pdf import money
from anima.domains.patients.models import Patient
from anima.domains.patients.services import contact
from anima.mail.messages import queue_email
from anima.problems import Conflict, NotFound
from anima.web.i18n import gettext


@dataclass(frozen=True)
class InvoiceEmail:
    """A composed message: where it goes, its subject and plain-text body."""

    recipient: str
    subject: str
    body: str


async def compose(session: AsyncSession, cipher: FieldCipher, invoice_id: uuid.UUID, *, organization: str) -> InvoiceEmail:
    """The email of an issued invoice (tenant session). Raises NotFound, Conflict (a draft, or a
    patient without an email address)."""
    inv = (await session.execute(sa.select(Invoice).where(Invoice.id == invoice_id))).scalar_one_or_none()
    if inv is None:
        raise NotFound("invoice not found")
    if inv.status == "DRAFT" or inv.number is None:
        raise Conflict("a draft is not sent; issue it first", extra={"state": inv.status})
    patient = await session.get(Patient, inv.patient_id)
    address = await contact(cipher, patient, "email") if patient is not None else None
    if not address:
        raise Conflict("this patient has no email address", extra={"state": inv.status})
    lang = inv.language
    kind = gettext(lang, "Credit note") if inv.kind == "CREDIT_NOTE" else gettext(lang, "Invoice")
    issued = format_date(inv.issued_at.date(), format="long", locale=lang) if inv.issued_at else ""
    subject = gettext(lang, "%(kind)s %(number)s from %(organization)s", kind=kind, number=inv.number, organization=organization)
    body = gettext(
        lang, "%(kind)s %(number)s, issued on %(date)s: total %(total)s. The PDF is available from %(organization)s.",
        kind=kind, number=inv.number, date=issued, total=money(inv.total_minor, inv.currency, lang), organization=organization,
    )
    return InvoiceEmail(address, subject[:200], body)


async def queue(platform: AsyncSession, message: InvoiceEmail, *, tenant_id: int) -> None:
    """Queue ``message`` in the platform's outbox, in ``platform``'s transaction."""
    await queue_email(platform, recipient=message.recipient, subject=message.subject, body=message.body, kind="invoice",
                      tenant_id=tenant_id)
