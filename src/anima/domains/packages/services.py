"""Packages and their sales: owners define, front desk sells (recorded or online), credits follow.

* A package has a price per currency; a sale freezes the price, the sessions and the expiry
  (``validity_days`` after the sale, or after the payment for an online sale).
* A **recorded** sale (paid in cash or by transfer) is ACTIVE at once, with its ``purchase`` entry.
* An **online** sale is PENDING_PAYMENT with a payment request (its pay link opens Checkout on the
  practice's account); Stripe's success webhook calls :func:`activate_paid_sale`, which makes it
  ACTIVE and writes the purchase, once.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa
from babel.numbers import list_currencies
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.catalog.models import Service
from anima.domains.packages import ledger
from anima.domains.packages.models import CreditEntry, Package, PackagePrice, PackageSale, package_services
from anima.domains.packages.schemas import BalanceOut, EntryOut, PackageCreate, PackageOut, PackageUpdate, PriceOut, SaleCreate, SaleOut
from anima.domains.patients.visibility import Viewer, get_patient
from anima.domains.payments import services as payments
from anima.problems import Conflict, InvalidInput, NotFound

_CURRENCIES = frozenset(list_currencies())


async def to_out(session: AsyncSession, package: Package) -> PackageOut:
    prices = (await session.execute(sa.select(PackagePrice).where(PackagePrice.package_id == package.id).order_by(PackagePrice.currency))).scalars()
    services = (await session.execute(sa.select(package_services.c.service_id).where(package_services.c.package_id == package.id))).scalars()
    return PackageOut(package.id, package.name, package.sessions, package.validity_days, package.active,
                      [PriceOut(p.currency, p.amount_minor) for p in prices], sorted(services))


async def _check_definition(session: AsyncSession, data: PackageCreate) -> list[uuid.UUID]:
    seen: set[str] = set()
    for i, price in enumerate(data.prices):
        if price.currency not in _CURRENCIES:
            raise InvalidInput.field(f"prices[{i}].currency", "iso4217", f"{price.currency!r} is not an ISO 4217 currency")
        if price.currency in seen:
            raise InvalidInput.field(f"prices[{i}].currency", "unique", "one price per currency")
        seen.add(price.currency)
    service_ids = sorted(set(data.service_ids))
    if service_ids:
        found = set((await session.execute(sa.select(Service.id).where(Service.id.in_(service_ids)))).scalars())
        missing = [s for s in service_ids if s not in found]
        if missing:
            raise InvalidInput.field("service_ids", "service", f"no such service: {missing[0]}")
    return service_ids


async def create_package(session: AsyncSession, data: PackageCreate) -> Package:
    """Define a package. Raises InvalidInput (unknown currency, a currency twice, unknown service)."""
    service_ids = await _check_definition(session, data)
    package = Package(id=uuid.uuid4(), name=data.name.strip(), sessions=data.sessions, validity_days=data.validity_days)
    session.add(package)
    await session.flush()
    session.add_all(PackagePrice(id=uuid.uuid4(), package_id=package.id, currency=p.currency, amount_minor=p.amount_minor) for p in data.prices)
    if service_ids:
        await session.execute(package_services.insert(), [{"package_id": package.id, "service_id": s} for s in service_ids])
    await session.flush()
    return package


async def update_package(session: AsyncSession, package_id: uuid.UUID, data: PackageUpdate) -> Package:
    """Redefine a package (its prices and services replaced). Raises NotFound, InvalidInput as
    :func:`create_package`. Sales already made keep their frozen price, sessions and expiry."""
    package = await get_package(session, package_id)
    service_ids = await _check_definition(session, data)
    package.name, package.sessions, package.validity_days, package.active = data.name.strip(), data.sessions, data.validity_days, data.active
    await session.execute(sa.delete(PackagePrice).where(PackagePrice.package_id == package.id))
    await session.execute(package_services.delete().where(package_services.c.package_id == package.id))
    session.add_all(PackagePrice(id=uuid.uuid4(), package_id=package.id, currency=p.currency, amount_minor=p.amount_minor) for p in data.prices)
    if service_ids:
        await session.execute(package_services.insert(), [{"package_id": package.id, "service_id": s} for s in service_ids])
    await session.flush()
    return package


async def list_packages(session: AsyncSession) -> list[Package]:
    return list((await session.execute(sa.select(Package).order_by(Package.name, Package.id))).scalars())


async def get_package(session: AsyncSession, package_id: uuid.UUID) -> Package:
    package = await session.get(Package, package_id)
    if package is None:
        raise NotFound("package not found")
    return package


async def sale_out(session: AsyncSession, sale: PackageSale) -> SaleOut:
    return SaleOut(sale.id, sale.package_id, sale.patient_id, sale.currency, sale.amount_minor, sale.sessions, sale.expires_at,
                   sale.status, await ledger.balance(session, sale.id), sale.payment_id)


async def sell(session: AsyncSession, viewer: Viewer, package_id: uuid.UUID, data: SaleCreate) -> PackageSale:
    """Sell a package to a patient in one of its currencies (see the module docstring).

    Raises:
        NotFound: no such package.
        InvalidInput: unknown patient (``patient_id``), no price in ``currency``.
        Conflict: the package is inactive.
    """
    package = await get_package(session, package_id)
    if not package.active:
        raise Conflict("this package is no longer sold")
    try:
        patient = await get_patient(session, viewer, data.patient_id)
    except NotFound:
        raise InvalidInput.field("patient_id", "patient", "no such patient in this organization") from None
    price = await session.scalar(sa.select(PackagePrice).where(PackagePrice.package_id == package.id, PackagePrice.currency == data.currency))
    if price is None:
        raise InvalidInput.field("currency", "priced", f"this package has no price in {data.currency}")
    now = datetime.datetime.now(datetime.UTC)
    sale = PackageSale(
        id=uuid.uuid4(), package_id=package.id, patient_id=patient.id, currency=price.currency, amount_minor=price.amount_minor,
        sessions=package.sessions, expires_at=now + datetime.timedelta(days=package.validity_days),
        status="ACTIVE" if data.mode == "recorded" else "PENDING_PAYMENT", sold_by=viewer.user_id,
    )
    if data.mode == "online":
        payment = await payments.request_payment(
            session, patient_id=patient.id, amount_minor=price.amount_minor, currency=price.currency,
            description=package.name[:200], actor_id=viewer.user_id,
        )
        sale.payment_id = payment.id
    session.add(sale)
    await session.flush()
    if sale.status == "ACTIVE":
        await ledger.record_purchase(session, sale, actor_id=viewer.user_id)
    return sale


async def activate_paid_sale(session: AsyncSession, payment_id: uuid.UUID) -> PackageSale | None:
    """Activate the online sale paid by ``payment_id`` (its validity counted from now) and write its
    purchase; a no-op for a payment that is no sale's, or a sale already active."""
    sale = (await session.execute(sa.select(PackageSale).where(PackageSale.payment_id == payment_id).with_for_update())).scalar_one_or_none()
    if sale is None:
        return None
    if sale.status == "PENDING_PAYMENT":
        package = await session.get(Package, sale.package_id)
        sale.status = "ACTIVE"
        sale.expires_at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=package.validity_days if package else 0)
        await session.flush()
    await ledger.record_purchase(session, sale)
    return sale


async def patient_ledger(session: AsyncSession, viewer: Viewer, patient_id: uuid.UUID) -> BalanceOut:
    """A patient's usable balance, sales and ledger entries (newest first). Raises NotFound."""
    await get_patient(session, viewer, patient_id)
    sales = list((await session.execute(
        sa.select(PackageSale).where(PackageSale.patient_id == patient_id).order_by(PackageSale.created_at.desc(), PackageSale.id)
    )).scalars())
    entries = (await session.execute(
        sa.select(CreditEntry).where(CreditEntry.patient_id == patient_id).order_by(CreditEntry.created_at.desc(), CreditEntry.id).limit(500)
    )).scalars()
    return BalanceOut(
        patient_id, await ledger.patient_balance(session, patient_id), [await sale_out(session, s) for s in sales],
        [EntryOut(e.id, e.sale_id, e.kind, e.delta, e.booking_id, e.reason, e.created_at) for e in entries],
    )


async def get_sale(session: AsyncSession, viewer: Viewer, sale_id: uuid.UUID) -> PackageSale:
    sale = await session.get(PackageSale, sale_id)
    if sale is None:
        raise NotFound("sale not found")
    await get_patient(session, viewer, sale.patient_id)
    return sale


async def refund_unused(
    session: AsyncSession, viewer: Viewer, sale_id: uuid.UUID, *, reason: str, gateway: Any | None,
) -> tuple[CreditEntry | None, int]:
    """Refund a sale's unused credits pro rata (owners): a ``refund`` entry of minus the balance, and
    ``amount_minor × unused / sessions`` rounded **down** to a minor unit (the practice never refunds
    more than was paid for those credits). A sale paid online is refunded through its payment
    (:func:`anima.domains.payments.services.refund`, on the practice's Stripe account); a recorded
    sale's money goes back by hand. Returns the entry (None when nothing is left) and the amount.

    Raises:
        NotFound: no such sale. Conflict: the sale is not ACTIVE.
    """
    sale = await get_sale(session, viewer, sale_id)
    if sale.status != "ACTIVE":
        raise Conflict("only an active sale can be refunded", extra={"state": sale.status})
    locked = await ledger.lock_sale(session, sale.id)
    assert locked is not None
    unused = await ledger.balance(session, sale.id)
    if unused <= 0:
        return None, 0
    amount = sale.amount_minor * unused // sale.sessions
    if sale.payment_id is not None and amount > 0:
        await payments.refund(session, gateway, viewer, sale.payment_id, amount_minor=amount,
                              reason=f"{unused} unused credits: {reason}"[:200])
    key = f"refund:{sale.id}:{unused}:{await ledger.balance(session, sale.id)}"
    entry = await ledger.append_refund(session, sale, unused, key, reason=reason, actor_id=viewer.user_id)
    return entry, amount
