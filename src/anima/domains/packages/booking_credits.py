"""Package credits in the booking flow: what a booking uses, gets back or keeps.

The booking engine (:mod:`anima.domains.bookings.services`) calls these at three moments, in the
transaction of the change; every credit moves through :mod:`anima.domains.packages.ledger`
(``use_credit`` / ``return_credit``, under the sales' row locks), never by writing rows here.

* **Booked** (:func:`booked`: a booking becomes CONFIRMED — a hold confirmed, a staff entry, a
  seat): one credit of the patient's ACTIVE, unexpired sales covering the service is used, the
  **oldest-expiring sale first** (then by sale id). A booking tied to a payment request is paid by
  it and uses no credit. When the patient holds a valid sale covering the service but none has a
  credit left, the rule's ``when_exhausted`` decides: ``PAY`` (default) — the booking goes ahead at
  the service's normal price; ``REFUSE`` — :class:`~anima.problems.Conflict` 409 with reason
  ``no-credits`` (the caller's transaction rolls back, nothing is written). A patient without a
  valid covering sale books and pays as before.
* **Cancelled** (:func:`cancelled`): a timely cancellation returns the credit; a **late** one — by
  the client, inside the cancellation policy's window (:func:`anima.domains.bookings.policies.policy_for`;
  no policy: never late) — keeps it used. A cancellation by the practice always returns it.
* **No-show** (:func:`no_show`): the credit stays used when the rule's ``no_show_uses_credit``
  holds (default), else it is returned.

The rule is the service's override, else the organization's, else the defaults
(:data:`DEFAULT_RULE`).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.packages import ledger
from anima.domains.packages.models import CreditEntry, CreditRule, Package, PackageSale, package_services
from anima.problems import Conflict, InvalidInput

#: the reason of the 409 a booking gets under ``REFUSE`` with no credit left
NO_CREDITS = "no-credits"


@dataclass(frozen=True)
class Rule:
    """How bookings of a service use credits (see the module docstring)."""

    no_show_uses_credit: bool = True
    when_exhausted: str = "PAY"
    service_id: uuid.UUID | None = None


#: the rule without any row
DEFAULT_RULE = Rule()


@dataclass(frozen=True)
class Coverage:
    """A booking's credit: the sale and package it came from, the sale's credits left now, and
    whether the credit went back (a timely cancellation)."""

    booking_id: uuid.UUID
    sale_id: uuid.UUID
    package_name: str
    left: int
    returned: bool


async def rule_for(session: AsyncSession, service_id: uuid.UUID | None) -> Rule:
    """The rule that applies to a service: its override, else the organization's, else the defaults."""
    where = CreditRule.org_default.is_(True)
    if service_id is not None:
        where = sa.or_(where, CreditRule.service_id == service_id)
    rows = list((await session.execute(sa.select(CreditRule).where(where))).scalars())
    row = next((r for r in rows if r.service_id is not None), rows[0] if rows else None)
    return DEFAULT_RULE if row is None else Rule(row.no_show_uses_credit, row.when_exhausted, row.service_id)


async def own_rule(session: AsyncSession, service_id: uuid.UUID | None) -> Rule | None:
    """The organization's row (``service_id`` None) or the service's own override; None when absent."""
    where = CreditRule.org_default.is_(True) if service_id is None else CreditRule.service_id == service_id
    row = (await session.execute(sa.select(CreditRule).where(where))).scalar_one_or_none()
    return None if row is None else Rule(row.no_show_uses_credit, row.when_exhausted, row.service_id)


async def set_rule(session: AsyncSession, service_id: uuid.UUID | None, *, no_show_uses_credit: bool, when_exhausted: str) -> Rule:
    """Create or replace the organization's rule (``service_id`` None) or a service's override.

    Raises InvalidInput (``when_exhausted`` not PAY/REFUSE; ``service_id`` unknown)."""
    from anima.domains.catalog.models import Service

    if when_exhausted not in ("PAY", "REFUSE"):
        raise InvalidInput.field("when_exhausted", "one-of", "PAY or REFUSE")
    if service_id is not None and await session.get(Service, service_id) is None:
        raise InvalidInput.field("service_id", "exists", "no service with this id")
    values = {"no_show_uses_credit": no_show_uses_credit, "when_exhausted": when_exhausted, "updated_at": sa.func.now()}
    stmt = insert(CreditRule).values(id=uuid.uuid4(), service_id=service_id, org_default=service_id is None, **values)
    if service_id is None:
        stmt = stmt.on_conflict_do_update(index_elements=["org_default"], index_where=sa.text("org_default"), set_=values)
    else:
        stmt = stmt.on_conflict_do_update(index_elements=["service_id"], index_where=sa.text("service_id IS NOT NULL"), set_=values)
    await session.execute(stmt)
    return Rule(no_show_uses_credit, when_exhausted, service_id)


def _covering(patient_id: uuid.UUID, service_id: uuid.UUID, now: datetime.datetime) -> sa.Select[tuple[uuid.UUID]]:
    covered = sa.or_(
        ~sa.exists().where(package_services.c.package_id == PackageSale.package_id),
        sa.exists().where(package_services.c.package_id == PackageSale.package_id, package_services.c.service_id == service_id),
    )
    return sa.select(PackageSale.id).where(
        PackageSale.patient_id == patient_id, PackageSale.status == "ACTIVE", PackageSale.expires_at > now, covered)


async def packages_cover(session: AsyncSession, service_id: uuid.UUID) -> bool:
    """Whether any package (on sale or not) covers ``service_id`` — one listing no services covers
    all: what the booking wizard's details step uses to say a client's package would pay."""
    listed = sa.exists().where(package_services.c.package_id == Package.id)
    covers = sa.exists().where(package_services.c.package_id == Package.id, package_services.c.service_id == service_id)
    return await session.scalar(sa.select(Package.id).where(sa.or_(~listed, covers)).limit(1)) is not None


async def credits_for(session: AsyncSession, patient_id: uuid.UUID, service_id: uuid.UUID, *,
                      at: datetime.datetime | None = None) -> tuple[bool, int]:
    """``(has a valid covering sale, credits left on them)`` for a patient and a service: what a
    booking made now would find (a preview; :func:`booked` decides under the locks)."""
    now = at or datetime.datetime.now(datetime.UTC)
    ids = list((await session.execute(_covering(patient_id, service_id, now))).scalars())
    if not ids:
        return False, 0
    left = await session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CreditEntry.delta), 0)).where(CreditEntry.sale_id.in_(ids)))
    return True, int(left or 0)


async def booked(session: AsyncSession, *, booking_id: uuid.UUID, patient_id: uuid.UUID, service_id: uuid.UUID,
                 payment_id: uuid.UUID | None = None, actor_id: uuid.UUID | None = None,
                 now: datetime.datetime | None = None) -> CreditEntry | None:
    """Use a credit for a booking that became CONFIRMED; None when none was used (it pays).

    Raises Conflict (409, reason ``no-credits``) under ``REFUSE`` when the patient's valid
    covering sales have no credit left."""
    if payment_id is not None:
        return None
    now = now or datetime.datetime.now(datetime.UTC)
    entry = await ledger.use_credit(session, patient_id=patient_id, service_id=service_id, booking_id=booking_id,
                                    actor_id=actor_id, at=now)
    if entry is not None:
        return entry
    has_package, _ = await credits_for(session, patient_id, service_id, at=now)
    if has_package and (await rule_for(session, service_id)).when_exhausted == "REFUSE":
        raise Conflict("this patient's package has no credits left for this service; sell a new package first",
                       extra={"reason": NO_CREDITS})
    return None


async def cancelled(session: AsyncSession, *, booking_id: uuid.UUID, service_id: uuid.UUID, starts_at: datetime.datetime,
                    by: str, now: datetime.datetime, actor_id: uuid.UUID | None = None) -> CreditEntry | None:
    """A cancelled booking's credit: returned unless the cancellation is late (by the client,
    inside the policy's window). Returns the ``return`` entry, or None (kept, or none used)."""
    from anima.domains.bookings import policies

    policy = await policies.policy_for(session, service_id)
    late = by == "client" and policy is not None and starts_at - now < datetime.timedelta(hours=policy.window_hours)
    if late:
        return None
    return await ledger.return_credit(session, booking_id=booking_id, actor_id=actor_id)


async def no_show(session: AsyncSession, *, booking_id: uuid.UUID, service_id: uuid.UUID,
                  actor_id: uuid.UUID | None = None) -> CreditEntry | None:
    """A no-show's credit: kept when the rule says a no-show uses it, else returned."""
    if (await rule_for(session, service_id)).no_show_uses_credit:
        return None
    return await ledger.return_credit(session, booking_id=booking_id, actor_id=actor_id)


async def coverage(session: AsyncSession, booking_ids: list[uuid.UUID]) -> dict[uuid.UUID, Coverage]:
    """The credit each of ``booking_ids`` used (absent: none), with its sale's credits left now."""
    if not booking_ids:
        return {}
    rows = (await session.execute(
        sa.select(CreditEntry.booking_id, CreditEntry.kind, CreditEntry.sale_id, Package.name)
        .join(PackageSale, PackageSale.id == CreditEntry.sale_id).join(Package, Package.id == PackageSale.package_id)
        .where(CreditEntry.booking_id.in_(booking_ids))
    )).all()
    used = {r.booking_id: (r.sale_id, r.name) for r in rows if r.kind in ("use", "no_show")}
    returned = {r.booking_id for r in rows if r.kind == "return"}
    sales = {sale_id for sale_id, _ in used.values()}
    left: dict[uuid.UUID, int] = {}
    if sales:
        left = {r[0]: int(r[1]) for r in await session.execute(
            sa.select(CreditEntry.sale_id, sa.func.sum(CreditEntry.delta)).where(CreditEntry.sale_id.in_(sales)).group_by(CreditEntry.sale_id))}
    return {b: Coverage(b, sale_id, name, left.get(sale_id, 0), b in returned) for b, (sale_id, name) in used.items()}
