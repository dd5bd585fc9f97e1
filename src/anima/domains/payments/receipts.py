"""Receipts and refund notices: one email to the patient per succeeded payment and per refund.

A succeeded payment — Stripe's signed webhook (:func:`~anima.domains.payments.services.apply_stripe_outcome`)
or cash / bank transfer recorded by staff (:func:`~anima.domains.payments.services.settle`) —
emits ``PAYMENT_SUCCEEDED`` once; its follow-up job :func:`send_payment_receipt` writes a
``payment_receipts`` row (unique per payment and ``seq`` 0) and queues the email with the
idempotency key ``receipt:{payment_id}:0``, so a redelivered webhook (deduplicated by its event
id) or a retried job never sends twice. A refund recorded by an owner gets a notice
(:func:`queue_refund_notice`, ``seq`` = the refund's number) in the refund's transaction.

The email (``mail/email/payment_receipt.html``, ``refund_notice.html``) is rendered in the
patient's language (else the practice's), with the practice's name, the amount formatted by Babel
in that language, the date in the patient's zone (else the practice's) with the zone named, the
method and the receipt number ``R-{number:06d}`` (one series per practice, taken as
``max + 1`` under the unique index; a concurrent taker retries). Staff read the same receipt as
HTML or PDF (WeasyPrint) through :func:`receipt_html`.
"""

from __future__ import annotations

import html as html_lib
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.automations.outbound import queue_email
from anima.domains.patients.models import Patient
from anima.domains.payments.models import PaymentReceipt, PaymentRefund, PaymentRequest
from anima.domains.settings.services import get_settings
from anima.jobs.runner import job_function, tenant_transaction
from anima.logs import get_logger
from anima.mail import compose
from anima.web import i18n
from anima.web.formatting import instant, money

log = get_logger(__name__)


def receipt_number(number: int) -> str:
    """The printed receipt number (``R-000042``)."""
    return f"R-{number:06d}"


async def _take_receipt(session: AsyncSession, payment_id: uuid.UUID, seq: int, amount_minor: int) -> tuple[PaymentReceipt, bool]:
    """The receipt row of (payment, seq), made now with the next number when missing; True when new."""
    for _attempt in range(50):
        existing = (await session.execute(
            sa.select(PaymentReceipt).where(PaymentReceipt.payment_id == payment_id, PaymentReceipt.seq == seq)
        )).scalar_one_or_none()
        if existing is not None:
            return existing, False
        number = (await session.scalar(sa.select(sa.func.coalesce(sa.func.max(PaymentReceipt.number), 0)))) + 1
        try:
            async with session.begin_nested():
                await session.execute(pg_insert(PaymentReceipt).values(
                    id=uuid.uuid4(), payment_id=payment_id, seq=seq, number=number, amount_minor=amount_minor))
        except IntegrityError:
            continue  # another transaction took this number (or this receipt): read again
        row = (await session.execute(
            sa.select(PaymentReceipt).where(PaymentReceipt.payment_id == payment_id, PaymentReceipt.seq == seq)
        )).scalar_one()
        return row, True
    raise RuntimeError("could not take a receipt number")


def method_label(method: str | None, language: str) -> str:
    """How it was paid, in ``language``."""
    if method == "stripe":
        return i18n.gettext(language, "Card (online)")
    return i18n.gettext(language, "Cash or bank transfer")


@dataclass(frozen=True)
class ReceiptFacts:
    """What a receipt shows (already formatted for ``language``)."""

    org_name: str
    first_name: str
    number: str
    amount: str
    date: str
    method: str
    description: str
    language: str


async def _facts(
    session: AsyncSession, payment: PaymentRequest, receipt: PaymentReceipt, patient: Patient, *, org_name: str,
    language: str | None = None, zone: str | None = None,
) -> ReceiptFacts:
    practice = await get_settings(session)
    lang = i18n.pick_language(language or patient.language, practice.locale)
    when = receipt.created_at if receipt.seq else (payment.settled_at or receipt.created_at)
    return ReceiptFacts(
        org_name=org_name, first_name=patient.first_name, number=receipt_number(receipt.number),
        amount=money(receipt.amount_minor, payment.currency, lang), date=instant(when, lang, zone or patient.time_zone or practice.timezone),
        method=method_label(payment.method, lang), description=payment.description, language=lang,
    )


async def _address(cipher: FieldCipher, patient: Patient) -> str | None:
    if patient.email_enc is None:
        return None
    return await cipher.decrypt_text("patients", "email_enc", patient.id, patient.email_enc)


async def queue_receipt(session: AsyncSession, cipher: FieldCipher, payment_id: uuid.UUID, *, org_name: str) -> dict[str, Any]:
    """Number and queue the receipt of a SUCCEEDED payment, once (see the module docstring).

    Returns ``{"receipt": "R-…", "queued": bool}`` or ``{"skipped": reason}`` (not succeeded, no
    such payment, or the patient has no email address: the receipt is still numbered for staff).
    """
    payment = await session.get(PaymentRequest, payment_id)
    if payment is None or payment.status != "SUCCEEDED":
        return {"skipped": "not a succeeded payment"}
    receipt, _new = await _take_receipt(session, payment.id, 0, payment.amount_minor)
    patient = await session.get(Patient, payment.patient_id)
    address = await _address(cipher, patient) if patient is not None else None
    if patient is None or address is None:
        return {"receipt": receipt_number(receipt.number), "skipped": "the patient has no email address"}
    facts = await _facts(session, payment, receipt, patient, org_name=org_name)
    composed = compose.render("payment_receipt", facts.language, **_context(facts))
    queued = await queue_email(session, cipher, key=f"receipt:{payment.id}:0", address=address, composed=composed,
                               template="payment_receipt", category="transactional", patient_id=patient.id)
    return {"receipt": receipt_number(receipt.number), "queued": queued}


async def queue_refund_notice(session: AsyncSession, cipher: FieldCipher, refund: PaymentRefund, *, org_name: str) -> dict[str, Any]:
    """Number and queue the notice of ``refund`` to the payment's patient, once per refund."""
    payment = await session.get(PaymentRequest, refund.payment_id)
    if payment is None:
        return {"skipped": "no such payment"}
    receipt, _new = await _take_receipt(session, payment.id, refund.seq, refund.amount_minor)
    patient = await session.get(Patient, payment.patient_id)
    address = await _address(cipher, patient) if patient is not None else None
    if patient is None or address is None:
        return {"receipt": receipt_number(receipt.number), "skipped": "the patient has no email address"}
    facts = await _facts(session, payment, receipt, patient, org_name=org_name)
    composed = compose.render("refund_notice", facts.language, **_context(facts))
    queued = await queue_email(session, cipher, key=f"receipt:{payment.id}:{refund.seq}", address=address, composed=composed,
                               template="refund_notice", category="transactional", patient_id=patient.id)
    return {"receipt": receipt_number(receipt.number), "queued": queued}


def _context(f: ReceiptFacts) -> dict[str, Any]:
    return {"org_name": f.org_name, "first_name": f.first_name, "number": f.number, "amount": f.amount, "date": f.date,
            "method": f.method, "description": f.description}


@job_function
async def send_payment_receipt(ctx: dict[str, Any], *, tenant_id: int, payment_id: str | None = None) -> dict[str, Any]:
    """The follow-up job of ``PAYMENT_SUCCEEDED``: :func:`queue_receipt` in the tenant."""
    if not payment_id:
        return {"skipped": "no payment"}
    async with tenant_transaction(ctx, tenant_id) as tj:
        outcome = await queue_receipt(tj.session, tj.cipher, uuid.UUID(payment_id), org_name=tj.tenant.name)
    log.info("payment receipt", **{k: v for k, v in outcome.items() if k != "receipt"})
    return outcome


async def receipts_of(session: AsyncSession, payment_id: uuid.UUID) -> list[PaymentReceipt]:
    """The receipt and refund notices of a payment, in order."""
    rows = await session.execute(sa.select(PaymentReceipt).where(PaymentReceipt.payment_id == payment_id).order_by(PaymentReceipt.seq))
    return list(rows.scalars())


async def receipt_html(session: AsyncSession, payment: PaymentRequest, *, org_name: str, language: str, zone: str) -> str | None:
    """The receipt of ``payment`` as a standalone HTML document for staff (in ``language``, dates in
    ``zone`` named), its refund notices listed below; None when it has no receipt yet."""
    rows = await receipts_of(session, payment.id)
    if not rows or rows[0].seq != 0:
        return None
    patient = await session.get(Patient, payment.patient_id)
    assert patient is not None
    first = await _facts(session, payment, rows[0], patient, org_name=org_name, language=language, zone=zone)

    def _(message: str) -> str:
        return html_lib.escape(i18n.gettext(language, message))

    label = {"receipt": _("Receipt"), "refund": _("Refund"), "from": _("Received from"), "number": _("Number"), "date": _("Date"),
             "description": _("Description"), "amount": _("Amount"), "payment": _("Payment")}
    e = html_lib.escape
    refunds = ""
    for row in rows[1:]:
        f = await _facts(session, payment, row, patient, org_name=org_name, language=language, zone=zone)
        refunds += f"<tr><td>{e(f.number)}</td><td>{e(f.date)}</td><td>{label['refund']}</td><td class=n>−{e(f.amount)}</td></tr>"
    name = e(f"{patient.first_name} {patient.last_name or ''}".strip())
    what = e(payment.description) if payment.description else label["payment"]
    return (
        f"<!doctype html><html lang=\"{e(language)}\"><head><meta charset=\"utf-8\"><title>{label['receipt']} {e(first.number)}</title>"
        "<style>@page{size:A4;margin:18mm}body{font-family:sans-serif;font-size:10pt;color:#1f2a2e}"
        "table{width:100%;border-collapse:collapse;margin-top:6mm}th,td{padding:2mm;border-bottom:.3mm solid #d5dcdf;text-align:left}"
        ".n{text-align:right}</style></head><body>"
        f"<h1>{label['receipt']} {e(first.number)}</h1><p>{e(org_name)}</p>"
        f"<p>{label['from']}: {name}</p>"
        "<table><thead><tr>"
        f"<th>{label['number']}</th><th>{label['date']}</th><th>{label['description']}</th><th class=n>{label['amount']}</th></tr></thead><tbody>"
        f"<tr><td>{e(first.number)}</td><td>{e(first.date)}</td><td>{what} ({e(first.method)})</td>"
        f"<td class=n>{e(first.amount)}</td></tr>{refunds}</tbody></table></body></html>"
    )


def receipt_pdf(document: str) -> bytes:
    """The receipt HTML printed to PDF by WeasyPrint (needs Debian's Pango, as invoices do)."""
    from weasyprint import HTML

    return HTML(string=document).write_pdf()
