"""Therapists' payout settings: how each is paid their share, set by owners.

``connect`` names the therapist's own Stripe connected account (``acct_…``) that
:mod:`anima.domains.payments.transfers` sends their share to; ``outside`` means the practice pays
them outside Anima (their shares are still recorded, as ``outside``). ``share_bps`` is the share
of what was collected for their sessions, in basis points (0–10,000). Only clinicians (owners and
therapists) can have one: assistants hold no sessions.
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.payments.models import TherapistPayout
from anima.domains.payments.schemas import PayoutIn, PayoutOut
from anima.domains.staff.models import StaffMember
from anima.problems import InvalidInput

CLINICIAN_ROLES = frozenset({"OWNER", "THERAPIST"})


def payout_out(p: TherapistPayout) -> PayoutOut:
    """The API shape of a setting."""
    return PayoutOut(staff_id=p.staff_id, mode=p.mode, stripe_account_id=p.stripe_account_id, share_bps=p.share_bps, updated_at=p.updated_at)


async def set_payout(session: AsyncSession, staff_id: uuid.UUID, data: PayoutIn, *, actor_id: uuid.UUID | None) -> TherapistPayout:
    """Create or replace a clinician's payout setting.

    Raises:
        InvalidInput: ``stripe_account_id`` missing for ``connect`` or given for ``outside``
            (field ``stripe_account_id``, rules ``required`` / ``forbidden``); ``staff_id`` not an
            active owner or therapist of this practice (field ``staff_id``, rule ``clinician``).
    """
    if data.mode == "connect" and not data.stripe_account_id:
        raise InvalidInput.field("stripe_account_id", "required", "a connected account id (acct_…) is required to pay through Stripe")
    if data.mode == "outside" and data.stripe_account_id:
        raise InvalidInput.field("stripe_account_id", "forbidden", "no account when the practice pays outside Anima")
    member = await session.get(StaffMember, staff_id)
    if member is None or not member.active or member.role not in CLINICIAN_ROLES:
        raise InvalidInput.field("staff_id", "clinician", "an active owner or therapist of this practice")
    row = await session.get(TherapistPayout, staff_id, with_for_update=True)
    if row is None:
        row = TherapistPayout(staff_id=staff_id, mode=data.mode, stripe_account_id=data.stripe_account_id, share_bps=data.share_bps)
        session.add(row)
    row.mode, row.stripe_account_id, row.share_bps = data.mode, data.stripe_account_id, data.share_bps
    row.updated_by, row.updated_at = actor_id, datetime.datetime.now(datetime.UTC)
    await session.flush()
    return row


async def list_payouts(session: AsyncSession) -> list[TherapistPayout]:
    """Every payout setting, by staff id."""
    return list((await session.execute(sa.select(TherapistPayout).order_by(TherapistPayout.staff_id))).scalars())
