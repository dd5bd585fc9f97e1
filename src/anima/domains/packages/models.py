"""Packages (N sessions of some services, valid D days, priced per currency), their sales, and credits.

* ``packages`` / ``package_services`` / ``package_prices`` — what an owner sells: a number of
  sessions, the services they cover, a validity in days, and one price per ISO 4217 currency
  (several currencies for one package; a sum never mixes them).
* ``package_sales`` — one package sold to one patient: the price paid (minor units + currency),
  the sessions and the expiry frozen at the sale. ``ACTIVE`` once paid (recorded by staff, or
  Checkout's webhook), ``PENDING_PAYMENT`` while an online sale waits for Stripe.
* ``credit_entries`` — the credit ledger, **append-only at the database**: a trigger refuses every
  UPDATE, and every DELETE while the sale still exists (so only a sale's or a patient's erasure,
  by cascade, removes entries). A sale's balance is the sum of its entries' ``delta``; writers
  take the sale's row lock first (:mod:`anima.domains.packages.ledger`), so the balance is never
  negative under any concurrency. ``idempotency_key`` (unique) makes a replayed operation a no-op.
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import DDL, Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, event, func, text
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, Timestamps, UUIDKey, utcnow

#: kinds of ledger entries and the sign their delta must have
ENTRY_KINDS = ("purchase", "use", "return", "no_show", "expiry", "refund", "adjustment")

package_services = Table(
    "package_services",
    TenantBase.metadata,
    Column("package_id", GUID, ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", GUID, ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Package(UUIDKey, Timestamps, TenantBase):
    """A package of ``sessions`` sessions of its services, valid ``validity_days`` days from the sale."""

    __tablename__ = "packages"
    __table_args__ = (
        CheckConstraint("sessions BETWEEN 1 AND 1000", name="sessions_range"),
        CheckConstraint("validity_days BETWEEN 1 AND 3660", name="validity_range"),
    )

    name: Mapped[str] = mapped_column(String(120))
    sessions: Mapped[int] = mapped_column(Integer)
    validity_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")


class PackagePrice(UUIDKey, TenantBase):
    """The price of a package in one currency (minor units)."""

    __tablename__ = "package_prices"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("uq_package_prices_currency", "package_id", "currency", unique=True),
    )

    package_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("packages.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Integer)


class PackageSale(UUIDKey, Timestamps, TenantBase):
    """A package sold to a patient; its credits are the ledger entries pointing at it."""

    __tablename__ = "package_sales"
    __table_args__ = (
        CheckConstraint("status IN ('PENDING_PAYMENT','ACTIVE')", name="status_valid"),
        CheckConstraint("amount_minor >= 0", name="amount_nonnegative"),
        Index("ix_package_sales_patient", "patient_id", "expires_at"),
        Index("uq_package_sales_payment", "payment_id", unique=True),
    )

    package_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("packages.id", ondelete="RESTRICT"))
    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Integer)
    sessions: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    #: the payment request of an online sale (paid through Checkout)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("payment_requests.id", ondelete="SET NULL"), nullable=True)
    sold_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)


class CreditEntry(UUIDKey, TenantBase):
    """One movement of a sale's credits (see the module docstring); never updated."""

    __tablename__ = "credit_entries"
    __table_args__ = (
        CheckConstraint(f"kind IN {ENTRY_KINDS!r}".replace('"', "'"), name="kind_valid"),
        CheckConstraint("delta <> 0", name="delta_nonzero"),
        CheckConstraint(
            "(kind IN ('purchase','return') AND delta > 0) OR (kind IN ('use','no_show','expiry','refund') AND delta < 0)"
            " OR kind = 'adjustment'", name="delta_sign",
        ),
        Index("ix_credit_entries_sale", "sale_id", "created_at"),
        Index("ix_credit_entries_patient", "patient_id", "created_at"),
        Index("uq_credit_entries_key", "idempotency_key", unique=True),
    )

    sale_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("package_sales.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    delta: Mapped[int] = mapped_column(Integer)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str] = mapped_column(String(120))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())


#: what a booking does when its patient's valid packages for the service have no credit left
WHEN_EXHAUSTED = ("PAY", "REFUSE")


class CreditRule(UUIDKey, Timestamps, TenantBase):
    """How bookings use package credits: ``service_id`` null is the organization's rule, else that
    service's override (the whole row overrides). Without a row: a no-show keeps its credit used
    (``no_show_uses_credit`` true) and an exhausted package lets the booking pay (``PAY``)."""

    __tablename__ = "credit_rules"
    __table_args__ = (
        CheckConstraint("when_exhausted IN ('PAY','REFUSE')", name="when_exhausted_valid"),
        CheckConstraint("org_default = (service_id IS NULL)", name="org_default_has_no_service"),
        Index("uq_credit_rules_service", "service_id", unique=True, postgresql_where=text("service_id IS NOT NULL")),
        Index("uq_credit_rules_org", "org_default", unique=True, postgresql_where=text("org_default")),
    )

    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("services.id", ondelete="CASCADE"), nullable=True)
    org_default: Mapped[bool] = mapped_column(Boolean, default=False)
    no_show_uses_credit: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    when_exhausted: Mapped[str] = mapped_column(String(8), default="PAY", server_default="PAY")


#: the ledger is append-only: UPDATE always refused, DELETE refused while the sale exists (an
#: erasure's cascade deletes the sale first); same SQL as the migration
CREDIT_ENTRIES_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION credit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN IF TG_OP = 'UPDATE' OR EXISTS (SELECT 1 FROM package_sales WHERE id = OLD.sale_id) THEN "
    "RAISE EXCEPTION 'credit_entries is append-only'; END IF; RETURN OLD; END $$",
    "CREATE TRIGGER credit_entries_append_only BEFORE UPDATE OR DELETE ON credit_entries "
    "FOR EACH ROW EXECUTE FUNCTION credit_entries_append_only()",
)
for _statement in CREDIT_ENTRIES_APPEND_ONLY:
    event.listen(CreditEntry.__table__, "after_create", DDL(_statement))


__all__ = ["CreditEntry", "CreditRule", "ENTRY_KINDS", "Package", "PackagePrice", "PackageSale", "package_services"]
