"""Queueing an email to a patient in the tenant's outbound email table, for other domains.

The playbook engine queues its emails the same way (:mod:`anima.domains.automations.engine`):
one :class:`~anima.domains.automations.models.OutboundEmail` row per message, the recipient's
address encrypted, unique by ``idempotency_key`` so a retried job queues nothing twice, in the
caller's transaction. Sending them is the tenants' mail delivery (not part of this module).
"""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.automations.models import OutboundEmail


async def queue_patient_email(
    session: AsyncSession, cipher: FieldCipher, *, key: str, patient_id: uuid.UUID, address: str,
    template: str, subject: str, body: str,
) -> bool:
    """Queue one email to ``address`` (a patient's); returns False when ``key`` was already queued."""
    email_id = uuid.uuid4()
    sealed = await cipher.encrypt_text("outbound_emails", "recipient_enc", email_id, address)
    result = await session.execute(
        pg_insert(OutboundEmail)
        .values(id=email_id, idempotency_key=key[:200], patient_id=patient_id, staff_id=None, recipient_enc=sealed,
                template=template[:60], subject=subject[:255], body=body)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboundEmail.id)
    )
    return result.first() is not None
