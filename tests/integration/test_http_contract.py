"""The HTTP contract at the edge: problem members, request ids, strict bodies, Allow, security headers."""

from __future__ import annotations

import re
import typing
import uuid
from typing import Any

import msgspec
import pytest
from litestar.routes import HTTPRoute

from anima.http.input_guard import GuardedRequest, guard_request
from anima.http.security_headers import API_CSP, DOCS_CSP, PAGE_CSP, is_page
from anima.request_body import RequestBody
from tests import clock
from tests.conftest import Org, add_member, bearer, signup
from tests.integration.test_hostile_input import assert_problem

SERVICE = {
    "name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 60,
    "price_minor": 5000, "currency": "EUR", "location": "ONLINE",
}


@pytest.fixture(scope="module")
async def org(client) -> Org:
    return await signup(client, tier="PRO")


# --- problem members --------------------------------------------------------------------------


async def test_conflicts_keep_the_http_status_and_name_the_state(client, org):
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Eva"}, headers=org.headers)).json()
    service = (await client.post(f"/api/v1/orgs/{org.slug}/services", json=SERVICE, headers=org.headers)).json()
    booking = await client.post(
        f"/api/v1/orgs/{org.slug}/bookings",
        json={"patient_id": patient["id"], "service_id": service["id"], "starts_at": clock.iso(days=30)},
        headers=org.headers,
    )
    assert booking.status_code == 201, booking.text
    url = f"/api/v1/orgs/{org.slug}/bookings/{booking.json()['id']}"
    assert (await client.post(f"{url}/cancel", headers=org.headers)).status_code == 200
    again = await client.post(f"{url}/cancel", headers=org.headers)
    assert again.status_code == 409
    assert again.json()["status"] == 409 and again.json()["state"] == "CANCELLED"

    payment = await client.post(
        f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": 100, "currency": "EUR"}, headers=org.headers
    )
    purl = f"/api/v1/orgs/{org.slug}/payments/{payment.json()['id']}"
    assert (await client.post(f"{purl}/succeed", headers=org.headers)).status_code == 200
    twice = await client.post(f"{purl}/succeed", headers=org.headers)
    assert twice.status_code == 409
    assert twice.json()["status"] == 409 and twice.json()["state"] == "SUCCEEDED"


# --- request ids on unmatched routes ----------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/nope", 404), ("DELETE", "/health", 405), ("HEAD", "/health", 405)])
async def test_unmatched_routes_carry_the_request_id(client, method, path, status):
    response = await client.request(method, path)
    assert response.status_code == status
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    if method != "HEAD":
        assert response.json()["request_id"] == request_id and response.json()["status"] == status
    echoed = await client.request(method, path, headers={"X-Request-ID": "trace-1234abcd"})
    assert echoed.headers["x-request-id"] == "trace-1234abcd"


# --- strict bodies, every bad field -----------------------------------------------------------


async def test_every_bad_field_is_reported(client, org):
    body = {**SERVICE, "name": "", "duration_minutes": 1, "price_minor": "250", "currency": "EU1", "colour": "red"}
    response = await client.post(f"/api/v1/orgs/{org.slug}/services", json=body, headers=org.headers)
    problem = assert_problem(response, 422, "price_minor", "type")
    found = {(e["field"], e["rule"]) for e in problem["errors"]}
    assert found == {
        ("name", "length"), ("duration_minutes", "range"), ("price_minor", "type"), ("currency", "pattern"), ("colour", "unknown-field"),
    }
    for field in ("name", "duration_minutes", "price_minor", "currency", "colour"):
        assert field in problem["detail"]


async def test_missing_fields_are_all_named(client, org):
    response = await client.post(f"/api/v1/orgs/{org.slug}/services", json={"name": "Only a name"}, headers=org.headers)
    problem = assert_problem(response, 422, "kind", "required")
    assert {e["field"] for e in problem["errors"] if e["rule"] == "required"} == {
        "kind", "scheduling", "duration_minutes", "price_minor", "currency", "location",
    }


async def test_nested_fields_are_named_with_their_path(client, org):
    response = await client.post(
        f"/api/v1/orgs/{org.slug}/patients",
        json={"first_name": "Ana", "clinical": {"risk_notes": 5, "mood": "x"}, "tags": ["ok", "", "x" * 41]},
        headers=org.headers,
    )
    problem = assert_problem(response, 422, "clinical.risk_notes", "type")
    assert {(e["field"], e["rule"]) for e in problem["errors"]} == {
        ("clinical.risk_notes", "type"), ("clinical.mood", "unknown-field"), ("tags[1]", "length"), ("tags[2]", "length"),
    }


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        ("services", "POST", {**SERVICE, "price_minor": "250"}, "price_minor"),
        ("services", "POST", {**SERVICE, "duration_minutes": 60.0}, "duration_minutes"),
        ("services", "POST", {**SERVICE, "active": "true"}, "active"),
        ("clinical-policy", "PUT", {"restrict_therapists_to_assigned": 0}, "restrict_therapists_to_assigned"),
        ("clinical-policy", "PUT", {"restrict_therapists_to_assigned": "false"}, "restrict_therapists_to_assigned"),
        ("patients", "POST", {"first_name": 7}, "first_name"),
    ],
)
async def test_no_loose_coercion(client, org, path, method, body, field):
    response = await client.request(method, f"/api/v1/orgs/{org.slug}/{path}", json=body, headers=org.headers)
    assert_problem(response, 422, field, "type")


async def test_unknown_fields_are_refused(client, org):
    response = await client.put(
        f"/api/v1/orgs/{org.slug}/clinical-policy", json={"restrict_therapist_to_assigned": True}, headers=org.headers
    )
    problem = assert_problem(response, 422, "restrict_therapist_to_assigned", "unknown-field")
    assert ("restrict_therapists_to_assigned", "required") in {(e["field"], e["rule"]) for e in problem["errors"]}


async def test_invalid_email_reads_as_words(client, org):
    response = await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": "nope", "role": "THERAPIST"}, headers=org.headers)
    problem = assert_problem(response, 422, "email", "email")
    message = problem["errors"][0]["message"]
    assert message == "must be an email address such as name@example.org"
    assert "[" not in problem["detail"] and "^" not in problem["detail"]


async def test_query_parameters_are_still_validated(client, org):
    response = await client.get(f"/api/v1/orgs/{org.slug}/patients?limit=0", headers=org.headers)
    problem = assert_problem(response, 422, "limit", "range")
    assert problem["errors"][0]["message"] == "must be at least 1"


def _data_structs(annotation: Any) -> set[type]:
    """Every msgspec structure reachable from a ``data`` annotation."""
    out: set[type] = set()
    stack = [annotation]
    while stack:
        current = stack.pop()
        if isinstance(current, type) and issubclass(current, msgspec.Struct):
            if current not in out:
                out.add(current)
                stack += [f.type for f in msgspec.structs.fields(current)]
            continue
        stack += [a for a in typing.get_args(current) if not isinstance(a, msgspec.Meta)]
    return out


def test_every_request_body_refuses_unknown_fields_and_every_route_is_guarded(app):
    bodies: set[type] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            assert handler.resolve_before_request() is guard_request, handler
            assert handler.resolve_request_class() is GuardedRequest, handler
            field = handler.parsed_fn_signature.parameters.get("data")
            if field is not None:
                bodies |= _data_structs(field.annotation)
    assert len(bodies) >= 20
    offenders = sorted(b.__qualname__ for b in bodies if not issubclass(b, RequestBody))
    assert offenders == []


# --- OPTIONS -----------------------------------------------------------------------------------


def _concrete(path: str) -> str:
    values = {"uuid": str(uuid.uuid4()), "int": "1", "str": "x-sample"}
    return re.sub(r"\{[a-z_]+:([a-z]+)\}", lambda m: values.get(m.group(1), "x"), path)


async def test_options_lists_exactly_the_methods_of_the_path(client, app, org):
    response = await client.options(f"/api/v1/orgs/{org.slug}/patients")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, OPTIONS, POST"
    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "{" in route.path and ":path}" in route.path:
            continue
        answer = await client.options(_concrete(route.path))
        if answer.status_code != 204:
            continue
        assert set(answer.headers["allow"].split(", ")) == set(route.methods), route.path
        checked += 1
    assert checked >= 20


# --- security headers --------------------------------------------------------------------------

COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


async def test_security_headers_on_every_kind_of_api_response(client, org, db):
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    responses = [
        await client.get(f"/api/v1/orgs/{org.slug}/patients", headers=org.headers),  # 200 with personal data
        await client.get("/api/v1/me", headers=org.headers),
        await client.post("/api/v1/auth/login", json={"email": 1}),  # 422
        await client.get(f"/api/v1/orgs/{org.slug}/billing/usage", headers=bearer(assistant["access_token"])),  # 403
        await client.get("/api/v1/me"),  # 401
        await client.get("/nope"),  # 404 unmatched
        await client.delete("/health"),  # 405
        await client.options(f"/api/v1/orgs/{org.slug}/patients"),  # 204
        await client.get("/health"),
    ]
    statuses = {r.status_code for r in responses}
    assert {200, 204, 401, 403, 404, 405, 422} <= statuses
    for response in responses:
        for name, value in COMMON.items():
            assert response.headers[name] == value, (response.request.url, name)
        assert response.headers["cache-control"] == "no-store", response.request.url
        expected = API_CSP if is_page(response.request.url.path) is False else PAGE_CSP
        assert response.headers["content-security-policy"] == expected
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # development: no HSTS


@pytest.mark.parametrize("path", ["/docs", "/docs/swagger"])
async def test_docs_pages_have_a_strict_csp_and_load_nothing_from_elsewhere(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    for name, value in COMMON.items():
        assert response.headers[name] == value
    assert response.headers["content-security-policy"] == DOCS_CSP
    assert "script-src 'self';" in DOCS_CSP and "unsafe-inline" not in DOCS_CSP.split("script-src")[1].split(";")[0]
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sources, response.text
    assert all(s.startswith("/docs/") for s in sources), sources
    assert "<script>" not in response.text.replace(" ", "")  # no inline script: the CSP forbids them
    for source in sources:
        asset = await client.get(source)
        assert asset.status_code == 200, source
        assert "max-age" in asset.headers["cache-control"] and "no-store" not in asset.headers["cache-control"]
        assert asset.headers["x-content-type-options"] == "nosniff"


# --- who may use a route is decided before what its body says ----------------------------------


async def test_authorization_comes_before_body_validation(client, db, org):
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    bad = {**SERVICE, "price_minor": "250", "description": "x\u0000"}
    as_assistant = await client.post(f"/api/v1/orgs/{org.slug}/services", json=bad, headers=bearer(assistant["access_token"]))
    assert as_assistant.status_code == 403, as_assistant.text
    anonymous = await client.post(f"/api/v1/orgs/{org.slug}/services", json=bad)
    assert anonymous.status_code == 401, anonymous.text
    stranger = await signup(client)
    foreign = await client.post(f"/api/v1/orgs/{org.slug}/services", json=bad, headers=stranger.headers)
    assert foreign.status_code == 404, foreign.text
    owner = await client.post(f"/api/v1/orgs/{org.slug}/services", json=bad, headers=org.headers)
    assert {(e["field"], e["rule"]) for e in owner.json()["errors"]} == {("price_minor", "type"), ("description", "nul-character")}


def test_the_refusal_marker_is_accepted_by_no_body_type(app):
    from anima.http.input_guard import REFUSED

    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            field = handler.parsed_fn_signature.parameters.get("data")
            if field is not None:
                with pytest.raises(msgspec.ValidationError):
                    msgspec.convert(REFUSED, field.annotation, strict=False)
