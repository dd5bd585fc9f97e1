"""Clinical content is ciphertext at rest; crypto-shredding on tenant deletion.

The scan reads every text-like, JSON, array and bytea column of the tenant schema with raw SQL
(as the database superuser would) and looks for a marker written through the API into clinical
fields, contact details and journal content. A positive control (the marker in a first name,
which is plaintext by design) proves the scan finds what is there.
"""

from __future__ import annotations

import sqlalchemy as sa

from anima.tenancy.provisioning import delete_tenant
from tests.conftest import add_member, bearer, signup
from tests.integration.forms_support import submit_intake

MARK = "QQSOULMARKQQ"
TEXTUAL = ("text", "character varying", "character", "json", "jsonb", "ARRAY")


async def scan(db, schema: str, marker: str) -> set[str]:
    """``table.column`` names whose values contain ``marker`` (text search, and bytes search in bytea)."""
    hits = set()
    async with db.admin.connect() as conn:
        columns = (
            await conn.execute(
                sa.text("SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = :s"),
                {"s": schema},
            )
        ).all()
        assert columns
        for table, column, data_type in columns:
            ref = f'"{schema}"."{table}"."{column}"'
            if data_type == "bytea":
                where = f"position(convert_to(:m, 'UTF8') in {ref}) > 0"
            elif data_type in TEXTUAL:
                where = f"position(:m in {ref}::text) > 0"
            else:
                continue
            if await conn.scalar(sa.text(f'SELECT count(*) FROM "{schema}"."{table}" WHERE {where}'), {"m": marker}):
                hits.add(f"{table}.{column}")
    return hits


async def test_marker_is_in_no_clinical_column(client, db):
    org = await signup(client, tier="PRO")
    _, tokens, _ = await add_member(client, db, org, "THERAPIST")
    therapist = bearer(tokens["access_token"])
    base = f"/api/v1/orgs/{org.slug}/patients"
    clinical = {k: f"{k} {MARK}" for k in ("medical_history", "psychological_history", "spiritual_history", "risk_notes")}
    created = await client.post(
        base, json={"first_name": f"Control{MARK}", "email": f"{MARK.lower()}@example.org", "phone": "+1 555 0100 999",
                    "clinical": clinical}, headers=org.headers,
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    await client.put(f"{base}/{pid}", json={"clinical": {**clinical, "risk_notes": f"updated {MARK}"}}, headers=therapist)
    note = await client.post(f"{base}/{pid}/journal", json={"kind": "note", "html": f"<p>{MARK}</p>"}, headers=therapist)
    eid = note.json()["id"]
    await client.post(f"{base}/{pid}/journal/{eid}/sign", headers=therapist)
    await client.post(f"{base}/{pid}/journal/{eid}/amendments", json={"reason": f"why {MARK}", "html": f"<p>{MARK}2</p>"}, headers=therapist)
    # (an ai_analysis entry is written by the observatory only: the journal API refuses it)
    assert (await client.post(f"{base}/{pid}/journal", json={"kind": "audio_reference", "data": {"uri": f"s3://x/{MARK}"}}, headers=therapist)).status_code == 201
    await submit_intake(client, org, pid, f"answer {MARK}")  # a form_submission entry: written by the forms service only
    # read everything back (reads write audit lines: they must not carry content either)
    await client.get(f"{base}/{pid}/journal", headers=org.headers)
    export = await client.get(f"{base}/{pid}/export", headers=org.headers)
    assert export.text.count(MARK) >= 10

    async with db.admin.connect() as conn:
        schema = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": org.slug})
    hits = await scan(db, schema, MARK)
    assert hits == {"patients.first_name"}, hits  # the control only: names are plaintext by design
    assert await scan(db, schema, MARK.lower()) == set()  # the email, lowercased, is nowhere either


async def test_deleting_a_tenant_destroys_its_keys(client, db):
    org = await signup(client, tier="PRO")
    base = f"/api/v1/orgs/{org.slug}/patients"
    pid = (await client.post(base, json={"first_name": "Sh", "clinical": {"risk_notes": "gone"}}, headers=org.headers)).json()["id"]
    async with db.admin.connect() as conn:
        schema = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": org.slug})
        assert await conn.scalar(sa.text(f'SELECT count(*) FROM "{schema}".data_keys')) == 2
        blob = await conn.scalar(sa.text(f'SELECT clinical_enc FROM "{schema}".patients WHERE id = :p'), {"p": pid})
    assert blob and b"gone" not in blob
    await delete_tenant(db, org.slug, actor="test")
    async with db.admin.connect() as conn:
        assert await conn.scalar(sa.text("SELECT to_regclass(:t)"), {"t": f'"{schema}".data_keys'}) is None
        assert await conn.scalar(sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}) == 0
