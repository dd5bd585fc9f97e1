"""Signup, login, refresh rotation and reuse detection, logout, sessions, invitations — through HTTP."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import httpx
import jwt
import pytest
import sqlalchemy as sa

from anima.app import create_app
from anima.identity.rate_limit import Limit, RateLimits
from anima.identity.tokens import issue_access_token
from tests.conftest import PASSWORD, bearer, latest_invitation_token, login, signup, unique_email, unique_slug


def _signup_body(**overrides):
    body = {
        "organization_name": "Calm Minds",
        "slug": unique_slug(),
        "email": unique_email(),
        "password": PASSWORD,
        "display_name": "Dr Calm",
        "tier": "PRO",
    }
    body.update(overrides)
    return body


async def test_signup_records_tier_and_logs_in(client, db):
    body = _signup_body(tier="CENTER")
    response = await client.post("/api/v1/signup", json=body)
    assert response.status_code == 201
    data = response.json()
    assert data["organization"] == {
        "organization_slug": body["slug"], "organization_name": "Calm Minds", "role": "OWNER", "tier": "CENTER", "state": "active"
    }
    me = await client.get("/api/v1/me", headers=bearer(data["tokens"]["access_token"]))
    assert me.json()["email"] == body["email"].lower()
    async with db.admin.connect() as conn:
        tier = await conn.scalar(sa.text("SELECT tier FROM platform.tenants WHERE slug = :s"), {"s": body["slug"]})
        pw_hash = await conn.scalar(sa.text("SELECT password_hash FROM platform.users WHERE email = :e"), {"e": body["email"]})
    assert tier == "CENTER"
    assert pw_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("slug", "ab", "length"),
        ("slug", "Upper-Case", "pattern"),
        ("slug", "x'; DROP SCHEMA platform; --", "pattern"),
        ("slug", "-leading", "pattern"),
        ("slug", "a" * 41, "length"),
        ("slug", "admin", "slug"),
        ("slug", "two--hyphens", "slug"),
        ("email", "not-an-email", "email"),
        ("email", "a@b", "email"),
        ("email", "evil@example.org\r\nBcc: x@y.z", "email"),
        ("email", "x" * 250 + "@example.org", "length"),
        ("password", "short", "length"),
        ("password", "password1", "common"),
        ("tier", "PLATINUM", "enum"),
        ("display_name", "", "length"),
        ("organization_name", "bad\x00name", "nul-character"),
    ],
)
async def test_signup_refuses_bad_input_naming_field_and_rule(client, db, field, value, rule):
    body = _signup_body(**{field: value})
    response = await client.post("/api/v1/signup", json=body)
    assert response.status_code in (400, 422), response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["errors"][0]["field"] == field
    assert problem["errors"][0]["rule"] == rule, problem
    async with db.admin.connect() as conn:  # nothing half-written
        assert await conn.scalar(sa.text("SELECT count(*) FROM platform.users WHERE email = :e"), {"e": body["email"].lower()}) == 0


async def test_signup_unknown_field_and_missing_field(client):
    body = _signup_body()
    body["is_operator"] = True
    assert (await client.post("/api/v1/signup", json=body)).status_code in (400, 422)
    body = _signup_body()
    del body["email"]
    response = await client.post("/api/v1/signup", json=body)
    assert response.status_code in (400, 422)
    assert response.json()["errors"][0]["field"] == "email"


async def test_duplicate_slug_and_email_are_409_and_write_nothing(client, db):
    first = _signup_body()
    assert (await client.post("/api/v1/signup", json=first)).status_code == 201
    same_slug = _signup_body(slug=first["slug"])
    response = await client.post("/api/v1/signup", json=same_slug)
    assert response.status_code == 409 and response.json()["errors"][0]["field"] == "slug"
    same_email = _signup_body(email=first["email"].upper())
    response = await client.post("/api/v1/signup", json=same_email)
    assert response.status_code == 409 and response.json()["errors"][0]["field"] == "email"
    async with db.admin.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM platform.users WHERE email = :e"), {"e": same_slug["email"]}) == 0
        assert await conn.scalar(sa.text("SELECT count(*) FROM platform.tenants WHERE slug = :s"), {"s": same_email["slug"]}) == 0


async def test_concurrent_signups_for_one_slug_make_one_tenant(client, db):
    slug = unique_slug()
    responses = await asyncio.gather(*(client.post("/api/v1/signup", json=_signup_body(slug=slug)) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]


async def test_wrong_password_and_unknown_user_get_the_same_401(client):
    org = await signup(client)
    wrong = await client.post("/api/v1/auth/login", json={"email": org.owner_email, "password": "not-the-password-1"})
    unknown = await client.post("/api/v1/auth/login", json={"email": unique_email(), "password": "not-the-password-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.json()["type"] == unknown.json()["type"]


async def test_refresh_rotates_and_reuse_revokes_the_session(client):
    org = await signup(client)
    first = org.tokens
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/api/v1/me", headers=bearer(second["access_token"]))).status_code == 200
    # the old refresh token again: reuse detected, the whole session ends
    reused = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})).status_code == 401
    assert (await client.get("/api/v1/me", headers=bearer(second["access_token"]))).status_code == 401
    assert (await client.get(f"/api/v1/orgs/{org.slug}/services", headers=bearer(second["access_token"]))).status_code == 404


async def test_logout_ends_access_at_once(client):
    org = await signup(client)
    assert (await client.post("/api/v1/auth/logout", headers=org.headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=org.headers)).status_code == 401
    assert (await client.get(f"/api/v1/orgs/{org.slug}/settings", headers=org.headers)).status_code == 404
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": org.tokens["refresh_token"]})).status_code == 401


async def test_idle_and_absolute_session_timeouts(client, db):
    org = await signup(client)
    tokens = await login(client, org.owner_email)
    async with db.admin.begin() as conn:
        await conn.execute(
            sa.text("UPDATE platform.auth_sessions SET idle_expires_at = now() - interval '1 minute' "
                    "WHERE id IN (SELECT session_id FROM platform.refresh_tokens WHERE used_at IS NULL) "
                    "AND user_id = (SELECT id FROM platform.users WHERE email = :e)"),
            {"e": org.owner_email},
        )
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401
    tokens = await login(client, org.owner_email)
    async with db.admin.begin() as conn:
        await conn.execute(
            sa.text("UPDATE platform.auth_sessions SET expires_at = now() - interval '1 second' "
                    "WHERE user_id = (SELECT id FROM platform.users WHERE email = :e)"),
            {"e": org.owner_email},
        )
    assert (await client.get("/api/v1/me", headers=bearer(tokens["access_token"]))).status_code == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401


async def test_expired_forged_and_wrong_type_tokens_are_401(client, settings):
    org = await signup(client)
    me = (await client.get("/api/v1/me", headers=org.headers)).json()
    claims = jwt.decode(org.tokens["access_token"], options={"verify_signature": False})
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    expired, _ = issue_access_token(
        settings.secret_key, user_id=uuid.UUID(me["id"]), session_id=uuid.UUID(claims["sid"]), is_operator=False, now=past
    )
    forged = jwt.encode({**claims, "op": True}, "another-secret-key-of-enough-length!!", algorithm="HS256")
    none_alg = jwt.encode(claims, None, algorithm="none") if hasattr(jwt, "encode") else "x.y."
    wrong_type = jwt.encode({**claims, "typ": "refresh"}, settings.secret_key, algorithm="HS256")
    wrong_aud = jwt.encode({**claims, "aud": "someone-else"}, settings.secret_key, algorithm="HS256")
    for token in (expired, forged, none_alg, wrong_type, wrong_aud, "garbage", org.tokens["refresh_token"]):
        response = await client.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await client.get("/api/v1/me")).status_code == 401
    assert (await client.get("/api/v1/operator/tenants", headers=bearer(forged))).status_code == 401


async def test_one_user_in_several_organizations(client, db):
    a, b = await signup(client), await signup(client)
    email = unique_email("shared")
    for org, role in ((a, "THERAPIST"), (b, "ASSISTANT")):
        await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": email, "role": role}, headers=org.headers)
    async with db.admin.connect() as conn:
        invitations = (await conn.execute(
            sa.text("SELECT body FROM platform.email_outbox WHERE recipient = :r ORDER BY created_at"), {"r": email})).scalars().all()
    assert len(invitations) == 2
    token_a, token_b = (body.rsplit(": ", 1)[1].strip() for body in invitations)
    first = await client.post("/api/v1/invitations/accept", json={"token": token_a, "password": PASSWORD})
    assert first.status_code == 200 and first.json()["created_account"] is True  # no account yet: the first acceptance makes it
    second = await client.post("/api/v1/invitations/accept", json={"token": token_b, "password": PASSWORD})
    assert second.status_code == 200 and second.json()["created_account"] is False  # the same account joins the second organization
    assert (await client.post("/api/v1/invitations/accept", json={"token": token_a, "password": PASSWORD})).status_code == 404
    tokens = await login(client, email)
    memberships = (await client.get("/api/v1/me", headers=bearer(tokens["access_token"]))).json()["memberships"]
    assert {(m["organization_slug"], m["role"]) for m in memberships} == {(a.slug, "THERAPIST"), (b.slug, "ASSISTANT")}


async def test_invitation_is_single_use_and_expires(client, db):
    org = await signup(client)
    email = unique_email()
    await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": email, "role": "ASSISTANT"}, headers=org.headers)
    token = await latest_invitation_token(db, email)
    weak = await client.post("/api/v1/invitations/accept", json={"token": token, "password": "12345678"})
    assert weak.status_code == 422 and weak.json()["errors"][0]["rule"] == "common"
    ok = await client.post("/api/v1/invitations/accept", json={"token": token, "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["created_account"] is True
    again = await client.post("/api/v1/invitations/accept", json={"token": token, "password": PASSWORD})
    assert again.status_code == 404
    assert (await client.post("/api/v1/invitations/accept", json={"token": "forged", "password": PASSWORD})).status_code == 404
    other = unique_email()
    await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": other, "role": "ASSISTANT"}, headers=org.headers)
    expired_token = await latest_invitation_token(db, other)
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("UPDATE platform.invitations SET expires_at = now() - interval '1 second' WHERE email = :e"), {"e": other})
    assert (await client.post("/api/v1/invitations/accept", json={"token": expired_token, "password": PASSWORD})).status_code == 404
    duplicate = await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": email, "role": "OWNER"}, headers=org.headers)
    assert duplicate.status_code == 409


async def test_existing_account_must_prove_its_password_to_accept(client, db):
    a, b = await signup(client), await signup(client)
    await client.post(f"/api/v1/orgs/{b.slug}/invitations", json={"email": a.owner_email, "role": "THERAPIST"}, headers=b.headers)
    token = await latest_invitation_token(db, a.owner_email)
    wrong = await client.post("/api/v1/invitations/accept", json={"token": token, "password": "wrong-password-123"})
    assert wrong.status_code == 401
    right = await client.post("/api/v1/invitations/accept", json={"token": token, "password": PASSWORD})
    assert right.status_code == 200 and right.json()["created_account"] is False


def _strict_client(app_settings, db, limits: RateLimits, address: str) -> httpx.AsyncClient:
    app = create_app(app_settings, database=db, rate_limits=limits)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 4000)), base_url="http://testserver")


async def test_login_rate_limit_is_exact_under_concurrency(client, db, settings):
    org = await signup(client)
    limits = RateLimits({**RateLimits().limits, "login:account": Limit(5, 900), "login:address": Limit(1000, 900)})
    async with _strict_client(settings, db, limits, f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}") as strict:
        responses = await asyncio.gather(*(
            strict.post("/api/v1/auth/login", json={"email": org.owner_email, "password": "wrong-password-123"}) for _ in range(20)
        ))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(401) == 5 and codes.count(429) == 15
    limited = next(r for r in responses if r.status_code == 429)
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["type"].endswith("rate-limited")


async def test_signup_rate_limit_by_client_address_behind_trusted_proxy(db, settings):
    from anima.config import load_settings
    from tests.conftest import test_environ

    proxied = load_settings(test_environ(ANIMA_TRUSTED_PROXIES="127.0.0.0/8"))
    limits = RateLimits({**RateLimits().limits, "signup:address": Limit(2, 3600)})
    app = create_app(proxied, database=db, rate_limits=limits)
    proxy = f"127.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{1 + uuid.uuid4().int % 250}"  # its counter is this test's own
    transport = httpx.ASGITransport(app=app, client=(proxy, 4000))
    client_ip = f"203.0.113.{uuid.uuid4().int % 250}"
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        headers = {"X-Forwarded-For": f"198.51.100.7, {client_ip}"}
        codes = [(await c.post("/api/v1/signup", json=_signup_body(), headers=headers)).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        # another client behind the same proxy is not affected
        fresh = {"X-Forwarded-For": f"192.0.2.{uuid.uuid4().int % 250}"}
        assert (await c.post("/api/v1/signup", json=_signup_body(), headers=fresh)).status_code == 201
        # a malformed hop is not believed: the request counts against the proxy's own address, so
        # three different malformed values share one counter (keyed by the value, each would pass)
        malformed = [{"X-Forwarded-For": f"203.0.113.{n}x"} for n in range(3)]
        codes = [(await c.post("/api/v1/signup", json=_signup_body(), headers=h)).status_code for h in malformed]
        assert codes == [201, 201, 429]


async def test_a_paid_tier_picked_at_signup_needs_checkout_when_payments_are_configured(db, settings):
    from anima.config import load_settings
    from anima.identity.rate_limit import RateLimits
    from tests.conftest import test_environ

    paying = load_settings(test_environ(
        STRIPE_SECRET_KEY="sk_test_123", STRIPE_WEBHOOK_SECRET="whsec_123",
        STRIPE_PRICE_PRO="price_pro", STRIPE_PRICE_CENTER="price_center",
    ))
    app = create_app(paying, database=db, rate_limits=RateLimits().scaled(1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        body = _signup_body(tier="PRO")
        response = await c.post("/api/v1/signup", json=body)
    assert response.status_code == 201
    data = response.json()
    assert data["organization"]["tier"] == "BUILDER"
    assert data["requested_tier"] == "PRO" and data["checkout_required"] is True
    async with db.admin.connect() as conn:
        tier = await conn.scalar(sa.text("SELECT tier FROM platform.tenants WHERE slug = :s"), {"s": body["slug"]})
        requested = await conn.scalar(sa.text(
            "SELECT detail->>'tier' FROM platform.tenant_events e JOIN platform.tenants t ON t.id = e.tenant_id "
            "WHERE t.slug = :s AND e.action = 'tier-requested'"), {"s": body["slug"]})
    assert tier == "BUILDER" and requested == "PRO"


async def test_without_payments_a_development_signup_gets_its_tier_as_a_recorded_comp(client, db):
    body = _signup_body(tier="CENTER")
    data = (await client.post("/api/v1/signup", json=body)).json()
    assert data["organization"]["tier"] == "CENTER" and data["checkout_required"] is False
    async with db.admin.connect() as conn:
        change = (await conn.execute(sa.text(
            "SELECT c.to_tier, c.actor FROM platform.tier_changes c JOIN platform.tenants t ON t.id = c.tenant_id WHERE t.slug = :s"),
            {"s": body["slug"]})).one()
    assert tuple(change) == ("CENTER", "signup")
