"""The OpenAPI document the application serves tells the truth about errors, authentication and unknown fields.

These read the document as a client does (``GET /docs/openapi.json``) and check it against facts
stated here independently of :mod:`anima.http.openapi`'s derivation: the problem statuses of named
routes, the list of public routes, the ``Problem`` component's members, and that every request body
refuses unknown fields. The fuzzer (``test_openapi_fuzz.py``) checks the same document against the
running application's answers.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from anima.http.openapi import answers
from anima.problems import MEDIA_TYPE

METHODS = ("get", "put", "post", "delete", "patch")
PROBLEM_REF = "#/components/schemas/Problem"

#: the routes anyone may call, without a bearer token
PUBLIC = {
    ("get", "/health"),
    ("get", "/ready"),
    ("post", "/api/v1/signup"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/invitations/accept"),
    ("post", "/api/v1/billing/webhooks/stripe"),
    ("post", "/api/v1/unsubscribe/{token}"),
    ("post", "/api/v1/sms/inbound"),
    ("get", "/api/v1/unsubscribe/{token}"),
    ("post", "/api/v1/payments/webhooks/stripe"),
    ("get", "/api/v1/pay/{practice}/{token}"),
}

ORG = "/api/v1/orgs/{org_slug}"

#: the problem statuses of representative routes, stated by hand from what their code can raise
EXPECTED: dict[tuple[str, str], set[int]] = {
    ("get", "/health"): set(),
    ("get", "/api/v1/me"): {401},
    ("post", "/api/v1/auth/logout"): {401},
    ("post", "/api/v1/signup"): {400, 409, 413, 422, 429},
    ("post", "/api/v1/auth/login"): {400, 401, 413, 422, 429},
    ("post", "/api/v1/auth/refresh"): {400, 401, 413, 422, 429},
    ("post", "/api/v1/invitations/accept"): {400, 401, 403, 404, 409, 413, 422, 429},
    ("post", f"{ORG}/invitations"): {400, 401, 403, 404, 409, 413, 422, 429},
    ("get", "/api/v1/operator/plans"): {401, 403},
    ("post", "/api/v1/billing/webhooks/stripe"): {400, 413, 503},
    ("post", f"{ORG}/billing/checkout"): {400, 401, 403, 404, 409, 413, 422, 502, 503},
    ("post", f"{ORG}/billing/portal"): {400, 401, 403, 404, 409, 422, 502, 503},
    ("get", f"{ORG}/settings"): {400, 401, 403, 404, 422},
    ("get", f"{ORG}/patients/{{patient_id}}"): {400, 401, 403, 404, 422},
    ("post", f"{ORG}/patients"): {400, 401, 403, 404, 413, 422},
    ("patch", f"{ORG}/patients/{{patient_id}}/journal/{{entry_id}}"): {400, 401, 403, 404, 409, 413, 422},
    ("post", f"{ORG}/patients/{{patient_id}}/journal/{{entry_id}}/sign"): {400, 401, 403, 404, 409, 422},
    ("delete", f"{ORG}/services/{{service_id}}"): {400, 401, 403, 404, 409, 422},
    ("delete", f"{ORG}/members/{{user_id}}"): {400, 401, 403, 404, 409, 422},
}


@pytest.fixture(scope="module")
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/docs/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, path, item[m]) for path, item in document["paths"].items() for m in METHODS if m in item]


def problem_statuses(operation: dict[str, Any]) -> set[int]:
    return {
        int(status)
        for status, response in operation["responses"].items()
        if MEDIA_TYPE in (response.get("content") or {})
    }


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def test_the_problem_component_has_every_member(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "instance", "request_id", "errors"}
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}
    assert problem["properties"]["status"]["type"] == "integer"
    field_error = document["components"]["schemas"]["FieldError"]
    assert set(field_error["properties"]) == set(field_error["required"]) == {"field", "rule", "message"}


def test_every_problem_response_is_problem_json_with_the_shared_schema(document: dict[str, Any]) -> None:
    checked = 0
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or (method, path, status) == ("get", "/ready", "503"):
                continue  # /ready answers its readiness body, not a problem
            assert list(response["content"]) == [MEDIA_TYPE], (method, path, status)
            assert response["content"][MEDIA_TYPE]["schema"] == {"$ref": PROBLEM_REF}, (method, path, status)
            assert response["description"], (method, path, status)
            checked += 1
    assert checked > 300  # 76 operations, most with five or more problem statuses


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED), ids=lambda v: v)
def test_named_routes_list_exactly_their_problems(document: dict[str, Any], method: str, path: str) -> None:
    assert problem_statuses(document["paths"][path][method]) == EXPECTED[(method, path)]


def test_the_document_shape_implies_its_problems(document: dict[str, Any]) -> None:
    """Rules read off the document itself: a body can be too large or invalid, an id can be unknown, a
    non-public route can be called without a token, an organization route by a non-member or a wrong role."""
    for method, path, operation in operations(document):
        statuses = problem_statuses(operation)
        where = f"{method.upper()} {path}: {sorted(statuses)}"
        if "requestBody" in operation:
            assert {400, 413, 422} <= statuses, where
        if "{" in path:
            assert {400, 404, 422} <= statuses, where
        if (method, path) not in PUBLIC:
            assert 401 in statuses, where
        if path.startswith("/api/v1/orgs/{org_slug}"):
            assert {401, 403, 404} <= statuses, where
        if path.startswith("/api/v1/operator"):
            assert {401, 403} <= statuses, where


def test_public_routes_need_no_bearer_token(document: dict[str, Any]) -> None:
    assert document["security"] == [{"BearerToken": []}]
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    public = {(m, p) for m, p, op in operations(document) if op.get("security") == []}
    assert public == PUBLIC
    for method, path, operation in operations(document):
        if (method, path) not in PUBLIC:  # the global bearer requirement applies
            assert operation.get("security", document["security"]) == [{"BearerToken": []}], (method, path)


def test_every_request_body_refuses_unknown_fields(document: dict[str, Any]) -> None:
    bodies = 0
    for method, path, operation in operations(document):
        if "requestBody" not in operation:
            continue
        for media in operation["requestBody"]["content"].values():
            schema = resolve(document, media["schema"])
            assert schema.get("additionalProperties") is False, (method, path, schema.get("title"))
            bodies += 1
    assert bodies >= 25


def test_nested_request_objects_refuse_unknown_fields_too(document: dict[str, Any]) -> None:
    clinical = document["components"]["schemas"]["ClinicalProfile"]  # nested in a patient's body
    assert clinical["additionalProperties"] is False


async def test_an_undeclared_field_is_refused_as_the_document_says(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/login", json={"email": "a@example.org", "password": "x" * 12, "admin": True})
    assert response.status_code == 422
    assert response.headers["content-type"] == MEDIA_TYPE
    errors = response.json()["errors"]
    assert [(e["field"], e["rule"]) for e in errors] == [("admin", "unknown-field")], errors


async def test_a_body_over_the_limit_gets_the_documented_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", content=b'{"email": "' + b"a" * (1024 * 1024 + 1) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == MEDIA_TYPE
    assert response.json()["status"] == 413


def test_declaring_an_undescribed_status_is_refused() -> None:
    assert answers(409, 429) == {"problems": frozenset({409, 429})}
    with pytest.raises(ValueError, match="418"):
        answers(418)


def test_401_and_429_document_their_headers(document: dict[str, Any]) -> None:
    seen = {"401": 0, "429": 0}
    header = {"401": "WWW-Authenticate", "429": "Retry-After"}
    for method, path, operation in operations(document):
        for status in seen:
            if status in operation["responses"]:
                headers = operation["responses"][status]["headers"]
                assert headers[header[status]]["required"] is True, (method, path, status)
                seen[status] += 1
    assert seen["401"] > 60 and seen["429"] == 5  # signup, login, refresh, acceptance, invitations


async def test_the_documented_401_header_is_sent(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
