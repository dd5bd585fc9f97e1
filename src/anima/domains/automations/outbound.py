"""Queueing an email in the tenant's outbound email table: the one way any domain does it.

One :class:`~anima.domains.automations.models.OutboundEmail` row per message, already rendered
(:func:`anima.mail.compose.render`: subject, plain text and HTML in the recipient's language),
the recipient's address encrypted with its blind index (so an opt-out recorded by blind index is
honoured), unique by ``idempotency_key`` so a retried job queues nothing twice, written in the
caller's transaction; the tenant's mail work is noted due at once in the platform's due-work index
(:mod:`anima.events.due_work`), and :mod:`anima.mail.tenant_sender` sends it.

``category`` decides List-Unsubscribe and the opt-out: ``marketing`` (surveys, news) carries them
and is skipped for a recipient who opted out; ``transactional`` (links a person asked for or needs:
form links, confirmations, payment reminders) carries neither and is always sent.
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.automations.models import OutboundEmail
from anima.events.due_work import WorkKind, note_due
from anima.mail.compose import Composed

Category = Literal["marketing", "transactional"]


async def queue_email(
    session: AsyncSession, cipher: FieldCipher, *, key: str, address: str, composed: Composed, template: str,
    category: Category, patient_id: uuid.UUID | None = None, staff_id: uuid.UUID | None = None,
    calendar: str | None = None,
) -> bool:
    """Queue ``composed`` to ``address`` (a patient's or a staff member's).

    Args:
        key: the idempotency key (at most 200 characters kept), e.g. ``form-assignment:<id>``.
        template: the email template's name, recorded with the message (at most 60 characters).
        calendar: an iCalendar object with its METHOD (a booking's invitation), sent as a
            ``text/calendar`` attachment.

    Returns:
        bool: False when ``key`` was already queued (nothing written, nothing noted).
    """
    email_id = uuid.uuid4()
    sealed = await cipher.encrypt_text("outbound_emails", "recipient_enc", email_id, address)
    try:
        bidx = await cipher.blind_index("email", address)
    except ValueError:
        bidx = None  # not an address: the server will refuse it, and the refusal is recorded
    result = await session.execute(
        pg_insert(OutboundEmail)
        .values(id=email_id, idempotency_key=key[:200], patient_id=patient_id, staff_id=staff_id, recipient_enc=sealed,
                template=template[:60], subject=composed.subject, body=composed.text, html_body=composed.html,
                language=composed.language, category=category, recipient_bidx=bidx, calendar=calendar)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboundEmail.id)
    )
    queued = result.first() is not None
    if queued:
        await note_due(session, WorkKind.MAIL)
    return queued
