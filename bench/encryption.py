"""Cost of field encryption on creating and listing journal entries, as a ratio to the same
operations without it, measured in the same run against the same database.

Both variants run the real journal service (sanitizing, audit line, SQL through the tenant-scoped
app role); only the cipher differs: :class:`~anima.crypto.cipher.FieldCipher` (AES-256-GCM with
the tenant's data key, associated data per field) versus a pass-through that stores the JSON
bytes as they are. Rounds alternate the two variants so drift affects both alike.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/encryption.py [--entries 200] [--rounds 3]

A scratch database ``anima_bench_<random>`` is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anima.config import load_settings  # noqa: E402
from anima.crypto.cipher import FieldCipher  # noqa: E402
from anima.crypto.keyring import Keyring  # noqa: E402
from anima.db.engine import open_database  # noqa: E402
from anima.db.setup import migrate_platform  # noqa: E402
from anima.domains.audit.services import Actor  # noqa: E402
from anima.domains.journal import services as journal  # noqa: E402
from anima.domains.journal.schemas import EntryCreate  # noqa: E402
from anima.domains.patients.models import Patient  # noqa: E402
from anima.domains.patients.services import stages  # noqa: E402
from anima.domains.patients.visibility import Viewer  # noqa: E402
from anima.tenancy.provisioning import provision_tenant  # noqa: E402
from anima.tenancy.scope import enter_tenant  # noqa: E402

NOTE = "<p>" + "Session notes: breathing work, grounding, <b>progress</b> on sleep. " * 12 + "</p>"  # ~0.9 KB


class PlainCipher:
    """The baseline: same interface as FieldCipher, no encryption."""

    async def encrypt_json(self, table: str, column: str, row_id: Any, value: Any) -> bytes:
        return msgspec.json.encode(value)

    async def decrypt_json(self, table: str, column: str, row_id: Any, blob: bytes) -> Any:
        return msgspec.json.decode(blob)


async def run(entries: int, rounds: int) -> None:
    settings = load_settings({**os.environ, "ANIMA_LOG_LEVEL": "warning"})
    db = await open_database(settings, database=f"anima_bench_{secrets.token_hex(4)}")
    try:
        await migrate_platform(db)
        tenant = await provision_tenant(db, slug=f"bench-{secrets.token_hex(3)}", tier="CENTER")
        keyring = Keyring(settings.master_key, db.admin)
        maker = db.sessionmaker()
        owner = uuid.uuid4()
        viewer, actor = Viewer(owner, "OWNER"), Actor(owner, "OWNER", "bench", "127.0.0.1")

        async def new_patient() -> uuid.UUID:
            async with maker() as session, session.begin():
                await enter_tenant(session, tenant.id)
                stage = (await stages(session))[0].key
                patient = Patient(id=uuid.uuid4(), first_name="Bench", journey_stage=stage, profile={})
                session.add(patient)
            return patient.id

        async def one(variant: str) -> tuple[float, float]:
            pid = await new_patient()
            data = EntryCreate(kind="note", html=NOTE, visibility="shared")
            started = time.perf_counter()
            for _ in range(entries):  # one transaction per entry, as requests do
                async with maker() as session, session.begin():
                    await enter_tenant(session, tenant.id)
                    cipher = FieldCipher(keyring, session, tenant.id) if variant == "encrypted" else PlainCipher()
                    await journal.create_entry(session, cipher, viewer, actor, pid, data)  # type: ignore[arg-type]
            create = time.perf_counter() - started
            started = time.perf_counter()
            for offset in range(0, entries, 50):  # pages of 50, as the API lists
                async with maker() as session, session.begin():
                    await enter_tenant(session, tenant.id)
                    cipher = FieldCipher(keyring, session, tenant.id) if variant == "encrypted" else PlainCipher()
                    items, _ = await journal.list_entries(session, cipher, viewer, actor, pid, limit=50, offset=offset)  # type: ignore[arg-type]
                    assert items[0].html
            return create, time.perf_counter() - started

        await one("encrypted")  # warm-up: keys created, caches and connections warm
        await one("plain")
        results: dict[str, list[tuple[float, float]]] = {"plain": [], "encrypted": []}
        for r in range(rounds):  # alternate which variant goes first
            for variant in (("plain", "encrypted") if r % 2 == 0 else ("encrypted", "plain")):
                results[variant].append(await one(variant))

        def med(variant: str, i: int) -> float:
            return statistics.median(r[i] for r in results[variant])

        print(f"journal entries: {entries} per round, {rounds} rounds, note of {len(NOTE)} bytes, pages of 50")
        for i, label in ((0, "create (one transaction each)"), (1, "list (pages of 50)")):
            plain, enc = med("plain", i), med("encrypted", i)
            print(
                f"{label:32s} plain {plain / entries * 1000:7.3f} ms/entry   encrypted {enc / entries * 1000:7.3f} ms/entry"
                f"   ratio {enc / plain:5.2f}"
            )
        # the cryptographic work alone, in process: seal + open of one entry's JSON
        from anima.crypto.envelope import field_aad, open_sealed, seal

        key, payload, n = os.urandom(32), msgspec.json.encode({"html": NOTE}), 20_000
        started = time.perf_counter()
        for i in range(n):
            aad = field_aad(1, "journal_entries", "content_enc", i, 1)
            open_sealed(key, aad, seal(key, 1, aad, payload), where="bench")
        print(f"AES-256-GCM seal+open of one entry, in process: {(time.perf_counter() - started) / n * 1e6:.1f} µs")
        async with db.admin.connect() as conn:
            schema = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE id = :i"), {"i": tenant.id})
            size = await conn.scalar(sa.text(f'SELECT avg(octet_length(content_enc)) FROM "{schema}".journal_entries WHERE get_byte(content_enc, 0) = 1 AND octet_length(content_enc) > 17'))
        print(f"stored size of an encrypted entry: {float(size):.0f} bytes (plaintext JSON {len(msgspec.json.encode({'html': NOTE}))} + 33 overhead)")
    finally:
        from tests.conftest import drop_database

        await drop_database(db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.entries, args.rounds))


if __name__ == "__main__":
    main()
