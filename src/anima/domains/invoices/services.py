"""Rules of invoices: drafts, gap-free numbers at issue, payment, voiding, credit notes.

* A DRAFT may be deleted or replaced; issuing freezes it (number, tax rate, totals, language)
  and from then on it is never edited: a mistake is corrected by a credit note
  (:func:`credit_note`, kind CREDIT_NOTE, issued at once with its own number from the same
  sequence).
* Numbers: ``{prefix}-{year}-{n:05d}``, ``n`` from the year's row of ``invoice_sequences`` taken in
  the issuing transaction (see :mod:`anima.domains.invoices.models`): gap-free under concurrency.
* ISSUED → PAID (:func:`mark_paid`) or VOID (:func:`void`, only while unpaid).
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from babel.numbers import list_currencies
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.invoices.models import Invoice, InvoiceLine, InvoiceSequence, InvoiceSettings
from anima.domains.invoices.schemas import InvoiceCreate, InvoiceOut, InvoiceSettingsIn, LineOut
from anima.domains.invoices.totals import Line, totals
from anima.domains.patients.visibility import Viewer, get_patient
from anima.domains.payments.models import PaymentRequest
from anima.domains.settings.services import get_settings as practice_settings
from anima.problems import Conflict, InvalidInput, NotFound

_CURRENCIES = frozenset(list_currencies())


async def get_invoice_settings(session: AsyncSession) -> InvoiceSettings:
    row = await session.get(InvoiceSettings, 1)
    if row is None:
        row = InvoiceSettings(id=1, prefix="INV", tax_rate_bps=0, tax_label="VAT")
        session.add(row)
        await session.flush()
    return row


async def update_invoice_settings(session: AsyncSession, data: InvoiceSettingsIn) -> InvoiceSettings:
    row = await get_invoice_settings(session)
    row.prefix, row.tax_rate_bps, row.tax_label = data.prefix, data.tax_rate_bps, data.tax_label.strip()
    await session.flush()
    return row


async def lines_of(session: AsyncSession, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    return list((await session.execute(sa.select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position))).scalars())


async def to_out(session: AsyncSession, inv: Invoice) -> InvoiceOut:
    lines = await lines_of(session, inv.id)
    return InvoiceOut(
        inv.id, inv.kind, inv.status, inv.number, inv.patient_id, inv.corrects_id, inv.currency, inv.tax_rate_bps, inv.tax_label,
        inv.subtotal_minor, inv.discount_minor, inv.tax_minor, inv.total_minor, inv.language, inv.issued_at, inv.paid_at,
        [LineOut(x.position, x.description, x.quantity, x.unit_minor, x.discount_bps,
                 Line(x.quantity, x.unit_minor, x.discount_bps).net_minor) for x in lines],
    )


def _compute(inv: Invoice, lines: list[InvoiceLine]) -> None:
    t = totals((Line(x.quantity, x.unit_minor, x.discount_bps) for x in lines), inv.tax_rate_bps)
    inv.subtotal_minor, inv.discount_minor, inv.tax_minor, inv.total_minor = t.subtotal_minor, t.discount_minor, t.tax_minor, t.total_minor


async def create_draft(session: AsyncSession, viewer: Viewer, data: InvoiceCreate) -> Invoice:
    """A DRAFT with its lines and provisional totals at today's tax rate. Raises InvalidInput."""
    if data.currency not in _CURRENCIES:
        raise InvalidInput.field("currency", "iso4217", f"{data.currency!r} is not an ISO 4217 currency")
    try:
        patient = await get_patient(session, viewer, data.patient_id)
    except NotFound:
        raise InvalidInput.field("patient_id", "patient", "no such patient in this organization") from None
    if sum(x.quantity * x.unit_minor for x in data.lines) > 1_000_000_000:
        raise InvalidInput.field("lines", "total", "an invoice totals at most 1,000,000,000 minor units")
    if data.payment_id is not None:
        payment = await session.get(PaymentRequest, data.payment_id)
        if payment is None or payment.patient_id != patient.id or payment.currency != data.currency:
            raise InvalidInput.field("payment_id", "payment", "no payment request of this patient in this currency")
    conf = await get_invoice_settings(session)
    inv = Invoice(id=uuid.uuid4(), patient_id=patient.id, kind="INVOICE", status="DRAFT", currency=data.currency,
                  tax_rate_bps=conf.tax_rate_bps, tax_label=conf.tax_label, payment_id=data.payment_id, created_by=viewer.user_id)
    session.add(inv)
    await session.flush()
    lines = [InvoiceLine(id=uuid.uuid4(), invoice_id=inv.id, position=i + 1, description=x.description.strip(), quantity=x.quantity,
                         unit_minor=x.unit_minor, discount_bps=x.discount_bps) for i, x in enumerate(data.lines)]
    session.add_all(lines)
    _compute(inv, lines)
    await session.flush()
    return inv


async def get(session: AsyncSession, viewer: Viewer, invoice_id: uuid.UUID, *, lock: bool = False) -> Invoice:
    query = sa.select(Invoice).where(Invoice.id == invoice_id)
    inv = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    if inv is None:
        raise NotFound("invoice not found")
    await get_patient(session, viewer, inv.patient_id)
    return inv


async def list_invoices(session: AsyncSession, *, limit: int, offset: int, status: str | None = None) -> tuple[list[Invoice], int]:
    """Invoices and credit notes, newest first (``status``: only those in it), and how many match."""
    where = [Invoice.status == status] if status else []
    total = await session.scalar(sa.select(sa.func.count()).select_from(Invoice).where(*where))
    rows = await session.execute(sa.select(Invoice).where(*where).order_by(Invoice.created_at.desc(), Invoice.id).limit(limit).offset(offset))
    return list(rows.scalars()), int(total or 0)


async def _next_number(session: AsyncSession, prefix: str, year: int) -> tuple[str, int]:
    n = (await session.execute(
        insert(InvoiceSequence).values(year=year, last_number=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last_number": InvoiceSequence.last_number + 1})
        .returning(InvoiceSequence.last_number)
    )).scalar_one()
    return f"{prefix}-{year}-{n:05d}", n


async def _issue(session: AsyncSession, inv: Invoice) -> Invoice:
    conf = await get_invoice_settings(session)
    now = datetime.datetime.now(datetime.UTC)
    inv.number, inv.sequence = await _next_number(session, conf.prefix, now.year)
    inv.year, inv.status, inv.issued_at = now.year, "ISSUED", now
    if inv.kind == "INVOICE":
        inv.tax_rate_bps, inv.tax_label = conf.tax_rate_bps, conf.tax_label
    inv.language = (await practice_settings(session)).locale
    _compute(inv, await lines_of(session, inv.id))
    await session.flush()
    return inv


async def issue(session: AsyncSession, viewer: Viewer, invoice_id: uuid.UUID) -> Invoice:
    """DRAFT → ISSUED: the next number of the year, today's tax rate and language, frozen totals.
    Raises Conflict when not a DRAFT."""
    inv = await get(session, viewer, invoice_id, lock=True)
    if inv.status != "DRAFT":
        raise Conflict(f"only a draft can be issued; this invoice is {inv.status}", extra={"state": inv.status})
    return await _issue(session, inv)


async def mark_paid(session: AsyncSession, viewer: Viewer, invoice_id: uuid.UUID) -> Invoice:
    """ISSUED → PAID. Raises Conflict otherwise."""
    inv = await get(session, viewer, invoice_id, lock=True)
    if inv.status != "ISSUED" or inv.kind != "INVOICE":
        raise Conflict(f"only an issued invoice can be paid; this one is {inv.status}", extra={"state": inv.status})
    inv.status, inv.paid_at = "PAID", datetime.datetime.now(datetime.UTC)
    await session.flush()
    return inv


async def void(session: AsyncSession, viewer: Viewer, invoice_id: uuid.UUID) -> Invoice:
    """ISSUED (unpaid) → VOID; its number stays used (no gap). Raises Conflict otherwise."""
    inv = await get(session, viewer, invoice_id, lock=True)
    if inv.status != "ISSUED":
        raise Conflict(f"only an issued, unpaid invoice can be voided; this one is {inv.status}", extra={"state": inv.status})
    inv.status, inv.voided_at = "VOID", datetime.datetime.now(datetime.UTC)
    await session.flush()
    return inv


async def credit_note(session: AsyncSession, viewer: Viewer, invoice_id: uuid.UUID, *, reason: str) -> Invoice:
    """An issued credit note cancelling an ISSUED or PAID invoice in full (its lines, its frozen tax
    rate), numbered from the same sequence. Raises Conflict (a draft, a void invoice, a credit note,
    or an invoice already credited)."""
    original = await get(session, viewer, invoice_id, lock=True)
    if original.kind != "INVOICE" or original.status not in ("ISSUED", "PAID"):
        raise Conflict("only an issued or paid invoice can be corrected by a credit note", extra={"state": original.status})
    if await session.scalar(sa.select(Invoice.id).where(Invoice.corrects_id == original.id)) is not None:
        raise Conflict("this invoice already has a credit note", extra={"state": original.status})
    note = Invoice(id=uuid.uuid4(), patient_id=original.patient_id, kind="CREDIT_NOTE", corrects_id=original.id, status="DRAFT",
                   currency=original.currency, tax_rate_bps=original.tax_rate_bps, tax_label=original.tax_label, created_by=viewer.user_id)
    session.add(note)
    await session.flush()
    lines = [InvoiceLine(id=uuid.uuid4(), invoice_id=note.id, position=1, description=f"{reason.strip()[:150]} ({original.number})",
                         quantity=1, unit_minor=original.subtotal_minor, discount_bps=0)]
    session.add_all(lines)
    await session.flush()
    return await _issue(session, note)


async def paid_by_payment(session: AsyncSession, payment_id: uuid.UUID) -> int:
    """Mark PAID the ISSUED invoices that ``payment_id`` settles (called when it succeeds: Stripe's
    webhook or staff recording it); returns how many changed. Drafts and void ones are left alone."""
    result = await session.execute(
        sa.update(Invoice).where(Invoice.payment_id == payment_id, Invoice.status == "ISSUED", Invoice.kind == "INVOICE")
        .values(status="PAID", paid_at=datetime.datetime.now(datetime.UTC))
    )
    return int(result.rowcount or 0)
