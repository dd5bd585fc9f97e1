"""Owners configuring their practice: services, therapist assignment, settings; suspension; operators."""

from __future__ import annotations

import uuid

import pytest

from anima.identity.operators import ensure_operator
from tests.conftest import PASSWORD, add_member, bearer, login, signup, unique_email

GROUP = {
    "name": "Mindfulness circle", "kind": "GROUP", "scheduling": "FIXED_DATE", "duration_minutes": 120,
    "price_minor": 2500, "currency": "EUR", "capacity": 12, "location": "IN_PERSON", "description": "Weekly group",
}


@pytest.fixture(scope="module")
async def org(client):
    return await signup(client, tier="CENTER")


async def test_service_lifecycle_and_filters(client, db, org):
    base = f"/api/v1/orgs/{org.slug}/services"
    _, _, therapist = await add_member(client, db, org, "THERAPIST")
    created = await client.post(base, json={**GROUP, "therapist_ids": [therapist, therapist]}, headers=org.headers)
    assert created.status_code == 201, created.text
    service = created.json()
    assert service["capacity"] == 12 and [t["id"] for t in service["therapists"]] == [therapist]
    sid = service["id"]
    patched = await client.patch(f"{base}/{sid}", json={"active": False, "price_minor": 3000}, headers=org.headers)
    assert patched.status_code == 200 and patched.json()["active"] is False and patched.json()["price_minor"] == 3000
    inactive = (await client.get(f"{base}?active=false&kind=GROUP&q=circle", headers=org.headers)).json()
    assert sid in [s["id"] for s in inactive["items"]]
    active = (await client.get(f"{base}?active=true", headers=org.headers)).json()
    assert sid not in [s["id"] for s in active["items"]]
    to_one = await client.patch(f"{base}/{sid}", json={"kind": "ONE_ON_ONE"}, headers=org.headers)
    assert to_one.status_code == 200 and to_one.json()["capacity"] is None
    cleared = await client.put(f"{base}/{sid}/therapists", json={"therapist_ids": []}, headers=org.headers)
    assert cleared.json()["therapists"] == []
    assert (await client.delete(f"{base}/{sid}", headers=org.headers)).status_code == 204
    assert (await client.get(f"{base}/{sid}", headers=org.headers)).status_code == 404


async def test_pagination_of_services(client, org):
    base = f"/api/v1/orgs/{org.slug}/services"
    marker = uuid.uuid4().hex[:8]
    for i in range(5):
        await client.post(base, json={**GROUP, "name": f"Page {marker} {i}"}, headers=org.headers)
    first = (await client.get(f"{base}?q={marker}&limit=2&offset=0", headers=org.headers)).json()
    second = (await client.get(f"{base}?q={marker}&limit=2&offset=2", headers=org.headers)).json()
    assert first["total"] == second["total"] == 5
    assert [s["name"] for s in first["items"]] == [f"Page {marker} 0", f"Page {marker} 1"]
    assert [s["name"] for s in second["items"]] == [f"Page {marker} 2", f"Page {marker} 3"]
    for bad in ("limit=0", "limit=201", "offset=-1", "limit=abc"):
        response = await client.get(f"{base}?{bad}", headers=org.headers)
        assert response.status_code in (400, 422), bad
        assert response.json()["errors"], bad


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"currency": "EURO"}, "currency", None),
        ({"currency": "ABC"}, "currency", "iso4217"),
        ({"currency": "eur"}, "currency", None),
        ({"duration_minutes": 4}, "duration_minutes", None),
        ({"duration_minutes": 50000}, "duration_minutes", None),
        ({"price_minor": -1}, "price_minor", None),
        ({"price_minor": 12.5}, "price_minor", None),
        ({"kind": "GROUP", "capacity": None}, "capacity", "required-for-group"),
        ({"kind": "ONE_ON_ONE", "capacity": 3}, "capacity", "one-on-one"),
        ({"capacity": 1}, "capacity", None),
        ({"location": "MOON"}, "location", None),
        ({"name": ""}, "name", None),
        ({"name": "x" * 121}, "name", None),
        ({"therapist_ids": ["not-a-uuid"]}, "therapist_ids", None),
        ({"therapist_ids": [str(uuid.uuid4())]}, "therapist_ids", "therapist"),
    ],
)
async def test_service_bad_input_names_field_and_rule(client, org, change, field, rule):
    response = await client.post(f"/api/v1/orgs/{org.slug}/services", json={**GROUP, **change}, headers=org.headers)
    assert response.status_code in (400, 422), response.text
    error = response.json()["errors"][0]
    assert error["field"].split("[")[0].split(".")[0] == field
    if rule:
        assert error["rule"] == rule


async def test_an_assistant_cannot_deliver_a_service(client, db, org):
    _, _, assistant = await add_member(client, db, org, "ASSISTANT")
    response = await client.post(f"/api/v1/orgs/{org.slug}/services", json={**GROUP, "therapist_ids": [assistant]}, headers=org.headers)
    assert response.status_code == 422 and response.json()["errors"][0]["rule"] == "therapist"


async def test_settings(client, org):
    url = f"/api/v1/orgs/{org.slug}/settings"
    assert (await client.get(url, headers=org.headers)).json()["people_label"] == "Patient"
    changed = await client.patch(url, json={"people_label": "Consultant", "locale": "ca", "timezone": "Europe/Madrid"}, headers=org.headers)
    assert changed.status_code == 200
    assert changed.json() | {"updated_at": None} == {"people_label": "Consultant", "locale": "ca", "timezone": "Europe/Madrid", "updated_at": None}
    for body, field in (
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"locale": "fr"}, "locale"),
        ({"people_label": "Customer"}, "people_label"),
        ({"colour": "blue"}, "colour"),
    ):
        response = await client.patch(url, json=body, headers=org.headers)
        assert response.status_code in (400, 422) and response.json()["errors"][0]["field"] == field, response.text
    assert (await client.get(url, headers=org.headers)).json()["timezone"] == "Europe/Madrid"


async def test_suspended_organization_answers_clearly_and_keeps_data(client, db):
    org = await signup(client, tier="PRO")
    created = await client.post(f"/api/v1/orgs/{org.slug}/services", json=GROUP, headers=org.headers)
    operator = unique_email("op")
    await ensure_operator(db, email=operator, password=PASSWORD, display_name="Op")
    op = bearer((await login(client, operator))["access_token"])
    suspended = await client.post(f"/api/v1/operator/tenants/{org.slug}/suspend", json={"reason": "unpaid invoices"}, headers=op)
    assert suspended.status_code == 200 and suspended.json()["state"] == "suspended"
    blocked = await client.get(f"/api/v1/orgs/{org.slug}/services", headers=org.headers)
    assert blocked.status_code == 403 and blocked.json()["type"].endswith("organization-suspended")
    assert (await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": unique_email(), "role": "ASSISTANT"}, headers=org.headers)).status_code == 403
    twice = await client.post(f"/api/v1/operator/tenants/{org.slug}/suspend", json={"reason": "again"}, headers=op)
    assert twice.status_code == 200
    resumed = await client.post(f"/api/v1/operator/tenants/{org.slug}/resume", json={"reason": "paid"}, headers=op)
    assert resumed.json()["state"] == "active"
    listed = (await client.get(f"/api/v1/orgs/{org.slug}/services", headers=org.headers)).json()
    assert created.json()["id"] in [s["id"] for s in listed["items"]]


async def test_operator_lists_tenants_with_usage_and_provisions(client, db):
    org = await signup(client, tier="PRO")
    await client.post(f"/api/v1/orgs/{org.slug}/services", json=GROUP, headers=org.headers)
    await add_member(client, db, org, "THERAPIST")
    operator = unique_email("op")
    await ensure_operator(db, email=operator, password=PASSWORD, display_name="Op")
    op = bearer((await login(client, operator))["access_token"])
    found = (await client.get(f"/api/v1/operator/tenants?q={org.slug}", headers=op)).json()
    assert found["total"] == 1
    row = found["items"][0]
    assert row["tier"] == "PRO" and row["state"] == "active"
    assert row["usage"] == {"members": 2, "staff_active": 2, "services": 1}
    assert "name" in row and "email" not in str(row["usage"])  # counts only
    assert (await client.get("/api/v1/operator/tenants?state=suspended&limit=5", headers=op)).status_code == 200
    assert (await client.get("/api/v1/operator/tenants?state=bogus", headers=op)).status_code in (400, 422)
    new_owner = unique_email("owner")
    created = await client.post(
        "/api/v1/operator/tenants", json={"slug": f"op-{uuid.uuid4().hex[:8]}", "name": "Clinic", "owner_email": new_owner, "tier": "CENTER"}, headers=op
    )
    assert created.status_code == 201 and created.json()["state"] == "active"
    duplicate = await client.post(
        "/api/v1/operator/tenants", json={"slug": org.slug, "name": "Dup", "owner_email": new_owner}, headers=op
    )
    assert duplicate.status_code == 409
    from tests.conftest import latest_invitation_token

    token = await latest_invitation_token(db, new_owner)
    accepted = await client.post("/api/v1/invitations/accept", json={"token": token, "password": PASSWORD})
    assert accepted.status_code == 200 and accepted.json()["role"] == "OWNER"


async def test_health_ready_and_openapi(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["migrated"] is True
    spec = (await client.get("/docs/openapi.json")).json()
    assert "/api/v1/signup" in spec["paths"] and "/api/v1/orgs/{org_slug}/services" in spec["paths"]
    response = await client.get("/health", headers={"X-Request-ID": "abc12345-req"})
    assert response.headers["x-request-id"] == "abc12345-req"
    hostile = await client.get("/health", headers={"X-Request-ID": "bad id\twith tab"})
    assert hostile.headers["x-request-id"] != "bad id\twith tab"
