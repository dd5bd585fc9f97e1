"""Plan limits under concurrency, downgrades that keep data, staff seats, the usage widget, operator comps."""

from __future__ import annotations

import asyncio

from tests.conftest import PASSWORD, add_member, latest_invitation_token, signup, unique_email
from tests.integration.billing_support import operator_headers, scalar, tenant_row  # noqa: F401 - fixture

SERVICE = {
    "name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50,
    "price_minor": 6000, "currency": "EUR", "location": "ONLINE",
}


def _service(i: int, **extra) -> dict:
    return {**SERVICE, "name": f"Session {i}", **extra}


async def test_twenty_concurrent_creations_against_a_limit_of_three_leave_three(client):
    org = await signup(client)  # BUILDER: 3 active services
    responses = await asyncio.gather(
        *(client.post(f"/api/v1/orgs/{org.slug}/services", json=_service(i), headers=org.headers) for i in range(20))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 3 and codes.count(403) == 17, codes
    refusal = next(r.json() for r in responses if r.status_code == 403)
    assert refusal["type"].endswith("/plan-limit-reached")
    assert refusal["limit"] == "active_services" and refusal["used"] == 3 and refusal["allowed"] == 3
    assert refusal["tier"] == "BUILDER" and refusal["upgrade_to"] == "PRO"
    assert "PRO" in refusal["detail"] and "3" in refusal["detail"]
    listed = (await client.get(f"/api/v1/orgs/{org.slug}/services", headers=org.headers)).json()
    assert listed["total"] == 3


async def test_inactive_services_do_not_count_but_reactivation_does(client):
    org = await signup(client)
    base = f"/api/v1/orgs/{org.slug}/services"
    for i in range(3):
        assert (await client.post(base, json=_service(i), headers=org.headers)).status_code == 201
    parked = await client.post(base, json=_service(9, active=False), headers=org.headers)
    assert parked.status_code == 201, parked.text
    again = await client.patch(f"{base}/{parked.json()['id']}", json={"active": True}, headers=org.headers)
    assert again.status_code == 403 and again.json()["limit"] == "active_services"
    renamed = await client.patch(f"{base}/{parked.json()['id']}", json={"name": "Renamed"}, headers=org.headers)
    assert renamed.status_code == 200  # changing an inactive service is not a creation


async def test_staff_seats_count_members_and_pending_invitations(client, db):
    org = await signup(client)  # BUILDER: 3 seats, the owner holds one
    await add_member(client, db, org, "THERAPIST")
    pending = await client.post(
        f"/api/v1/orgs/{org.slug}/invitations", json={"email": unique_email(), "role": "ASSISTANT"}, headers=org.headers
    )
    assert pending.status_code == 201
    refused = await client.post(
        f"/api/v1/orgs/{org.slug}/invitations", json={"email": unique_email(), "role": "ASSISTANT"}, headers=org.headers
    )
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert (body["limit"], body["used"], body["allowed"], body["upgrade_to"]) == ("staff_seats", 3, 3, "PRO")


async def test_accepting_checks_seats_again_after_a_downgrade(client, db, operator_headers):
    org = await signup(client, tier="PRO")
    emails = [unique_email("late") for _ in range(3)]
    for email in emails:
        sent = await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": email, "role": "THERAPIST"}, headers=org.headers)
        assert sent.status_code == 201
    down = await client.post(
        f"/api/v1/operator/tenants/{org.slug}/tier", json={"tier": "BUILDER", "reason": "end of pilot"}, headers=operator_headers
    )
    assert down.status_code == 200 and down.json()["tier"] == "BUILDER"
    outcomes = []
    for email in emails:
        token = await latest_invitation_token(db, email)
        outcomes.append((await client.post("/api/v1/invitations/accept", json={"token": token, "password": PASSWORD})).status_code)
    assert outcomes == [200, 200, 403]  # owner + 2 fill BUILDER's 3 seats
    assert await scalar(db, "SELECT count(*) FROM platform.memberships m JOIN platform.tenants t ON t.id = m.tenant_id WHERE t.slug = :s", s=org.slug) == 3


async def test_downgrade_keeps_everything_readable_and_stops_creation(client, db, operator_headers):
    org = await signup(client, tier="CENTER")
    base = f"/api/v1/orgs/{org.slug}/services"
    for i in range(5):
        assert (await client.post(base, json=_service(i), headers=org.headers)).status_code == 201
    down = await client.post(
        f"/api/v1/operator/tenants/{org.slug}/tier", json={"tier": "BUILDER", "reason": "account review"}, headers=operator_headers
    )
    assert down.json() == {"slug": org.slug, "tier": "BUILDER", "comp_tier": None, "changed": True}
    listed = (await client.get(base, headers=org.headers)).json()
    assert listed["total"] == 5 and all(s["active"] for s in listed["items"])  # nothing deleted or hidden
    one = listed["items"][0]["id"]
    assert (await client.get(f"{base}/{one}", headers=org.headers)).status_code == 200
    assert (await client.patch(f"{base}/{one}", json={"price_minor": 7000}, headers=org.headers)).status_code == 200
    assert (await client.post(base, json=_service(6), headers=org.headers)).status_code == 403
    usage = (await client.get(f"/api/v1/orgs/{org.slug}/billing/usage", headers=org.headers)).json()
    services = next(row for row in usage["limits"] if row["limit"] == "active_services")
    assert services == {**services, "used": 5, "allowed": 3, "over_limit": True, "upgrade_to": "PRO"}
    assert "CENTER to BUILDER" in usage["notice"] and "account review" in usage["notice"]
    assert "Nothing was deleted" in usage["notice"]


async def test_usage_lists_every_limit_for_owners_only(client, db):
    org = await signup(client)
    assert (await client.post(f"/api/v1/orgs/{org.slug}/services", json=_service(1), headers=org.headers)).status_code == 201
    response = await client.get(f"/api/v1/orgs/{org.slug}/billing/usage", headers=org.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tier"] == "BUILDER" and body["payments_configured"] is False and body["notice"] is None
    rows = {row["limit"]: row for row in body["limits"]}
    assert set(rows) == {"patients", "staff_seats", "active_services", "ai_analyses_per_month"}
    assert (rows["active_services"]["used"], rows["active_services"]["allowed"]) == (1, 3)
    assert (rows["staff_seats"]["used"], rows["staff_seats"]["allowed"]) == (1, 3)
    assert (rows["patients"]["used"], rows["patients"]["allowed"]) == (0, 3)
    _, tokens, _ = await add_member(client, db, org, "THERAPIST")
    therapist = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get(f"/api/v1/orgs/{org.slug}/billing/usage", headers=therapist)).status_code == 403
    stranger = await signup(client)
    assert (await client.get(f"/api/v1/orgs/{org.slug}/billing/usage", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"/api/v1/orgs/{org.slug}/billing/usage")).status_code == 401


async def test_operator_comp_is_recorded_and_validated(client, db, operator_headers):
    org = await signup(client)
    url = f"/api/v1/operator/tenants/{org.slug}/tier"
    comped = await client.post(url, json={"tier": "CENTER", "reason": "charity partner"}, headers=operator_headers)
    assert comped.status_code == 200 and comped.json() == {"slug": org.slug, "tier": "CENTER", "comp_tier": "CENTER", "changed": True}
    tenant = await tenant_row(db, org.slug)
    assert tenant.tier == "CENTER"
    change = await scalar(db, "SELECT actor || '|' || source || '|' || reason FROM platform.tier_changes WHERE tenant_id = :t", t=tenant.id)
    actor, source, reason = change.split("|", 2)
    assert actor.startswith("op.") and source == "operator" and "charity partner" in reason
    view = await client.get(f"/api/v1/operator/tenants/{org.slug}/billing", headers=operator_headers)
    assert view.status_code == 200
    assert view.json()["usage"]["comp_tier"] == "CENTER" and view.json()["history"][0]["to_tier"] == "CENTER"
    plans = (await client.get("/api/v1/operator/plans", headers=operator_headers)).json()
    assert [p["tier"] for p in plans] == ["BUILDER", "PRO", "CENTER"] and "risk_auto_block" in plans[2]["features"]
    for body, field, rule in (
        ({"tier": "GOLD", "reason": "because"}, "tier", "enum"),
        ({"tier": "PRO", "reason": "x"}, "reason", "length"),
        ({"tier": "PRO"}, "reason", "required"),
    ):
        bad = await client.post(url, json=body, headers=operator_headers)
        assert bad.status_code == 422, bad.text
        assert [(e["field"], e["rule"]) for e in bad.json()["errors"]] == [(field, rule)], bad.text
    missing = await client.post("/api/v1/operator/tenants/no-such-org/tier", json={"tier": "PRO", "reason": "because"}, headers=operator_headers)
    assert missing.status_code == 404
    assert (await client.post(url, json={"tier": "PRO", "reason": "because"}, headers=org.headers)).status_code == 403
    assert (await client.get("/api/v1/operator/plans", headers=org.headers)).status_code == 403
    assert (await tenant_row(db, org.slug)).tier == "CENTER"  # refused calls changed nothing
