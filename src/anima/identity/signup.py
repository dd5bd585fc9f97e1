"""Signup: organization, owner user, membership and tenant in one flow.

1. One platform transaction (app role): the registry row in ``provisioning``, the user (argon2id
   hash) and the OWNER membership. A duplicate slug or email is a 409 and nothing is written.
2. Provisioning steps (admin role): role, schema, tables at head, blueprint data, active.
3. A session for the new owner, so the client is logged in.

With ``public_url`` given, the owner's first email-verification link
(:mod:`anima.identity.email_verification`) is queued in step 1's transaction.

If step 2 fails, the organization stays ``provisioning`` (its API answers "not ready") until a
retry (``anima tenants migrate`` resumes provisioning) completes it; nothing half-made is used.

The tier picked at signup is recorded (``requested_tier`` in the response and the tenant's
"created" event). A paid tier is not granted by signup: the organization starts on BUILDER and
``checkout_required`` tells the client to open a Checkout Session
(``POST /api/v1/orgs/{slug}/billing/checkout``); the webhook raises the tier once Stripe says it is
paid. The one exception is a development server without Stripe settings, where nobody could pay:
there the picked tier is granted as a comp recorded with actor ``signup`` and that reason.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from anima.db.engine import Database
from anima.problems import Conflict, InvalidInput
from anima.identity.email_verification import send_verification
from anima.identity.models import Membership, Role, User
from anima.identity.passwords import WeakPassword, check_policy, hash_password
from anima.identity.schemas import MembershipOut, SignupRequest, SignupResponse
from anima.identity.sessions import normalize_email, start_session
from anima.logs import get_logger
from anima.tenancy.naming import InvalidSlug, validate_slug
from anima.billing.tiers import BASE_TIER, set_comp_tier
from anima.tenancy.provisioning import TenantExists, record_event, register_tenant, run_provisioning_steps

log = get_logger(__name__)


def validate_password(password: str, email: str, field: str = "password") -> None:
    """Raise InvalidInput (422) naming ``field`` and the rule when the password policy fails."""
    try:
        check_policy(password, email=email)
    except WeakPassword as exc:
        raise InvalidInput.field(field, exc.rule, str(exc)) from None


async def signup(
    session: AsyncSession,
    db: Database,
    data: SignupRequest,
    *,
    secret: str,
    client_address: str | None,
    user_agent: str | None,
    grant_paid_tier: bool = False,
    public_url: str | None = None,
    log_link: bool = False,
) -> SignupResponse:
    """Run the signup flow; see the module docstring.

    Raises:
        InvalidInput: slug reserved or malformed, weak password.
        Conflict: slug or email already taken.
    """
    email = normalize_email(data.email)
    try:
        validate_slug(data.slug)
    except InvalidSlug as exc:
        raise InvalidInput.field("slug", "slug", f"slug {exc.rule}") from None
    validate_password(data.password, email)
    if (await session.execute(sa.select(User.id).where(User.email == email))).first() is not None:
        raise Conflict("an account with this email already exists; log in instead",
                       errors=[{"field": "email", "rule": "unique", "message": "already registered"}])
    password_hash = hash_password(data.password)
    try:
        conn = await session.connection()
        paid = data.tier != BASE_TIER
        ref = await register_tenant(
            conn, db, slug=data.slug, name=data.organization_name, tier=BASE_TIER, owner_email=email, actor=email,
            resume=False,
        )
        user = User(email=email, password_hash=password_hash, display_name=data.display_name)
        session.add(user)
        await session.flush()
        session.add(Membership(tenant_id=ref.id, user_id=user.id, role=Role.OWNER.value))
        await session.flush()
        await record_event(conn, ref.id, "tier-requested", email, None, tier=data.tier)
        if public_url is not None:
            await send_verification(session, user, public_url=public_url, log_link=log_link)
        if paid and grant_paid_tier:
            await set_comp_tier(
                session, ref.id, tier=data.tier, actor="signup",
                reason="development server without payments configured: the picked tier is granted",
            )
        await session.commit()
    except TenantExists:
        await session.rollback()
        raise Conflict(f"the slug {data.slug!r} is taken",
                       errors=[{"field": "slug", "rule": "unique", "message": "already taken"}]) from None
    except IntegrityError as exc:
        await session.rollback()
        which = "email" if "email" in str(exc.orig) else "slug"
        raise Conflict(f"that {which} is already taken",
                       errors=[{"field": which, "rule": "unique", "message": "already taken"}]) from None
    await run_provisioning_steps(db, ref, actor=email)
    tokens = await start_session(session, user, secret=secret, client_address=client_address, user_agent=user_agent)
    tier = data.tier if (not paid or grant_paid_tier) else BASE_TIER
    log.info("organization signed up", tenant_id=ref.id, slug=ref.slug, tier=tier, requested_tier=data.tier)
    return SignupResponse(
        organization=MembershipOut(ref.slug, data.organization_name, Role.OWNER.value, tier, "active"),
        user_id=user.id,
        tokens=tokens,
        requested_tier=data.tier,
        checkout_required=paid and not grant_paid_tier,
    )
