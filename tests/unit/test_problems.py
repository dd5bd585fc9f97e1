"""RFC 9457 problem details (anima.problems rendered by anima.http.exception_handlers) on a tiny Litestar app of its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.params import Parameter
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.testing import TestClient

from anima.http.exception_handlers import EXCEPTION_HANDLERS
from anima.problems import (
    MEDIA_TYPE,
    TYPE_BASE,
    Conflict,
    Forbidden,
    InvalidInput,
    LimitReached,
    NotFound,
    TooManyRequests,
    Unauthorized,
)

LEAKY_MESSAGE = "patient Jane Doe diagnosis=F32.1 password=hunter2"


class NewPatient(msgspec.Struct, forbid_unknown_fields=True):
    first_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    age: Annotated[int, msgspec.Meta(ge=0, le=150)]
    email: Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+$")] | None = None


@post("/patients")
async def create_patient(data: NewPatient) -> dict[str, str]:
    return {"first_name": data.first_name}


@get("/invalid")
async def invalid() -> None:
    raise InvalidInput.field("email", "format", "must be an email address")


@get("/missing")
async def missing() -> None:
    raise NotFound("no such patient")


@get("/limit")
async def limit() -> None:
    raise LimitReached("3 patients on BUILDER", extra={"limit": 3, "usage": 3, "upgrade_to": "PRO"})


@get("/boom")
async def boom() -> None:
    raise RuntimeError(LEAKY_MESSAGE)


@get("/boom-key")
async def boom_key() -> None:
    raise KeyError(LEAKY_MESSAGE)


@get("/litestar-401")
async def litestar_401() -> None:
    raise NotAuthorizedException("token expired")


@get("/litestar-403")
async def litestar_403() -> None:
    raise PermissionDeniedException("owners only")


@get("/items/{item_id:int}")
async def item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


@get("/search")
async def search(limit: Annotated[int, Parameter(ge=1, le=100)] = 10) -> dict[str, int]:
    return {"limit": limit}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        route_handlers=[create_patient, invalid, missing, limit, boom, boom_key, litestar_401, litestar_403, item, search],
        exception_handlers=EXCEPTION_HANDLERS,
        debug=False,
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def assert_problem(response, status: int, kind: str | None = None) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    body = response.json()
    for member in ("type", "title", "status", "detail", "instance"):
        assert member in body, member
    assert body["status"] == status
    assert body["type"].startswith(TYPE_BASE)
    if kind:
        assert body["type"] == TYPE_BASE + kind
    assert body["instance"] == response.request.url.path
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_invalid_input_names_field_and_rule(client: TestClient[Litestar]) -> None:
    body = assert_problem(client.get("/invalid"), 422, "invalid-input")
    assert body["errors"] == [{"field": "email", "rule": "format", "message": "must be an email address"}]
    assert "email" in body["detail"]


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [("/missing", 404, "not-found"), ("/litestar-401", 401, "unauthorized"), ("/litestar-403", 403, "forbidden")],
)
def test_problem_kinds(client: TestClient[Litestar], path: str, status: int, kind: str) -> None:
    assert_problem(client.get(path), status, kind)


def test_problem_extra_members(client: TestClient[Litestar]) -> None:
    body = assert_problem(client.get("/limit"), 403, "plan-limit-reached")
    assert (body["limit"], body["usage"], body["upgrade_to"]) == (3, 3, "PRO")


@pytest.mark.parametrize("cls", [Unauthorized, Forbidden, NotFound, Conflict, TooManyRequests, LimitReached, InvalidInput])
def test_problem_classes_have_status_and_kind(cls: type) -> None:
    problem = cls()
    assert 400 <= problem.status < 500
    assert problem.kind and problem.title and problem.detail == problem.title


def test_unauthorized_carries_www_authenticate() -> None:
    assert Unauthorized().headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_route_is_a_problem(client: TestClient[Litestar]) -> None:
    assert_problem(client.get("/nowhere"), 404, "not-found")


def test_wrong_method_is_a_problem(client: TestClient[Litestar]) -> None:
    assert_problem(client.delete("/invalid"), 405, "method-not-allowed")




def fields_and_rules(body: dict) -> set[tuple[str, str]]:
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"field", "rule", "message"}, error
    return {(e["field"], e["rule"]) for e in body["errors"]}


@pytest.mark.parametrize(
    ("payload", "field", "rule"),
    [
        ({"first_name": "Ann", "age": "forty"}, "age", "type"),
        pytest.param({"first_name": "Ann", "age": 200}, "age", "range"),
        pytest.param({"first_name": "Ann", "age": -1}, "age", "range"),
        pytest.param({"first_name": "", "age": 40}, "first_name", "length"),
        pytest.param({"first_name": "x" * 101, "age": 40}, "first_name", "length"),
        ({"age": 40}, "first_name", "required"),
        pytest.param({"first_name": "Ann", "age": 40, "email": "not an email"}, "email", "pattern"),
    ],
)
def test_body_validation_error_names_the_field(client: TestClient[Litestar], payload: dict, field: str, rule: str) -> None:
    response = client.post("/patients", json=payload)
    body = assert_problem(response, 422, "invalid-input")
    assert (field, rule) in fields_and_rules(body), body
    assert field in body["detail"]


def test_every_body_violation_is_a_422_naming_the_field(client: TestClient[Litestar]) -> None:
    """Independent of the rule names: each constraint violation still names its field (no xfail here)."""
    for payload, field in [
        ({"first_name": "Ann", "age": 200}, "age"),
        ({"first_name": "", "age": 40}, "first_name"),
        ({"first_name": "Ann", "age": 40, "email": "not an email"}, "email"),
    ]:
        response = client.post("/patients", json=payload)
        body = assert_problem(response, 422, "invalid-input")
        assert field in {e["field"] for e in body["errors"]}


def test_unknown_body_field_is_refused(client: TestClient[Litestar]) -> None:
    response = client.post("/patients", json={"first_name": "Ann", "age": 40, "is_admin": True})
    body = assert_problem(response, 422, "invalid-input")
    assert "is_admin" in {e["field"] for e in body["errors"]}, body


def test_valid_body_passes(client: TestClient[Litestar]) -> None:
    response = client.post("/patients", json={"first_name": "Ann", "age": 40})
    assert response.status_code == 201
    assert response.json() == {"first_name": "Ann"}


def test_malformed_json_is_a_problem(client: TestClient[Litestar]) -> None:
    response = client.post("/patients", content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(response, 400)


def test_bad_path_and_query_parameters_are_problems(client: TestClient[Litestar]) -> None:
    response = client.get("/items/abc")  # an int path parameter that is not one: no route matches
    assert_problem(response, 404, "not-found")
    response = client.get("/search", params={"limit": "0"})
    body = assert_problem(response, 422, "invalid-input")
    assert ("limit", "range") in fields_and_rules(body), body


@pytest.mark.parametrize("path", ["/boom", "/boom-key"])
def test_unhandled_exception_is_500_without_leaking(client: TestClient[Litestar], path: str) -> None:
    response = client.get(path)
    body = assert_problem(response, 500, "internal-error")
    assert "Jane" not in response.text
    assert "hunter2" not in response.text
    assert "F32.1" not in response.text
    assert "RuntimeError" not in response.text and "Traceback" not in response.text
    assert "errors" not in body
