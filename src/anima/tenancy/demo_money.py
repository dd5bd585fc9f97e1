"""The demo's money: packages, a sale with credits used, and invoices — through the domain services.

What it adds to a demo tenant (once; a re-run adds nothing): two packages, "5 sessions" (5
sessions, 60 days, 250.00 EUR) and "10 sessions" (10 sessions, 90 days, 450.00 EUR), covering the
first active one-to-one CALENDAR service; a recorded sale of the 10-session package to the first
demo patient by name (not blocked), two of whose sessions were booked by the staff in the past week (each
booking uses a credit through the booking engine, as any booking does) and completed — 8 credits
left; and two invoices to that patient, one issued and one paid.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa

from anima.domains.bookings import services as bookings
from anima.domains.bookings.schemas import BookingCreate
from anima.domains.catalog.models import Scheduling, Service
from anima.domains.invoices import services as invoices
from anima.domains.invoices.models import Invoice
from anima.domains.invoices.schemas import InvoiceCreate, LineIn
from anima.domains.packages import services as packages
from anima.domains.packages.models import PackageSale
from anima.domains.packages.schemas import PackageCreate, PriceIn, SaleCreate
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import viewer_for
from anima.jobs.runner import tenant_transaction
from anima.runtime import Runtime

#: (name, sessions, validity days, EUR minor units)
PACKAGES = (("5 sessions", 5, 60, 25_000), ("10 sessions", 10, 90, 45_000))
#: how many of the sale's sessions the demo has already booked and held
SESSIONS_USED = 2


async def apply(runtime: Runtime, tenant_id: int, owner_id: uuid.UUID, patient_names: list[tuple[str, str]], report: Any) -> None:
    """Add the demo's packages, sale and invoices to ``tenant_id`` as the owner (see the module
    docstring); counts what it adds on ``report.packages``, ``report.sales``, ``report.invoices``."""
    async with tenant_transaction(runtime, tenant_id) as tx:
        session = tx.session
        service = (await session.execute(
            sa.select(Service).where(Service.active.is_(True), Service.scheduling == Scheduling.CALENDAR.value, Service.capacity.is_(None))
            .order_by(Service.name, Service.id).limit(1))).scalar_one_or_none()
        existing = {p.name: p for p in await packages.list_packages(session)}
        for name, sessions, days, price in PACKAGES:
            if name in existing:
                continue
            body = PackageCreate(name=name, sessions=sessions, validity_days=days, prices=[PriceIn(currency="EUR", amount_minor=price)],
                                 service_ids=[service.id] if service is not None else [])
            existing[name] = await packages.create_package(session, body)
            report.packages += 1
        patient = None
        for first, last in patient_names:
            patient = (await session.execute(sa.select(Patient).where(Patient.first_name == first, Patient.last_name == last,
                                                                        Patient.archived_at.is_(None), Patient.blocked_at.is_(None)))).scalars().first()
            if patient is not None:
                break
        if patient is None:
            return
        owner = await viewer_for(session, owner_id, "OWNER")
        if await session.scalar(sa.select(sa.func.count()).select_from(PackageSale)) == 0:
            await packages.sell(session, owner, existing["10 sessions"].id, SaleCreate(patient_id=patient.id, currency="EUR"))
            report.sales += 1
            if service is not None:
                caller = bookings.Caller(owner_id, "OWNER")
                now = datetime.datetime.now(datetime.UTC)
                for days_ago in range(SESSIONS_USED, 0, -1):
                    starts = (now - datetime.timedelta(days=days_ago * 3)).replace(minute=0, second=0, microsecond=0)
                    booking = await bookings.create(session, owner_id, BookingCreate(patient_id=patient.id, service_id=service.id,
                                                                                     starts_at=starts))
                    await bookings.complete(session, caller, booking.id)
        if await session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0:
            for paid in (False, True):
                draft = await invoices.create_draft(session, owner, InvoiceCreate(patient_id=patient.id, currency="EUR", lines=[
                    LineIn(description="Individual session", unit_minor=6_000, quantity=2 if paid else 1)]))
                await invoices.issue(session, owner, draft.id)
                if paid:
                    await invoices.mark_paid(session, owner, draft.id)
                report.invoices += 1
