"""Data-key rotation (resumable) and master-key rotation: every record reads back the same."""

from __future__ import annotations

import asyncio
import base64
import os

import httpx
import sqlalchemy as sa
from click.testing import CliRunner

from anima.app import create_app
from anima.cli import main
from anima.config import load_settings
from anima.crypto.keyring import Keyring
from anima.crypto.rotation import reencrypt_tenant, rotate_data_keys, rotate_tenant_data_key
from anima.identity.rate_limit import RateLimits
from tests import conftest
from tests.conftest import add_member, bearer, signup


async def make_record(client, db, org) -> str:
    _, tokens, _ = await add_member(client, db, org, "THERAPIST")
    therapist = bearer(tokens["access_token"])
    base = f"/api/v1/orgs/{org.slug}/patients"
    pid = (await client.post(base, json={"first_name": "Rot", "email": "rot@example.org", "phone": "+44 20 7946 0000",
                                         "clinical": {"medical_history": "m", "risk_notes": "r"}}, headers=org.headers)).json()["id"]
    for i in range(5):
        e = (await client.post(f"{base}/{pid}/journal", json={"kind": "note", "html": f"<p>n{i}</p>"}, headers=therapist)).json()["id"]
    await client.post(f"{base}/{pid}/journal/{e}/sign", headers=therapist)
    await client.post(f"{base}/{pid}/journal/{e}/amendments", json={"reason": "fix", "html": "<p>fixed</p>"}, headers=therapist)
    return pid


async def snapshot(client, org, pid) -> dict:
    response = await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}/export", headers=org.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    body.pop("exported_at"), body.pop("audit")
    found = await client.get(f"/api/v1/orgs/{org.slug}/patients", params={"email": "ROT@example.org"}, headers=org.headers)
    body["search"] = [p["id"] for p in found.json()["items"]]
    return body


async def versions(db, slug) -> set[int]:
    async with db.admin.connect() as conn:
        schema = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": slug})
        rows = await conn.execute(sa.text(
            f'SELECT get_byte(c, 4) FROM (SELECT content_enc c FROM "{schema}".journal_entries UNION ALL '
            f'SELECT content_enc FROM "{schema}".journal_amendments UNION ALL SELECT clinical_enc FROM "{schema}".patients '
            f'UNION ALL SELECT email_enc FROM "{schema}".patients) t WHERE c IS NOT NULL'
        ))
        return {r[0] for r in rows}


async def test_data_key_rotation_is_resumable_and_preserves_records(client, db, settings):
    org = await signup(client, tier="PRO")
    pid = await make_record(client, db, org)
    before = await snapshot(client, org, pid)
    assert before["search"] == [pid]
    ring = Keyring(settings.master_key, db.admin)
    [report] = await rotate_data_keys(db.admin, ring, slugs=(org.slug,), batch_size=2)
    assert report.error is None and report.version == 2
    # tables with encrypted columns but no rows in this record (e.g. outbound_emails) report 0
    assert {t: n for t, n in report.reencrypted.items() if n} == {"patients": 1, "journal_entries": 5, "journal_amendments": 1}
    assert await versions(db, org.slug) == {2}
    assert await snapshot(client, org, pid) == before

    # a crash after the new version and one batch of two rows: the rest stays on v2 until --resume
    async with db.admin.connect() as conn:
        tenant_id, schema = (await conn.execute(sa.text("SELECT id, schema_name FROM platform.tenants WHERE slug = :s"), {"s": org.slug})).one()
    assert await rotate_tenant_data_key(db.admin, ring, tenant_id, schema) == 3
    partial = await reencrypt_tenant(db.admin, ring, tenant_id, schema, batch_size=2, max_batches=1)
    assert sum(partial.values()) == 1  # the patients table has one row
    assert await versions(db, org.slug) == {2, 3}
    assert await snapshot(client, org, pid) == before  # mixed versions read fine
    [report] = await rotate_data_keys(db.admin, ring, slugs=(org.slug,), resume_only=True, batch_size=3)
    assert report.version is None and sum(report.reencrypted.values()) == 6
    assert await versions(db, org.slug) == {3}
    assert not any((await reencrypt_tenant(db.admin, ring, tenant_id, schema)).values())  # nothing left to re-encrypt
    assert await snapshot(client, org, pid) == before


async def test_cli_rotations_and_master_key_rotation(client, db, settings):
    org = await signup(client, tier="PRO")
    pid = await make_record(client, db, org)
    before = await snapshot(client, org, pid)
    new_master = base64.b64encode(os.urandom(32)).decode()
    url = db.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    env = conftest.test_environ(DATABASE_URL=url, NEW_ANIMA_KEY=new_master)
    runner = CliRunner()

    result = await asyncio.to_thread(runner.invoke, main, ["keys", "rotate", "--slug", org.slug], env=env)
    assert result.exit_code == 0, result.output
    assert f"{org.slug}: data key v2, 7 row(s) re-encrypted" in result.output
    result = await asyncio.to_thread(runner.invoke, main, ["keys", "rotate-master", "--new-master-key-env", "NEW_ANIMA_KEY", "--slug", org.slug], env=env)
    assert result.exit_code == 0, result.output
    assert f"{org.slug}: 0 row(s) re-encrypted, 3 key(s) re-wrapped" in result.output  # data v1, v2 and the index key
    again = await asyncio.to_thread(runner.invoke, main, ["keys", "rotate-master", "--new-master-key-env", "NEW_ANIMA_KEY", "--slug", org.slug], env=env)
    assert "0 key(s) re-wrapped" in again.output  # resumable: already re-wrapped keys are skipped

    # a process started with the new master key reads every record the same (and search works)
    new_settings = load_settings(conftest.test_environ(ANIMA_MASTER_KEY=new_master))
    app = create_app(new_settings, database=db, rate_limits=RateLimits().scaled(1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50001)), base_url="http://t") as fresh:
        assert await snapshot(fresh, org, pid) == before
    # one with the old master key cannot unwrap anything any more
    old_app = create_app(settings, database=db, rate_limits=RateLimits().scaled(1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=old_app, client=("127.0.0.1", 50002)), base_url="http://t") as stale:
        response = await stale.get(f"/api/v1/orgs/{org.slug}/patients/{pid}", headers=org.headers)
        assert response.status_code == 500

    bad = await asyncio.to_thread(runner.invoke, main, ["keys", "rotate-master", "--new-master-key-env", "MISSING_VAR"], env=env)
    assert bad.exit_code == 2 and "base64 of 32 bytes" in bad.output
