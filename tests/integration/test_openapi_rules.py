"""The derivation rules of :mod:`anima.http.openapi` on a small application of its own (no database).

Each route here has one trait (a body, a path parameter, a token, a guard, declared roles, a declared
extra); the document must list exactly the problem statuses the rules give for it, and a response a
handler documents itself must survive.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec

from anima.http.access import OWNERS
from anima.http.openapi import answers, openapi_plugins
from anima.problems import MEDIA_TYPE


class Body(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class LenientBody(msgspec.Struct):
    name: str


async def provide_claims() -> str:
    return "claims"


def deny(connection: Any, handler: Any) -> None:
    """A guard (never called: only the document is read)."""


@post("/public-body", status_code=200)
async def public_body(data: Body) -> None: ...


@post("/lenient-body", status_code=200)
async def lenient_body(data: LenientBody) -> None: ...


@get("/items/{item_id:int}")
async def by_id(item_id: int) -> None: ...


@get("/search")
async def search(q: str) -> None: ...


@get("/mine", dependencies={"claims": Provide(provide_claims)})
async def mine(claims: str) -> None: ...


@get("/guarded", guards=[deny])
async def guarded() -> None: ...


@get("/orgs/{org_slug:str}/things", opt=OWNERS, dependencies={"claims": Provide(provide_claims)})
async def org_things(org_slug: str, claims: str) -> None: ...


@post(
    "/declared", status_code=200, opt=answers(409, 429),
    responses={409: ResponseSpec(dict[str, str], description="its own 409", media_type="application/json")},
)
async def declared() -> None: ...


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = Litestar(
        [public_body, lenient_body, by_id, search, mine, guarded, org_things, declared],
        openapi_config=OpenAPIConfig(title="t", version="1", security=[{"BearerToken": []}]),
        plugins=openapi_plugins(),
    )
    return app.openapi_schema.to_schema()


def statuses(document: dict[str, Any], path: str, method: str) -> set[int]:
    return {int(s) for s in document["paths"][path][method]["responses"] if int(s) >= 400}


@pytest.mark.parametrize(
    ("path", "method", "expected"),
    [
        ("/public-body", "post", {400, 413, 422}),
        ("/items/{item_id}", "get", {400, 404, 422}),
        ("/search", "get", {400, 422}),
        ("/mine", "get", {401}),
        ("/guarded", "get", {401, 403}),
        ("/orgs/{org_slug}/things", "get", {400, 401, 403, 404, 422}),
        ("/declared", "post", {409, 429}),
    ],
)
def test_each_trait_gives_its_statuses(document: dict[str, Any], path: str, method: str, expected: set[int]) -> None:
    assert statuses(document, path, method) == expected


def test_a_handlers_own_response_wins_over_the_derived_one(document: dict[str, Any]) -> None:
    responses = document["paths"]["/declared"]["post"]["responses"]
    assert responses["409"]["description"] == "its own 409"
    assert list(responses["409"]["content"]) == ["application/json"]
    assert list(responses["429"]["content"]) == [MEDIA_TYPE]


def test_public_means_no_token_dependency_and_no_guard(document: dict[str, Any]) -> None:
    public = {
        (path, method) for path, item in document["paths"].items() for method, op in item.items() if op.get("security") == []
    }
    assert public == {("/public-body", "post"), ("/lenient-body", "post"), ("/items/{item_id}", "get"), ("/search", "get"), ("/declared", "post")}


def test_only_structs_that_forbid_unknown_fields_say_so(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["Body"]["additionalProperties"] is False
    assert "additionalProperties" not in schemas["LenientBody"]
