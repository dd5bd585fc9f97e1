"""Invoices, their lines, the yearly number sequences and the organization's invoicing settings.

* ``invoice_settings`` — singleton: number prefix, tax rate (basis points: 2100 = 21 % VAT) and
  its label.
* ``invoice_sequences`` — one row per year: the last number issued. A number is taken at issue
  time by ``INSERT … ON CONFLICT (year) DO UPDATE SET last_number = last_number + 1`` in the
  issuing transaction: the row stays locked until commit, so concurrent issues queue, and a
  rolled-back issue gives its number back — numbers have no gaps.
* ``invoices`` — DRAFT → ISSUED → PAID, or VOID; ``kind`` INVOICE or CREDIT_NOTE (``corrects_id``:
  the invoice it corrects). Totals in minor units (:mod:`anima.domains.invoices.totals`), frozen at
  issue with the tax rate, prefix and language. An issued invoice is never edited.
* ``invoice_lines`` — description (not clinical: "Session 50 min"), quantity, unit price, discount.
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, Timestamps, UUIDKey


class InvoiceSettings(Timestamps, TenantBase):
    """The organization's invoicing settings (one row)."""

    __tablename__ = "invoice_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="singleton"),
        CheckConstraint("tax_rate_bps BETWEEN 0 AND 10000", name="tax_rate_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    prefix: Mapped[str] = mapped_column(String(12), default="INV")
    tax_rate_bps: Mapped[int] = mapped_column(Integer, default=0)
    tax_label: Mapped[str] = mapped_column(String(20), default="VAT")


class InvoiceSequence(TenantBase):
    """The last invoice number issued in ``year``."""

    __tablename__ = "invoice_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class Invoice(UUIDKey, Timestamps, TenantBase):
    """An invoice or a credit note (see the module docstring)."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("status IN ('DRAFT','ISSUED','PAID','VOID')", name="status_valid"),
        CheckConstraint("kind IN ('INVOICE','CREDIT_NOTE')", name="kind_valid"),
        CheckConstraint("(status = 'DRAFT') = (number IS NULL)", name="number_when_issued"),
        CheckConstraint("(kind = 'CREDIT_NOTE') = (corrects_id IS NOT NULL)", name="credit_note_corrects"),
        CheckConstraint("tax_rate_bps BETWEEN 0 AND 10000", name="tax_rate_range"),
        Index("uq_invoices_number", "number", unique=True),
        Index("ix_invoices_patient", "patient_id", "created_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(12), default="INVOICE")
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("invoices.id", ondelete="RESTRICT"), nullable=True)
    status: Mapped[str] = mapped_column(String(8), default="DRAFT")
    number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    tax_rate_bps: Mapped[int] = mapped_column(Integer, default=0)
    tax_label: Mapped[str] = mapped_column(String(20), default="VAT")
    subtotal_minor: Mapped[int] = mapped_column(Integer, default=0)
    discount_minor: Mapped[int] = mapped_column(Integer, default=0)
    tax_minor: Mapped[int] = mapped_column(Integer, default=0)
    total_minor: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(8), default="en")
    payment_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("payment_requests.id", ondelete="SET NULL"), nullable=True)
    issued_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    paid_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    voided_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)


class InvoiceLine(UUIDKey, TenantBase):
    """One line of an invoice."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("quantity BETWEEN 1 AND 10000", name="quantity_range"),
        CheckConstraint("unit_minor BETWEEN 0 AND 100000000", name="unit_range"),
        CheckConstraint("discount_bps BETWEEN 0 AND 10000", name="discount_range"),
        Index("uq_invoice_lines_position", "invoice_id", "position", unique=True),
    )

    invoice_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("invoices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_minor: Mapped[int] = mapped_column(Integer)
    discount_bps: Mapped[int] = mapped_column(Integer, default=0)
