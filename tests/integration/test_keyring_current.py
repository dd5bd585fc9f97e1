"""The current data-key version is read once per tenant and reused for ``current_ttl`` seconds (no
round trip per transaction); a rotation in this process is seen at once, elsewhere after the TTL."""

from __future__ import annotations

import sqlalchemy as sa

from anima.crypto.keyring import Keyring
from anima.crypto.rotation import rotate_tenant_data_key
from anima.jobs.runner import tenant_transaction
from tests.conftest import signup
from tests.integration.events_support import tenant_id_of


async def _current(runtime, tid: int, ring: Keyring, statements: list[str]) -> int:
    async with tenant_transaction(runtime, tid) as tx:
        sync = tx.session.sync_session.get_bind()

        def note(conn, cursor, statement, *args):  # noqa: ANN001 - SQLAlchemy's event signature
            statements.append(statement)

        sa.event.listen(sync, "before_cursor_execute", note)
        try:
            version, _ = await ring.current(tx.session, tid)
        finally:
            sa.event.remove(sync, "before_cursor_execute", note)
        return version


async def test_the_current_version_is_remembered_and_a_rotation_seen(client, db, app):
    org = await signup(client)
    runtime = app.state["anima"]
    tid = await tenant_id_of(db, org.slug)
    async with db.admin.connect() as conn:
        schema = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE id = :t"), {"t": tid})
    ring = Keyring(runtime.keyring.master_key, db.admin, current_ttl=60)
    other = Keyring(runtime.keyring.master_key, db.admin, current_ttl=60)  # another process's
    first: list[str] = []
    assert await _current(runtime, tid, ring, first) == 1 and any("data_keys" in s for s in first)
    second: list[str] = []
    assert await _current(runtime, tid, ring, second) == 1 and not any("data_keys" in s for s in second)  # no round trip
    assert await _current(runtime, tid, other, []) == 1

    assert await rotate_tenant_data_key(db.admin, ring, tid, schema) == 2
    assert await _current(runtime, tid, ring, []) == 2  # this process: at once
    assert await _current(runtime, tid, other, []) == 1  # another: until its TTL ends
    other._current[tid] = (0.0, 1)  # the TTL has passed
    assert await _current(runtime, tid, other, []) == 2
    uncached = Keyring(runtime.keyring.master_key, db.admin, current_ttl=0)
    reads: list[str] = []
    for _ in range(2):
        assert await _current(runtime, tid, uncached, reads) == 2
    assert sum("data_keys" in s for s in reads) == 2  # TTL 0: read on every use
