"""Leads through the API: details encrypted and normalised, stage moves, roles, duplicates,
conversion under the patient limit, freshness filters, the WhatsApp link, and hostile input."""

from __future__ import annotations

import datetime
import uuid
from urllib.parse import parse_qs, urlsplit

from tests.conftest import add_member, bearer, signup
from tests.integration.events_support import in_tenant


def url(org, rest: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/leads{rest}"


async def new_lead(client, org, headers=None, **fields) -> dict:
    created = await client.post(url(org), json={"first_name": "Lía", "last_name": "Soler", **fields}, headers=headers or org.headers)
    assert created.status_code == 201, created.text
    return created.json()


async def lead_events(db, slug: str, lead_id: str) -> list[tuple[str, dict]]:
    rows = await in_tenant(
        db, slug, "SELECT type, payload FROM outbox_events WHERE payload->>'lead_id' = :l ORDER BY occurred_at, id", {"l": lead_id}
    )
    return [(r[0], r[1]) for r in rows]


def problem(response, status: int, field: str | None = None, rule: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    if field is not None:
        named = [(e["field"], e["rule"]) for e in body["errors"]]
        assert any(f == field and rule in (None, r) for f, r in named), body
    return body


async def test_create_read_update_encrypts_and_normalises(client, db):
    org = await signup(client, tier="PRO")
    await client.patch(f"/api/v1/orgs/{org.slug}/settings", json={"locale": "es"}, headers=org.headers)
    lead = await new_lead(client, org, email=" Lia@Example.org ", phone="600 11 22 33", language="es", time_zone="Europe/Madrid",
                          source="REFERRAL", notes="Prefiere mañanas")
    assert lead["phone"] == "+34600112233"  # national number read in the organization's region (locale es)
    assert lead["email"] == "Lia@Example.org" and lead["stage"] == "NEW" and lead["freshness"] == "green"
    assert lead["source"] == "REFERRAL" and lead["notes"] == "Prefiere mañanas" and lead["duplicates"] == []
    link = urlsplit(lead["whatsapp_url"])
    assert (link.scheme, link.netloc, link.path) == ("https", "wa.me", "/34600112233")
    assert parse_qs(link.query)["text"][0].startswith("Hola Lía, te escribimos de Practice ")

    # at rest: names, contact details and notes are ciphertext; nothing readable in the row
    row = (await in_tenant(db, org.slug, "SELECT first_name_enc, email_enc, phone_enc, notes_enc, email_bidx FROM leads WHERE id = :i",
                           {"i": lead["id"]}))[0]
    for blob in row[:4]:
        assert b"L\xc3\xada" not in blob and b"600112233" not in blob and b"Example" not in blob and b"ma\xc3\xb1anas" not in blob
    assert row[4] is not None and len(row[4]) == 32

    updated = await client.put(url(org, f"/{lead['id']}"), json={"phone": "+39 06 6982 0000", "notes": None, "language": "ca"},
                               headers=org.headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["phone"] == "+390669820000" and updated.json()["notes"] is None and updated.json()["language"] == "ca"
    read = await client.get(url(org, f"/{lead['id']}"), headers=org.headers)
    assert read.status_code == 200 and read.json()["phone"] == "+390669820000"
    trail = await in_tenant(db, org.slug, "SELECT action, detail FROM audit_events WHERE detail->>'lead_id' = :l ORDER BY occurred_at",
                            {"l": lead["id"]})
    assert [t[0] for t in trail] == ["lead.created", "lead.updated"]
    assert trail[1][1]["fields"] == ["language", "notes", "phone"]


async def test_invalid_details_are_refused_naming_the_field(client):
    org = await signup(client)
    problem(await client.post(url(org), json={"first_name": "A", "phone": "12345"}, headers=org.headers), 422, "phone", "phone")
    problem(await client.post(url(org), json={"first_name": "A", "phone": "+34 100 000 000"}, headers=org.headers), 422, "phone", "phone-valid")
    problem(await client.post(url(org), json={"first_name": "A", "email": "nope"}, headers=org.headers), 422, "email", "email")
    problem(await client.post(url(org), json={"first_name": "A", "time_zone": "Mars/Base"}, headers=org.headers), 422, "time_zone", "iana-zone")
    problem(await client.post(url(org), json={"first_name": "A", "language": "xx-qq-zz"}, headers=org.headers), 422, "language", "bcp47")
    problem(await client.post(url(org), json={"first_name": "A", "source": "TV"}, headers=org.headers), 422, "source")
    problem(await client.post(url(org), json={"first_name": "A", "interested_service_id": str(uuid.uuid4())}, headers=org.headers),
            422, "interested_service_id", "known-service")
    problem(await client.post(url(org), json={"first_name": "A", "assigned_to": str(uuid.uuid4())}, headers=org.headers),
            422, "assigned_to", "front-desk")
    assert (await client.get(url(org), headers=org.headers)).json()["total"] == 0  # nothing half-written


async def test_hostile_input(client):
    org = await signup(client)
    json_headers = {**org.headers, "content-type": "application/json"}
    for body in ({"first_name": "A\u0000B"}, {"first_name": "A", "notes": "x\u0000"}, {"first_name": "A", "last_name": "<script>"}):
        response = await client.post(url(org), json=body, headers=org.headers)
        assert response.status_code in (400, 422), response.text
    raw = await client.post(url(org), content=b'{"first_name": "\xff\xfe"}', headers=json_headers)
    assert raw.status_code == 400, raw.text
    for body in ({"first_name": 7}, {"first_name": "A", "phone": 600112233}, {"first_name": ["A"]},
                 {"first_name": "A", "assigned_to": "not-a-uuid"}, {"first_name": "A", "extra": 1}):
        assert (await client.post(url(org), json=body, headers=org.headers)).status_code == 422, body
    huge = await client.post(url(org), json={"first_name": "A" * 101}, headers=org.headers)
    problem(huge, 422, "first_name")
    problem(await client.post(url(org), json={"first_name": "A", "notes": "n" * 5001}, headers=org.headers), 422, "notes")
    problem(await client.post(url(org), json={"first_name": "A", "phone": "9" * 31}, headers=org.headers), 422, "phone")
    assert (await client.get(url(org), params={"limit": 10**12}, headers=org.headers)).status_code == 422
    assert (await client.get(url(org), params={"freshness": "blue"}, headers=org.headers)).status_code == 422
    assert (await client.get(url(org), params={"stage": "WON"}, headers=org.headers)).status_code == 422
    assert (await client.get(url(org, f"/{uuid.uuid4()}"), headers=org.headers)).status_code == 404
    assert (await client.get(url(org), headers=org.headers)).json()["total"] == 0


async def test_moves_events_and_conflicts(client, db):
    org = await signup(client)
    lead = await new_lead(client, org)
    lid = lead["id"]
    moved = await client.post(url(org, f"/{lid}/move"), json={"stage": "QUALIFIED"}, headers=org.headers)
    assert moved.status_code == 200 and moved.json()["stage"] == "QUALIFIED", moved.text
    same = problem(await client.post(url(org, f"/{lid}/move"), json={"stage": "QUALIFIED"}, headers=org.headers), 409)
    assert (same["from"], same["to"]) == ("QUALIFIED", "QUALIFIED")
    problem(await client.post(url(org, f"/{lid}/move"), json={"stage": "LOST"}, headers=org.headers), 422, "reason", "required")
    problem(await client.post(url(org, f"/{lid}/move"), json={"stage": "NEW", "reason": "x"}, headers=org.headers), 422, "reason", "only-lost")
    assert (await client.post(url(org, f"/{lid}/move"), json={"stage": "CONVERTED"}, headers=org.headers)).status_code == 422
    lost = await client.post(url(org, f"/{lid}/move"), json={"stage": "LOST", "reason": "Chose another practice"}, headers=org.headers)
    assert lost.json()["stage"] == "LOST" and lost.json()["lost_reason"] == "Chose another practice" and lost.json()["freshness"] is None
    refused = problem(await client.post(url(org, f"/{lid}/convert"), headers=org.headers), 409)
    assert (refused["from"], refused["to"]) == ("LOST", "CONVERTED")
    reopened = await client.post(url(org, f"/{lid}/move"), json={"stage": "CONTACTED"}, headers=org.headers)
    assert reopened.json()["stage"] == "CONTACTED" and reopened.json()["lost_reason"] is None
    assert await lead_events(db, org.slug, lid) == [
        ("LEAD_CREATED", {"lead_id": lid, "source": "MANUAL", "stage": "NEW"}),
        ("LEAD_STAGE_CHANGED", {"lead_id": lid, "from": "NEW", "to": "QUALIFIED"}),
        ("LEAD_STAGE_CHANGED", {"lead_id": lid, "from": "QUALIFIED", "to": "LOST"}),
        ("LEAD_STAGE_CHANGED", {"lead_id": lid, "from": "LOST", "to": "CONTACTED"}),
    ]


async def test_roles_front_desk_runs_the_pipeline_therapists_read(client, db):
    org = await signup(client, tier="PRO")
    _, assistant, assistant_id = await add_member(client, db, org, "ASSISTANT")
    _, therapist, _ = await add_member(client, db, org, "THERAPIST")
    a, t = bearer(assistant["access_token"]), bearer(therapist["access_token"])
    lead = await new_lead(client, org, headers=a, email="front@example.org", notes="called", assigned_to=assistant_id)
    assert lead["email"] == "front@example.org" and lead["assigned_to"] == assistant_id
    assert (await client.get(url(org, f"/{lead['id']}"), headers=t)).status_code == 200
    assert (await client.get(url(org), headers=t)).json()["total"] == 1
    for method, path, body in (("post", "", {"first_name": "X"}), ("put", f"/{lead['id']}", {"first_name": "Y"}),
                               ("post", f"/{lead['id']}/move", {"stage": "CONTACTED"}), ("post", f"/{lead['id']}/contact", None),
                               ("post", f"/{lead['id']}/convert", None)):
        response = await client.request(method, url(org, path), json=body, headers=t)
        assert response.status_code == 403, (path, response.text)
    # the assistant converts; the notes reach the patient's encrypted clinical profile, which only
    # clinical roles read
    converted = await client.post(url(org, f"/{lead['id']}/convert"), headers=a)
    assert converted.status_code == 200, converted.text
    pid = converted.json()["patient_id"]
    as_assistant = (await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}", headers=a)).json()
    assert as_assistant["clinical"] is None and as_assistant["email"] == "front@example.org"
    as_owner = (await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}", headers=org.headers)).json()
    assert as_owner["clinical"] == {"intake_notes": "called"}
    problem(await client.post(url(org), json={"first_name": "X", "assigned_to": (await therapist_id(db, org))}, headers=a),
            422, "assigned_to", "front-desk")


async def therapist_id(db, org) -> str:
    return str((await in_tenant(db, org.slug, "SELECT id FROM staff WHERE role = 'THERAPIST'"))[0][0])


async def test_conversion_at_the_patient_limit_leaves_nothing_half_done(client, db):
    org = await signup(client, tier="BUILDER")  # 3 active patients
    patients = []
    for i in range(3):
        created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": f"P{i}"}, headers=org.headers)
        assert created.status_code == 201
        patients.append(created.json()["id"])
    lead = await new_lead(client, org, email="conv@example.org", phone="+34 611 22 33 44", language="es", time_zone="Europe/Madrid",
                          notes="Wants group sessions")
    lid = lead["id"]
    counts = "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM audit_events), (SELECT count(*) FROM outbox_events)"
    before = await in_tenant(db, org.slug, counts)
    refused = problem(await client.post(url(org, f"/{lid}/convert"), headers=org.headers), 403)
    assert refused["type"].endswith("/plan-limit-reached") and refused["limit"] == "patients"
    assert await in_tenant(db, org.slug, counts) == before
    still = (await client.get(url(org, f"/{lid}"), headers=org.headers)).json()
    assert still["stage"] == "NEW" and still["patient_id"] is None

    assert (await client.post(f"/api/v1/orgs/{org.slug}/patients/{patients[0]}/archive", headers=org.headers)).status_code == 200
    converted = await client.post(url(org, f"/{lid}/convert"), headers=org.headers)
    assert converted.status_code == 200, converted.text
    assert converted.json()["stage"] == "CONVERTED" and converted.json()["converted_at"] is not None
    pid = converted.json()["patient_id"]
    patient = (await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}", headers=org.headers)).json()
    assert (patient["first_name"], patient["last_name"], patient["email"], patient["phone"], patient["language"]) == (
        "Lía", "Soler", "conv@example.org", "+34611223344", "es")
    assert patient["profile"] == {"lead_source": "MANUAL", "time_zone": "Europe/Madrid"}
    assert patient["clinical"] == {"intake_notes": "Wants group sessions"}
    again = problem(await client.post(url(org, f"/{lid}/convert"), headers=org.headers), 409)
    assert (again["from"], again["to"]) == ("CONVERTED", "CONVERTED")
    problem(await client.post(url(org, f"/{lid}/move"), json={"stage": "NEW"}, headers=org.headers), 409)
    events = await lead_events(db, org.slug, lid)
    assert events[-1] == ("LEAD_CONVERTED", {"lead_id": lid, "patient_id": pid, "from": "NEW"})
    assert [e[0] for e in events].count("LEAD_CONVERTED") == 1


async def test_duplicates_are_flagged_then_merged_or_dismissed(client, db):
    org = await signup(client, tier="PRO")
    patient = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Ana", "email": "ana@example.org"}, headers=org.headers)
    older = await new_lead(client, org, first_name="Ana", phone="+34 622 00 11 22", notes="first call")
    newer = await new_lead(client, org, first_name="Ana B", email="ANA@example.org", phone="+34622001122", notes="second form")
    dups = {(d["match_lead_id"], d["match_patient_id"]): d for d in newer["duplicates"]}
    assert set(dups) == {(older["id"], None), (None, patient.json()["id"])}
    assert dups[(older["id"], None)]["matched_on"] == "phone" and dups[(None, patient.json()["id"])]["matched_on"] == "email"
    listed = {i["id"]: i["possible_duplicate"] for i in (await client.get(url(org), headers=org.headers)).json()["items"]}
    assert listed == {older["id"]: False, newer["id"]: True}

    with_patient = dups[(None, patient.json()["id"])]["id"]
    problem(await client.post(url(org, f"/{newer['id']}/duplicates/{with_patient}/merge"), headers=org.headers), 409)
    dismissed = await client.post(url(org, f"/{newer['id']}/duplicates/{with_patient}/dismiss"), headers=org.headers)
    assert dismissed.status_code == 200
    assert {d["status"] for d in dismissed.json()["duplicates"] if d["id"] == with_patient} == {"dismissed"}
    problem(await client.post(url(org, f"/{newer['id']}/duplicates/{with_patient}/dismiss"), headers=org.headers), 409)

    merged = await client.post(url(org, f"/{newer['id']}/duplicates/{dups[(older['id'], None)]['id']}/merge"), headers=org.headers)
    assert merged.status_code == 200, merged.text
    survivor = merged.json()
    assert survivor["id"] == older["id"]  # always into the older lead
    assert survivor["first_name"] == "Ana" and survivor["email"] == "ANA@example.org" and survivor["notes"] == "first call\n\nsecond form"
    assert [i["id"] for i in (await client.get(url(org), headers=org.headers)).json()["items"]] == [older["id"]]
    problem(await client.put(url(org, f"/{newer['id']}"), json={"first_name": "Z"}, headers=org.headers), 409)
    trail = await in_tenant(db, org.slug, "SELECT detail FROM audit_events WHERE action = 'lead.merged'")
    assert trail[0][0]["merged_lead_id"] == newer["id"] and trail[0][0]["lead_id"] == older["id"]


async def test_freshness_filters_and_contact(client, db):
    org = await signup(client)
    fresh, amber, gray, ghost = [await new_lead(client, org, first_name=n) for n in ("F", "A", "G", "H")]
    for lead, hours in ((amber, 30), (gray, 80), (ghost, 24 * 8)):
        await in_tenant(db, org.slug, "UPDATE leads SET created_at = now() - make_interval(hours => :h) WHERE id = :i",
                        {"h": hours, "i": lead["id"]})
    for name, lead in (("green", fresh), ("amber", amber), ("gray", gray), ("ghost", ghost)):
        found = (await client.get(url(org), params={"freshness": name}, headers=org.headers)).json()
        assert [i["id"] for i in found["items"]] == [lead["id"]] and found["items"][0]["freshness"] == name, name
    contacted = await client.post(url(org, f"/{ghost['id']}/contact"), headers=org.headers)
    assert contacted.status_code == 200 and contacted.json()["freshness"] == "green" and contacted.json()["last_contacted_at"]
    assert (await client.get(url(org), params={"freshness": "ghost"}, headers=org.headers)).json()["total"] == 0
    assert (await client.get(url(org), params={"freshness": "green", "limit": 1}, headers=org.headers)).json()["total"] == 2
    assert (await client.get(url(org), params={"source": "MANUAL", "stage": "NEW"}, headers=org.headers)).json()["total"] == 4
    assert (await client.get(url(org), params={"source": "AD"}, headers=org.headers)).json()["total"] == 0


async def test_capture_for_the_forms_domain(client, db):
    """The service a public form submission will call: PUBLIC_FORM with the form's ids, no person
    behind it (the audit line is the system's), the same validation as the API."""
    from anima.domains.leads.services import capture
    from anima.jobs.runner import tenant_transaction
    from anima.problems import InvalidInput
    from tests.integration.events_support import queue_settings, services_for, tenant_id_of

    org = await signup(client)
    form_id, submission_id = uuid.uuid4(), uuid.uuid4()
    tid = await tenant_id_of(db, org.slug)
    async with services_for(queue_settings("postgres"), db) as svc, tenant_transaction({"anima": svc}, tid) as tj:
        session, cipher = tj.session, tj.cipher
        lead = await capture(session, cipher, first_name=" Marta ", last_name="Vidal", email="marta@example.org", phone="+34 633 44 55 66",
                             language="es", source="PUBLIC_FORM", form_template_id=form_id, submission_id=submission_id)
        lead_id = lead.id
        for bad, field in (({"first_name": "<b>"}, "first_name"), ({"first_name": "A", "source": "FAX"}, "source"),
                           ({"first_name": "A", "phone": "12"}, "phone"), ({"first_name": "A\x00"}, "first_name"),
                           ({"first_name": "A", "created_at": datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)}, "created_at"),
                           ({"first_name": "A", "created_at": datetime.datetime(2026, 1, 1)}, "created_at")):
            try:
                await capture(session, cipher, **{"language": None, **bad})
            except InvalidInput as problem_:
                assert problem_.errors[0]["field"] == field
            else:
                raise AssertionError(f"accepted {bad}")
    read = (await client.get(url(org, f"/{lead_id}"), headers=org.headers)).json()
    assert (read["first_name"], read["source"], read["form_template_id"], read["submission_id"], read["phone"]) == (
        "Marta", "PUBLIC_FORM", str(form_id), str(submission_id), "+34633445566")
    trail = await in_tenant(db, org.slug, "SELECT actor_id, actor_role FROM audit_events WHERE action = 'lead.created'")
    assert trail == [(None, "system")]


async def test_concurrent_conversions_make_one_patient(client, db):
    import asyncio

    org = await signup(client, tier="PRO")
    lead = await new_lead(client, org, email="race@example.org")
    answers = await asyncio.gather(*(client.post(url(org, f"/{lead['id']}/convert"), headers=org.headers) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 7
    assert await in_tenant(db, org.slug, "SELECT count(*) FROM patients") == [(1,)]
    assert [e[0] for e in await lead_events(db, org.slug, lead["id"])].count("LEAD_CONVERTED") == 1
