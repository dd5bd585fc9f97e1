"""Members of an organization: invitations, role changes, removal — never the last owner.

These operations write the platform (memberships, invitations, outbox) **and** the tenant's
``staff`` mirror. They run in one transaction on the app role: platform statements first, then
:func:`anima.tenancy.scope.enter_tenant` switches the same transaction into the tenant for the
staff write, so the two are committed together or not at all.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.limits import ensure_seat_available
from anima.db.base import utcnow
from anima.domains.staff.models import StaffMember
from anima.problems import Conflict, NotFound, TenantUnavailable, Unauthorized
from anima.identity.email_verification import mark_verified
from anima.identity.models import Invitation, Membership, Role, User
from anima.identity.passwords import hash_password, verify_password
from anima.identity.schemas import AcceptInvitationResponse, InvitationOut, MemberOut
from anima.identity.sessions import normalize_email
from anima.identity.signup import validate_password
from anima.identity.tokens import hash_token, new_opaque_token
from anima.logs import get_logger
from anima.mail import compose
from anima.mail.messages import queue_composed
from anima.tenancy import registry
from anima.tenancy.scope import ScopedTenant, enter_tenant

log = get_logger(__name__)

INVITATION_TTL = datetime.timedelta(days=7)


async def _enter(session: AsyncSession, tenant_id: int) -> None:
    if await enter_tenant(session, tenant_id) is None:
        raise TenantUnavailable("this organization is not active")


async def list_members(session: AsyncSession, org: ScopedTenant, *, limit: int, offset: int) -> tuple[list[MemberOut], int]:
    """Active and former members from the tenant's staff table, owners first, then by name."""
    await _enter(session, org.id)
    total = (await session.execute(sa.select(sa.func.count()).select_from(StaffMember))).scalar_one()
    rows = (
        await session.execute(
            sa.select(StaffMember)
            .order_by(StaffMember.active.desc(), (StaffMember.role == "OWNER").desc(), StaffMember.display_name)
            .limit(limit)
            .offset(offset)
        )
    ).scalars()
    return [MemberOut(s.id, s.email, s.display_name, s.role, s.active) for s in rows], total


async def invite(
    session: AsyncSession,
    org: ScopedTenant,
    *,
    email: str,
    role: str,
    invited_by: uuid.UUID,
    public_url: str,
    log_link: bool,
) -> InvitationOut:
    """Create an invitation and queue its email. 409 when the person is already a member or invited."""
    email = normalize_email(email)
    member = (
        await session.execute(
            sa.select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == org.id, User.email == email)
        )
    ).first()
    if member is not None:
        raise Conflict("this person is already a member", errors=[{"field": "email", "rule": "unique", "message": "already a member"}])
    pending = (
        await session.execute(
            sa.select(Invitation.id).where(
                Invitation.tenant_id == org.id,
                Invitation.email == email,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
        )
    ).first()
    if pending is not None:
        raise Conflict("an invitation to this email is pending", errors=[{"field": "email", "rule": "unique", "message": "already invited"}])
    # a pending invitation holds a seat: members + pending + this one must fit the plan (LimitReached)
    await ensure_seat_available(session, org.id, include_pending=True)
    token, digest = new_opaque_token()
    invitation = Invitation(
        tenant_id=org.id,
        email=email,
        role=role,
        token_hash=digest,
        invited_by=invited_by,
        created_at=utcnow(),
        expires_at=utcnow() + INVITATION_TTL,
    )
    session.add(invitation)
    link = f"{public_url}/invitations/{token}"  # a page that tells the person how to accept
    # the invitee's own language when they already have an account, else the inviter's
    people = (await session.execute(
        sa.select(User.id, User.email, User.language).where(sa.or_(User.email == email, User.id == invited_by))
    )).all()
    language = next((p.language for p in people if p.email == email and p.language), None) \
        or next((p.language for p in people if p.id == invited_by), None)
    composed = compose.render("invitation", language, org_name=org.name, role=role, link=link, token=token)
    await queue_composed(
        session, composed, recipient=email, kind="invitation", tenant_id=org.id,
        development_link=link if log_link else None,
    )
    return InvitationOut(invitation.id, email, role, invitation.expires_at, None, None)


async def list_invitations(session: AsyncSession, org: ScopedTenant, *, limit: int, offset: int) -> tuple[list[InvitationOut], int]:
    where = Invitation.tenant_id == org.id
    total = (await session.execute(sa.select(sa.func.count()).select_from(Invitation).where(where))).scalar_one()
    rows = (
        await session.execute(sa.select(Invitation).where(where).order_by(Invitation.created_at.desc()).limit(limit).offset(offset))
    ).scalars()
    return [InvitationOut(i.id, i.email, i.role, i.expires_at, i.accepted_at, i.revoked_at) for i in rows], total


async def revoke_invitation(session: AsyncSession, org: ScopedTenant, invitation_id: uuid.UUID) -> None:
    updated = await session.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation_id, Invitation.tenant_id == org.id, Invitation.accepted_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if not updated.rowcount:
        raise NotFound("invitation not found or already accepted")


_NOT_VALID = "this invitation is not valid (unknown, used, revoked or expired)"


async def pending_invitation(session: AsyncSession, token: str, *, lock: bool = False) -> tuple[Invitation, Any]:
    """The pending invitation of ``token`` and its organization (registry row); one answer for every failure.

    Args:
        lock: lock the invitation row (accepting: single use under concurrency).

    Raises:
        NotFound: unknown, expired, revoked or used invitation, or an organization that is gone.
        TenantUnavailable: the organization exists but is not active.
    """
    query = sa.select(Invitation).where(Invitation.token_hash == hash_token(token))
    invitation = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= utcnow()
    ):
        raise NotFound(_NOT_VALID)
    tenant = await registry.by_id(session, invitation.tenant_id)
    if tenant is None:
        raise NotFound(_NOT_VALID)
    if tenant.state != "active":
        raise TenantUnavailable(f"this organization is {tenant.state}")
    return invitation, tenant


async def account_exists(session: AsyncSession, email: str) -> bool:
    """Whether an account with ``email`` exists (the invitation page asks for its password, not a new one)."""
    return (await session.execute(sa.select(User.id).where(User.email == normalize_email(email)))).first() is not None


async def accept_invitation(
    session: AsyncSession, *, token: str, password: str, display_name: str | None
) -> AcceptInvitationResponse:
    """Join the inviting organization. A new email creates an account (password policy applies);
    an existing account must prove its password. The invitation is single-use.

    Raises:
        NotFound: unknown, expired, revoked or used invitation (one answer for all).
        Unauthorized: wrong password for an existing account.
        Conflict: already a member.
    """
    invitation, tenant = await pending_invitation(session, token, lock=True)
    now = utcnow()
    user = (await session.execute(sa.select(User).where(User.email == invitation.email))).scalar_one_or_none()
    created = False
    if user is None:
        validate_password(password, invitation.email)
        user = User(
            email=invitation.email,
            password_hash=hash_password(password),
            display_name=display_name or invitation.email.split("@", 1)[0],
        )
        session.add(user)
        await session.flush()
        created = True
    elif not verify_password(user.password_hash, password):
        raise Unauthorized("the password does not match the existing account for this email")
    exists = (
        await session.execute(
            sa.select(Membership.id).where(Membership.tenant_id == invitation.tenant_id, Membership.user_id == user.id)
        )
    ).first()
    if exists is not None:
        raise Conflict("you are already a member of this organization")
    # the plan may have shrunk since the invitation went out: members + this one must fit (LimitReached)
    await ensure_seat_available(session, invitation.tenant_id, include_pending=False)
    session.add(Membership(tenant_id=invitation.tenant_id, user_id=user.id, role=invitation.role))
    invitation.accepted_at = now
    mark_verified(user)  # the invitation reached this address
    await session.flush()
    await _enter(session, invitation.tenant_id)
    await _upsert_staff(session, user, invitation.role)
    log.info("invitation accepted", tenant_id=invitation.tenant_id, user=str(user.id), role=invitation.role)
    return AcceptInvitationResponse(tenant.slug, invitation.role, user.id, created)


async def _upsert_staff(session: AsyncSession, user: User, role: str) -> None:
    staff = await session.get(StaffMember, user.id)
    if staff is None:
        session.add(StaffMember(id=user.id, display_name=user.display_name, email=user.email, role=role, active=True,
                                time_zone=user.time_zone))
    else:
        staff.role, staff.active = role, True
    await session.flush()


async def _locked_membership(
    session: AsyncSession, tenant_id: int, user_id: uuid.UUID, *, leaves_ownership: bool, field: str, action: str
) -> Membership:
    """The membership of ``user_id``, with every owner row locked; 409 if the change would leave no owner.

    Locking the owners first serializes concurrent demotions and removals, so two of them cannot
    each see "another owner remains" and both pass.
    """
    owners = (
        await session.execute(
            sa.select(Membership.user_id)
            .where(Membership.tenant_id == tenant_id, Membership.role == Role.OWNER.value)
            .with_for_update()
        )
    ).scalars().all()
    membership = (
        await session.execute(
            sa.select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user_id).with_for_update()
        )
    ).scalar_one_or_none()
    if membership is None:
        raise NotFound("member not found")
    if membership.role == Role.OWNER.value and leaves_ownership and list(owners) == [user_id]:
        raise Conflict("the organization must keep at least one owner",
                       errors=[{"field": field, "rule": "last-owner", "message": f"cannot {action} the last owner"}])
    return membership


async def change_role(session: AsyncSession, org: ScopedTenant, user_id: uuid.UUID, role: str) -> MemberOut:
    """Give a member another role; demoting the last owner is a 409."""
    membership = await _locked_membership(
        session, org.id, user_id, leaves_ownership=role != Role.OWNER.value, field="role", action="demote"
    )
    membership.role = role
    await session.flush()
    await _enter(session, org.id)
    staff = await session.get(StaffMember, user_id)
    if staff is not None:
        staff.role = role
        await session.flush()
    return MemberOut(user_id, staff.email if staff else "", staff.display_name if staff else "", role, True)


async def remove_member(session: AsyncSession, org: ScopedTenant, user_id: uuid.UUID) -> None:
    """Remove a member (their staff row stays, inactive, for history); never the last owner."""
    membership = await _locked_membership(
        session, org.id, user_id, leaves_ownership=True, field="user_id", action="remove"
    )
    await session.delete(membership)
    await session.flush()
    await _enter(session, org.id)
    staff = await session.get(StaffMember, user_id)
    if staff is not None:
        staff.active = False
        await session.flush()
