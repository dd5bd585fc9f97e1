"""A patient's phone is stored in E.164, a national number read in the organization's region, so
it matches a lead's number by blind index; phones saved before are rewritten by
``reindex_phones`` (the CLI's ``tenants reindex-phones``), idempotently."""

from __future__ import annotations

import asyncio
import uuid

from click.testing import CliRunner

from hypothesis import given, settings, strategies as st

from anima.domains.patients.models import Patient
from anima.domains.patients.services import phone_as_e164, reindex_phones
from anima.jobs.runner import tenant_transaction
from anima.cli import main
from tests.conftest import signup
from tests.conftest import test_environ as environ_for_tests
from tests.integration.events_support import in_tenant, tenant_id_of
from tests.integration.test_leads_api import new_lead


async def test_a_national_patient_phone_matches_a_leads_e164_number(client, db):
    org = await signup(client, tier="PRO")
    assert (await client.patch(f"/api/v1/orgs/{org.slug}/settings", json={"locale": "es"}, headers=org.headers)).status_code == 200
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Pau", "phone": "612 345 678"}, headers=org.headers)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert created.json()["phone"] == "+34612345678"
    found = await client.get(f"/api/v1/orgs/{org.slug}/patients", params={"phone": "+34 612 34 56 78"}, headers=org.headers)
    assert [p["id"] for p in found.json()["items"]] == [pid]
    lead = await new_lead(client, org, phone="+34612345678")
    assert [(d["match_patient_id"], d["matched_on"]) for d in lead["duplicates"]] == [(pid, "phone")]
    # a number that is not valid in its region is kept as typed (patients' phones were never refused for it)
    kept = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Ona", "phone": "+1 555 0100 999"}, headers=org.headers)
    assert kept.status_code == 201 and kept.json()["phone"] == "+1 555 0100 999"


async def test_phones_saved_before_are_reindexed(client, db, app):
    org = await signup(client, tier="PRO")
    await client.patch(f"/api/v1/orgs/{org.slug}/settings", json={"locale": "it"}, headers=org.headers)
    runtime = app.state["anima"]
    tid = await tenant_id_of(db, org.slug)
    # a phone as an earlier version stored it: the digits as written, indexed as written
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Gio"}, headers=org.headers)
    pid = created.json()["id"]
    async with tenant_transaction(runtime, tid) as tx:
        patient = await tx.session.get(Patient, uuid.UUID(pid))
        patient.phone_enc = await tx.cipher.encrypt_text("patients", "phone_enc", patient.id, "06 6982 0000")
        patient.phone_bidx = await tx.cipher.blind_index("phone", "06 6982 0000")
    before = (await in_tenant(db, org.slug, "SELECT phone_bidx FROM patients"))[0][0]
    lead = await new_lead(client, org, phone="+39 06 6982 0000")
    assert lead["duplicates"] == []  # not matched yet
    url = db.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    result = await asyncio.to_thread(CliRunner().invoke, main, ["tenants", "reindex-phones", org.slug], env=environ_for_tests(DATABASE_URL=url))
    assert result.exit_code == 0, result.output
    assert f"{org.slug}: 1 phone(s) rewritten" in result.output
    async with tenant_transaction(runtime, tid) as tx:
        assert await reindex_phones(tx.session, tx.cipher) == 0  # idempotent
    after = (await in_tenant(db, org.slug, "SELECT phone_bidx FROM patients"))[0][0]
    assert after != before
    read = await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}", headers=org.headers)
    assert read.json()["phone"] == "+390669820000"
    second = await new_lead(client, org, first_name="Giovanni", phone="06 6982 0000")
    assert pid in [d["match_patient_id"] for d in second["duplicates"]]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=600_000_000, max_value=699_999_999), st.sampled_from(["{a} {b} {c}", "{a}{b}{c}", "+34 {a} {b} {c}", "+34-{a}-{b}-{c}"]))
def test_every_writing_of_a_spanish_mobile_gives_one_e164(number, shape):
    digits = str(number)
    written = shape.format(a=digits[:3], b=digits[3:6], c=digits[6:])
    assert phone_as_e164(written, "es") == f"+34{digits}"
    assert phone_as_e164(written, "ca") == f"+34{digits}"
