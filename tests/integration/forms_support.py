"""Helpers of tests that need a ``form_submission`` journal entry: the journal API refuses one
written by hand, so these go through the forms' own paths."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from anima.db.engine import Database
from anima.domains.audit.services import Actor
from anima.domains.journal import services as journal
from anima.jobs.runner import tenant_transaction
from anima.runtime import Runtime
from tests.integration.events_support import tenant_id_of

_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def form_entry(runtime: Runtime, db: Database, slug: str, patient_id: str, author_id: str, data: dict[str, Any]) -> str:
    """A ``form_submission`` entry of ``patient_id`` holding ``data``, written as the forms service
    writes one (:func:`anima.domains.journal.services.record_form_submission`); returns its id."""
    tenant_id = await tenant_id_of(db, slug)
    async with tenant_transaction(runtime, tenant_id) as tx:
        entry = await journal.record_form_submission(
            tx.session, tx.cipher, Actor(uuid.UUID(author_id), "OWNER", None, None),
            patient_id=uuid.UUID(patient_id), author_id=uuid.UUID(author_id), data=data,
        )
        return str(entry.id)


async def submit_intake(client: httpx.AsyncClient, org: Any, patient_id: str, reason: str, language: str = "es") -> dict[str, Any]:
    """The system intake form assigned to ``patient_id`` and submitted on its public page with
    ``reason`` as the free-text answer (the real path: one-time link, fill page, CSRF)."""
    base = f"/api/v1/orgs/{org.slug}"
    form = await client.post(f"{base}/forms/system", json={"template": "intake", "language": language}, headers=org.headers)
    assert form.status_code == 200, form.text
    link = await client.post(f"{base}/forms/{form.json()['id']}/assignments", json={"patient_id": patient_id}, headers=org.headers)
    assert link.status_code == 201, link.text
    path = "/" + link.json()["url"].split("/", 3)[3]
    page = await client.get(path)
    token = _CSRF.search(page.text)
    assert token, page.text
    sent = await client.post(path, data={"first_name": "Ana", "email": "ana@example.org", "reason": reason, "_csrf_token": token.group(1)})
    assert sent.status_code == 200 and "form-fill" not in sent.text, sent.text
    return link.json()
