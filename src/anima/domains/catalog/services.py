"""Rules of services: validation beyond field shapes, therapist assignment, who sees what.

Built on advanced-alchemy's :class:`SQLAlchemyAsyncRepository`. The session is already scoped to
the tenant (see anima.http.deps.provide_tenant), so every statement here touches this tenant only.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

import msgspec
import sqlalchemy as sa
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.limits import ensure_within_limit
from anima.billing.usage import active_services_count
from anima.domains.catalog.models import Service, service_therapists
from anima.domains.catalog.schemas import ServiceCreate, ServiceOut, ServiceUpdate, TherapistOut
from anima.domains.staff.models import StaffMember
from anima.problems import Conflict, InvalidInput, NotFound
from anima.identity.models import Role

#: SQLSTATEs of a delete refused because rows refer to it: foreign_key_violation (NO ACTION) and
#: restrict_violation (ON DELETE RESTRICT, as bookings declare)
REFERENCED = frozenset({"23503", "23001"})

#: roles that may be assigned to deliver a service
DELIVERING_ROLES = (Role.THERAPIST.value, Role.OWNER.value)


class ServiceRepository(SQLAlchemyAsyncRepository[Service]):
    model_type = Service


#: ISO 4217 codes that name no money: XXX "no currency", XTS "reserved for testing"
NOT_CURRENCIES = frozenset({"XXX", "XTS"})


@lru_cache(maxsize=1)
def iso_currencies() -> frozenset[str]:
    """ISO 4217 codes known to babel (CLDR), without the testing and no-currency codes."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies()) - NOT_CURRENCIES


def visible_to(role: str, user_id: uuid.UUID) -> uuid.UUID | None:
    """Whose services a member may list: a therapist only those assigned to them (their id), others all (None)."""
    return user_id if role == "THERAPIST" else None


def to_out(service: Service) -> ServiceOut:
    return ServiceOut(
        id=service.id,
        name=service.name,
        description=service.description,
        kind=service.kind,
        scheduling=service.scheduling,
        duration_minutes=service.duration_minutes,
        price_minor=service.price_minor,
        currency=service.currency,
        capacity=service.capacity,
        location=service.location,
        location_detail=service.location_detail,
        active=service.active,
        therapists=sorted((TherapistOut(t.id, t.display_name) for t in service.therapists), key=lambda t: t.display_name),
        created_at=service.created_at,
        updated_at=service.updated_at,
        buffer_before_minutes=service.buffer_before_minutes,
        buffer_after_minutes=service.buffer_after_minutes,
        min_notice_minutes=service.min_notice_minutes,
        horizon_days=service.horizon_days,
        slot_step_minutes=service.slot_step_minutes,
        public_booking=service.public_booking,
        pay_online=service.pay_online,
        deposit_minor=service.deposit_minor,
        deposit_share_bp=service.deposit_share_bp,
    )


def check_payment_rules(pay_online: str, price_minor: int, deposit_minor: int | None, deposit_share_bp: int | None) -> None:
    """What a client pays online: NONE and FULL take no deposit; DEPOSIT takes exactly one of a
    fixed ``deposit_minor`` (1..price) or ``deposit_share_bp`` (1..10000); FULL and DEPOSIT need a
    price above 0. Raises InvalidInput naming the field and the rule."""
    if pay_online != "DEPOSIT":
        for field, value in (("deposit_minor", deposit_minor), ("deposit_share_bp", deposit_share_bp)):
            if value is not None:
                raise InvalidInput.field(field, "deposit-only", "a deposit is set only when pay_online is DEPOSIT")
    else:
        if (deposit_minor is None) == (deposit_share_bp is None):
            raise InvalidInput.field("deposit_minor", "one-deposit", "a DEPOSIT needs exactly one of deposit_minor or deposit_share_bp")
        if deposit_minor is not None and deposit_minor > price_minor:
            raise InvalidInput.field("deposit_minor", "within-price", "a deposit is at most the price")
    if pay_online != "NONE" and price_minor <= 0:
        raise InvalidInput.field("pay_online", "priced", "a free service has nothing to pay online")


def _check_rules(kind: str, capacity: int | None, currency: str) -> None:
    if currency not in iso_currencies():
        raise InvalidInput.field("currency", "iso4217", f"{currency!r} is not an ISO 4217 currency code")
    if kind == "GROUP" and capacity is None:
        raise InvalidInput.field("capacity", "required-for-group", "a GROUP service needs a capacity of at least 2")
    if kind == "ONE_ON_ONE" and capacity is not None:
        raise InvalidInput.field("capacity", "one-on-one", "a ONE_ON_ONE service has no capacity")


async def _therapists(session: AsyncSession, ids: list[uuid.UUID]) -> list[StaffMember]:
    unique = list(dict.fromkeys(ids))
    if not unique:
        return []
    rows = (
        await session.execute(
            sa.select(StaffMember).where(
                StaffMember.id.in_(unique), StaffMember.active.is_(True), StaffMember.role.in_(DELIVERING_ROLES)
            )
        )
    ).scalars().all()
    found = {s.id for s in rows}
    missing = [str(i) for i in unique if i not in found]
    if missing:
        raise InvalidInput.field(
            "therapist_ids", "therapist", f"not active therapists or owners of this organization: {', '.join(missing)}"
        )
    return list(rows)


async def _ensure_active_service_slot(session: AsyncSession, tenant_id: int, tier: str) -> None:
    """Refuse one more active service past the tier's ``active_services`` limit (race-safe)."""
    await ensure_within_limit(session, tenant_id=tenant_id, tier=tier, limit="active_services", count=active_services_count())


async def create_service(session: AsyncSession, data: ServiceCreate, *, tenant_id: int, tier: str) -> Service:
    """Create a service; an active one counts against the tier's ``active_services`` limit.

    Raises:
        InvalidInput: currency or capacity rules; LimitReached: the plan's active services are used up.
    """
    _check_rules(data.kind, data.capacity, data.currency)
    check_payment_rules(data.pay_online, data.price_minor, data.deposit_minor, data.deposit_share_bp)
    if data.active:
        await _ensure_active_service_slot(session, tenant_id, tier)
    therapists = await _therapists(session, data.therapist_ids)
    values = msgspec.structs.asdict(data)
    values.pop("therapist_ids")
    service = Service(**values)
    service.therapists = therapists
    repo = ServiceRepository(session=session)
    return await repo.add(service)


async def get_service(session: AsyncSession, service_id: uuid.UUID, *, visible_to: uuid.UUID | None = None) -> Service:
    """The service, or 404. With ``visible_to``, only if that therapist is assigned to it."""
    query = sa.select(Service).where(Service.id == service_id)
    if visible_to is not None:
        query = query.where(Service.id.in_(sa.select(service_therapists.c.service_id).where(service_therapists.c.staff_id == visible_to)))
    service = (await session.execute(query)).scalar_one_or_none()
    if service is None:
        raise NotFound("service not found")
    return service


async def list_services(
    session: AsyncSession,
    *,
    limit: int,
    offset: int,
    visible_to: uuid.UUID | None,
    active: bool | None,
    kind: str | None,
    search: str | None,
) -> tuple[list[Service], int]:
    """Services ordered by name. ``visible_to`` restricts to a therapist's assigned services."""
    where = []
    if visible_to is not None:
        where.append(Service.id.in_(sa.select(service_therapists.c.service_id).where(service_therapists.c.staff_id == visible_to)))
    if active is not None:
        where.append(Service.active.is_(active))
    if kind is not None:
        where.append(Service.kind == kind)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Service.name.ilike(f"%{escaped}%", escape="\\"))
    total = (await session.execute(sa.select(sa.func.count()).select_from(Service).where(*where))).scalar_one()
    rows = (
        await session.execute(sa.select(Service).where(*where).order_by(Service.name, Service.id).limit(limit).offset(offset))
    ).scalars().all()
    return list(rows), total


async def update_service(
    session: AsyncSession, service_id: uuid.UUID, data: ServiceUpdate, *, tenant_id: int, tier: str
) -> Service:
    """Change a service; re-activating one counts against the tier's ``active_services`` limit.

    Raises:
        NotFound; InvalidInput; LimitReached: re-activation past the plan's limit.
    """
    service = await get_service(session, service_id)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if changes.get("active") is True and not service.active:
        await _ensure_active_service_slot(session, tenant_id, tier)
    kind = changes.get("kind", service.kind)
    capacity = changes["capacity"] if "capacity" in changes else service.capacity
    if "kind" in changes and kind == "ONE_ON_ONE" and "capacity" not in changes:
        capacity = changes["capacity"] = None
    _check_rules(kind, capacity, changes.get("currency", service.currency))
    pay_online = changes.get("pay_online", service.pay_online)
    if pay_online != "DEPOSIT":  # leaving DEPOSIT clears the deposit unless one is sent (then refused)
        changes.setdefault("deposit_minor", None)
        changes.setdefault("deposit_share_bp", None)
    elif "deposit_minor" in changes and changes["deposit_minor"] is not None:
        changes.setdefault("deposit_share_bp", None)  # a new kind of deposit replaces the other
    elif "deposit_share_bp" in changes and changes["deposit_share_bp"] is not None:
        changes.setdefault("deposit_minor", None)
    check_payment_rules(pay_online, changes.get("price_minor", service.price_minor),
                        changes.get("deposit_minor", service.deposit_minor), changes.get("deposit_share_bp", service.deposit_share_bp))
    for key, value in changes.items():
        setattr(service, key, value)
    await session.flush()
    await session.refresh(service)
    return service


async def assign_therapists(session: AsyncSession, service_id: uuid.UUID, therapist_ids: list[uuid.UUID]) -> Service:
    service = await get_service(session, service_id)
    service.therapists = await _therapists(session, therapist_ids)
    await session.flush()
    await session.refresh(service)
    return service


async def delete_service(session: AsyncSession, service_id: uuid.UUID) -> None:
    """Delete a service that nothing refers to.

    Raises:
        NotFound: no such service.
        Conflict: bookings refer to it (they keep their service); deactivate it instead.
    """
    service = await get_service(session, service_id)
    await session.delete(service)
    try:
        await session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) not in REFERENCED:
            raise
        raise Conflict("bookings refer to this service; set it inactive instead of deleting it") from None
