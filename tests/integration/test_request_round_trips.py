"""How many round trips the hot routes make: the load bench's mix (settings, a patient page, a note).

Under load, round trips to PostgreSQL, not CPU, dominate a request. They are counted on the real
app engine, nothing patched: SQLAlchemy's ``before_cursor_execute`` event sees every statement it
sends (each one round trip: asyncpg's prepared statements are cached per connection), and
asyncpg's query logger sees every simple-protocol query (``BEGIN``, ``COMMIT``, and the scoping
statement sent together with ``BEGIN``). The figures are those after the request path was trimmed,
so a change that adds a round trip to these routes fails here.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from anima.db.engine import Database
from anima.tenancy.scope import SEEN_MEMBERS
from tests.conftest import signup

pytestmark = pytest.mark.asyncio


@dataclass
class Sent:
    """What the app engine sent: SQLAlchemy statements in order, simple-protocol queries in order."""

    statements: list[str] = field(default_factory=list)
    simple: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.statements) + len(self.simple)


@contextlib.contextmanager
def round_trips(db: Database) -> Iterator[Sent]:
    """Collect every query the app engine sends inside the block."""
    seen = Sent()
    logged: list[Any] = []

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:  # noqa: ARG001
        seen.statements.append(" ".join(sql.split()))

    def simple(record: Any) -> None:
        seen.simple.append(" ".join(record.query.split()))

    def checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:  # noqa: ARG001
        driver = proxy.driver_connection
        if driver not in logged:
            driver.add_query_logger(simple)
            logged.append(driver)

    event.listen(db.app.sync_engine, "before_cursor_execute", statement)
    event.listen(db.app.sync_engine.pool, "checkout", checkout)
    try:
        yield seen
    finally:
        event.remove(db.app.sync_engine, "before_cursor_execute", statement)
        event.remove(db.app.sync_engine.pool, "checkout", checkout)
        for driver in logged:
            driver.remove_query_logger(simple)


async def settle() -> None:
    """Let asyncpg's query loggers run: it calls them with ``loop.call_soon``."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_round_trips_of_the_hot_routes(client: httpx.AsyncClient, db: Database):
    org = await signup(client, tier="PRO")
    base = f"/api/v1/orgs/{org.slug}"
    patient = (await client.post(f"{base}/patients", json={"first_name": "Ada"}, headers=org.headers)).json()["id"]
    # the first note creates the tenant's data key
    first = await client.post(f"{base}/patients/{patient}/journal", json={"kind": "note", "html": "<p>first</p>"},
                              headers=org.headers)
    assert first.status_code == 201
    counts: dict[str, Sent] = {}
    for name, method, path, body in (
        ("settings", "GET", f"{base}/settings", None),
        ("patients", "GET", f"{base}/patients?limit=50", None),
        ("note", "POST", f"{base}/patients/{patient}/journal", {"kind": "note", "html": "<p>Session notes</p>"}),
    ):
        with round_trips(db) as seen:
            response = await client.request(method, path, json=body, headers=org.headers)
            await settle()
        assert response.status_code in (200, 201), response.text
        counts[name] = seen

    sent = {k: len(v) for k, v in counts.items()}
    # BEGIN and the scoping statement are one round trip; then settings: the row; patients: the
    # count and the page; a note: the patient (visibility), the entry, the audit row, the outbox
    # row with its NOTIFY (one statement); then COMMIT. The tenant's current data key is not read:
    # the process remembers it (Keyring.current_ttl) since the patient was sealed moments ago.
    assert sent == {"settings": 3, "patients": 4, "note": 6}, counts
    for name, sent_by in counts.items():
        assert len(sent_by.simple) == 2, (name, sent_by.simple)
        assert sent_by.simple[0].startswith("BEGIN; SELECT set_config('search_path'"), (name, sent_by.simple)
        assert sent_by.simple[1] == "COMMIT", (name, sent_by.simple)
    note = counts["note"].statements
    assert any(q.startswith("INSERT INTO outbox_events") and "pg_notify" in q for q in note), note
    assert not any(q.startswith("SELECT pg_notify") or q.startswith("SELECT journal_amendments") for q in note), note
    # the answer still carries what a re-read gave: server-visible timestamps and no amendments
    created = response.json()
    assert created["amendments"] == [] and created["created_at"] and created["html"] == "<p>Session notes</p>"


async def test_first_visit_uses_the_ordinary_statement(client: httpx.AsyncClient, db: Database):
    """A member's first request in this process has nothing to confirm: BEGIN, then the parameterized statement."""
    org = await signup(client)
    SEEN_MEMBERS.drop(org.slug, uuid.UUID(org.owner_id))
    with round_trips(db) as seen:
        response = await client.get(f"/api/v1/orgs/{org.slug}/settings", headers=org.headers)
        await settle()
    assert response.status_code == 200
    assert seen.simple == ["BEGIN;", "COMMIT;"], seen  # asyncpg's own transaction
    assert seen.statements[0].startswith("SELECT t.id, t.slug") and len(seen.statements) == 2, seen
