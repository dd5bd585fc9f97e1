"""How many statements the hot routes send: the load bench's mix (settings, a patient page, a note).

Each statement is at least one round trip to PostgreSQL (plus BEGIN and COMMIT per transaction),
and under load round trips, not CPU, dominate a request. Counted on the real app engine with
SQLAlchemy's ``before_cursor_execute`` event (nothing is patched); the ceilings are the counts
after the write path was trimmed, so a change that adds a round trip to these routes fails here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from anima.db.engine import Database
from tests.conftest import signup

pytestmark = pytest.mark.asyncio


@contextlib.contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Collect the SQL of every statement the app engine sends inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:  # noqa: ARG001
        seen.append(statement)

    event.listen(db.app.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.app.sync_engine, "before_cursor_execute", record)


async def test_statements_per_request(client: httpx.AsyncClient, db: Database):
    org = await signup(client, tier="PRO")
    base = f"/api/v1/orgs/{org.slug}"
    patient = (await client.post(f"{base}/patients", json={"first_name": "Ada"}, headers=org.headers)).json()["id"]
    # warm: the data key is created on first use
    assert (await client.post(f"{base}/patients/{patient}/journal", json={"kind": "note", "html": "<p>warm</p>"},
                              headers=org.headers)).status_code == 201
    counts = {}
    for name, method, path, body in (
        ("settings", "GET", f"{base}/settings", None),
        ("patients", "GET", f"{base}/patients?limit=50", None),
        ("note", "POST", f"{base}/patients/{patient}/journal", {"kind": "note", "html": "<p>Session notes</p>"}),
    ):
        with statements(db) as seen:
            response = await client.request(method, path, json=body, headers=org.headers)
        assert response.status_code in (200, 201), response.text
        counts[name] = seen
    sent = {k: len(v) for k, v in counts.items()}
    # settings: the scoping statement + the row; patients: + count + page; note: scoping, the
    # patient (visibility), the current data key, the entry, the audit row, the outbox row with
    # its NOTIFY (one statement). No re-read of the entry just written, no amendments query.
    assert sent == {"settings": 2, "patients": 3, "note": 6}, sent
    note = [" ".join(s.split()) for s in counts["note"]]
    assert any(s.startswith("INSERT INTO outbox_events") and "pg_notify" in s for s in note), note
    assert not any(s.startswith("SELECT journal_amendments") for s in note), note
