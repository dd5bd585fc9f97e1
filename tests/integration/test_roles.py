"""Every route, every role: allowed and denied, through HTTP.

Denials: anonymous 401; a user who is not a member 404 (tenants do not learn of each other); a
member whose role the route does not allow 403; operators' routes refuse members with 403.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from anima.identity.operators import ensure_operator
from tests.conftest import PASSWORD, add_member, bearer, login, signup, unique_email, unique_slug

SERVICE = {
    "name": "Couples therapy", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 60,
    "price_minor": 9000, "currency": "EUR", "location": "IN_PERSON", "location_detail": "Room 2",
}


@dataclass
class World:
    slug: str
    tokens: dict[str, str]  # role -> access token
    ids: dict[str, str]  # role -> user id
    owner_headers: dict[str, str]


@pytest.fixture(scope="module")
async def world(client, db) -> World:
    org = await signup(client, tier="CENTER")
    tokens = {"OWNER": org.tokens["access_token"], "ANONYMOUS": ""}
    ids = {"OWNER": org.owner_id}
    for role in ("THERAPIST", "ASSISTANT"):
        _, t, uid = await add_member(client, db, org, role)
        tokens[role], ids[role] = t["access_token"], uid
    outsider = await signup(client, tier="PRO")
    tokens["OUTSIDER"] = outsider.tokens["access_token"]
    operator_email = unique_email("op")
    await ensure_operator(db, email=operator_email, password=PASSWORD, display_name="Op")
    tokens["OPERATOR"] = (await login(client, operator_email))["access_token"]
    return World(org.slug, tokens, ids, org.headers)


async def _service(client, w: World, *, assign_therapist: bool = True) -> str:
    body = {**SERVICE, "therapist_ids": [w.ids["THERAPIST"]] if assign_therapist else []}
    response = await client.post(f"/api/v1/orgs/{w.slug}/services", json=body, headers=w.owner_headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _spare_member(client, db, w: World) -> str:
    from tests.conftest import Org

    org = Org(w.slug, "", {"access_token": w.tokens["OWNER"]}, w.ids["OWNER"])
    _, _, uid = await add_member(client, db, org, "ASSISTANT")
    return uid


async def _invitation(client, w: World) -> str:
    response = await client.post(
        f"/api/v1/orgs/{w.slug}/invitations", json={"email": unique_email(), "role": "ASSISTANT"}, headers=w.owner_headers
    )
    assert response.status_code == 201
    return response.json()["id"]


Setup = Callable[[Any, Any, World], Awaitable[dict[str, str]]]


async def _nothing(client, db, w):
    return {}


async def _with_service(client, db, w):
    return {"id": await _service(client, w)}


async def _with_member(client, db, w):
    return {"id": await _spare_member(client, db, w)}


async def _with_invitation(client, db, w):
    return {"id": await _invitation(client, w)}


ALL = {"OWNER", "THERAPIST", "ASSISTANT"}
ROUTES: list[tuple[str, str, Setup, Any, set[str], int]] = [
    ("GET", "/services", _nothing, None, ALL, 200),
    ("POST", "/services", _nothing, SERVICE, {"OWNER"}, 201),
    ("GET", "/services/{id}", _with_service, None, ALL, 200),
    ("PATCH", "/services/{id}", _with_service, {"price_minor": 9500}, {"OWNER"}, 200),
    ("PUT", "/services/{id}/therapists", _with_service, {"therapist_ids": []}, {"OWNER"}, 200),
    ("DELETE", "/services/{id}", _with_service, None, {"OWNER"}, 204),
    ("GET", "/settings", _nothing, None, ALL, 200),
    ("PATCH", "/settings", _nothing, {"timezone": "Europe/Rome"}, {"OWNER"}, 200),
    ("GET", "/members", _nothing, None, ALL, 200),
    ("PATCH", "/members/{id}", _with_member, {"role": "THERAPIST"}, {"OWNER"}, 200),
    ("DELETE", "/members/{id}", _with_member, None, {"OWNER"}, 204),
    ("POST", "/invitations", _nothing, None, {"OWNER"}, 201),
    ("GET", "/invitations", _nothing, None, {"OWNER"}, 200),
    ("DELETE", "/invitations/{id}", _with_invitation, None, {"OWNER"}, 204),
]
CALLERS = ["OWNER", "THERAPIST", "ASSISTANT", "OUTSIDER", "OPERATOR", "ANONYMOUS"]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path", "setup", "body", "allowed", "ok"), ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
async def test_tenant_route_access(client, db, world, caller, method, path, setup, body, allowed, ok):
    params = await setup(client, db, world)
    if method == "POST" and path == "/invitations":
        body = {"email": unique_email(), "role": "ASSISTANT"}
    url = f"/api/v1/orgs/{world.slug}" + path.format(**params)
    headers = bearer(world.tokens[caller]) if world.tokens[caller] else {}
    response = await client.request(method, url, json=body, headers=headers)
    if caller in allowed:
        expected = ok
    elif caller == "ANONYMOUS":
        expected = 401
    elif caller in ("OUTSIDER", "OPERATOR"):
        expected = 404  # not a member: the organization does not exist for them
    else:
        expected = 403
    assert response.status_code == expected, (caller, method, url, response.text)
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")


OPERATOR_ROUTES = [
    ("GET", "/api/v1/operator/tenants", None, 200),
    ("GET", "/api/v1/operator/tenants/{slug}", None, 200),
    ("POST", "/api/v1/operator/tenants/{slug}/suspend", {"reason": "role test"}, 200),
    ("POST", "/api/v1/operator/tenants/{slug}/resume", {"reason": "role test"}, 200),
    ("POST", "/api/v1/operator/tenants", "create", 201),
]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path", "body", "ok"), OPERATOR_ROUTES, ids=[f"{r[0]} {r[1]}" for r in OPERATOR_ROUTES])
async def test_operator_route_access(client, db, world, caller, method, path, body, ok):
    target = await signup(client)
    if body == "create":
        body = {"slug": unique_slug("op"), "name": "Provisioned by operator", "owner_email": unique_email(), "tier": "PRO"}
    url = path.format(slug=target.slug)
    headers = bearer(world.tokens[caller]) if world.tokens[caller] else {}
    response = await client.request(method, url, json=body, headers=headers)
    expected = ok if caller == "OPERATOR" else (401 if caller == "ANONYMOUS" else 403)
    assert response.status_code == expected, (caller, method, url, response.text)


async def test_therapist_sees_only_assigned_services(client, world):
    mine = await _service(client, world, assign_therapist=True)
    other = await _service(client, world, assign_therapist=False)
    headers = bearer(world.tokens["THERAPIST"])
    listed = (await client.get(f"/api/v1/orgs/{world.slug}/services?limit=200", headers=headers)).json()["items"]
    ids = {s["id"] for s in listed}
    assert mine in ids and other not in ids
    assert (await client.get(f"/api/v1/orgs/{world.slug}/services/{other}", headers=headers)).status_code == 404
    everything = (await client.get(f"/api/v1/orgs/{world.slug}/services?limit=200", headers=bearer(world.tokens["ASSISTANT"]))).json()
    assert {mine, other} <= {s["id"] for s in everything["items"]}


async def test_the_last_owner_can_be_neither_demoted_nor_removed(client, db):
    org = await signup(client)
    demote = await client.patch(f"/api/v1/orgs/{org.slug}/members/{org.owner_id}", json={"role": "THERAPIST"}, headers=org.headers)
    assert demote.status_code == 409 and demote.json()["errors"][0]["rule"] == "last-owner"
    remove = await client.delete(f"/api/v1/orgs/{org.slug}/members/{org.owner_id}", headers=org.headers)
    assert remove.status_code == 409
    _, tokens, second = await add_member(client, db, org, "THERAPIST")
    assert (await client.patch(f"/api/v1/orgs/{org.slug}/members/{second}", json={"role": "OWNER"}, headers=org.headers)).status_code == 200
    assert (await client.patch(f"/api/v1/orgs/{org.slug}/members/{org.owner_id}", json={"role": "ASSISTANT"}, headers=org.headers)).status_code == 200
    # the first owner is now an assistant and may no longer manage members
    assert (await client.delete(f"/api/v1/orgs/{org.slug}/members/{second}", headers=org.headers)).status_code == 403
    members = (await client.get(f"/api/v1/orgs/{org.slug}/members", headers=bearer(tokens["access_token"]))).json()["items"]
    assert {m["role"] for m in members} == {"OWNER", "ASSISTANT"}


@pytest.mark.parametrize("change", ["demote", "remove"])
async def test_two_owners_changing_each_other_at_once_leave_one_owner(client, db, change):
    """Two owners each demote (or remove) the other in the same instant, four times over: exactly
    one change passes, the other is refused (409 last-owner, or 403 when it arrives after the
    first made its author a non-owner), and the organization always keeps an owner."""
    for _ in range(4):
        org = await signup(client)
        _, tokens, second = await add_member(client, db, org, "THERAPIST")
        promoted = await client.patch(f"/api/v1/orgs/{org.slug}/members/{second}", json={"role": "OWNER"}, headers=org.headers)
        assert promoted.status_code == 200, promoted.text
        pairs = ((org.headers, second), (bearer(tokens["access_token"]), org.owner_id))
        if change == "demote":
            calls = [client.patch(f"/api/v1/orgs/{org.slug}/members/{target}", json={"role": "ASSISTANT"}, headers=h) for h, target in pairs]
        else:
            calls = [client.delete(f"/api/v1/orgs/{org.slug}/members/{target}", headers=h) for h, target in pairs]
        responses = await asyncio.gather(*calls)
        codes = sorted(r.status_code for r in responses)
        assert codes in ([200, 403], [200, 409], [204, 403], [204, 409]), [r.text for r in responses]
        refused = next(r for r in responses if r.status_code in (403, 409))
        if refused.status_code == 409:
            assert refused.json()["errors"][0]["rule"] == "last-owner"
        async with db.admin.connect() as conn:
            owners = await conn.scalar(sa.text(
                "SELECT count(*) FROM platform.memberships m JOIN platform.tenants t ON t.id = m.tenant_id "
                "WHERE t.slug = :s AND m.role = 'OWNER'"), {"s": org.slug})
        assert owners == 1


async def test_removed_member_loses_access_at_once(client, db):
    org = await signup(client)
    _, tokens, uid = await add_member(client, db, org, "ASSISTANT")
    headers = bearer(tokens["access_token"])
    assert (await client.get(f"/api/v1/orgs/{org.slug}/services", headers=headers)).status_code == 200
    assert (await client.delete(f"/api/v1/orgs/{org.slug}/members/{uid}", headers=org.headers)).status_code == 204
    assert (await client.get(f"/api/v1/orgs/{org.slug}/services", headers=headers)).status_code == 404
    members = (await client.get(f"/api/v1/orgs/{org.slug}/members", headers=org.headers)).json()["items"]
    assert [m["active"] for m in members if m["user_id"] == uid] == [False]


async def test_unknown_ids_are_404_not_500(client, world):
    for path in (f"/services/{uuid.uuid4()}", f"/members/{uuid.uuid4()}", f"/invitations/{uuid.uuid4()}"):
        method = "GET" if path.startswith("/services") else "DELETE"
        response = await client.request(method, f"/api/v1/orgs/{world.slug}{path}", headers=world.owner_headers)
        assert response.status_code == 404, (path, response.text)
    bad = await client.get(f"/api/v1/orgs/{world.slug}/services/not-a-uuid", headers=world.owner_headers)
    assert bad.status_code in (400, 404)
