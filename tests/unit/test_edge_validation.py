"""The edge's validation rules (anima.http.validation), problem members and security headers, in process."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Litestar, get
from litestar.testing import TestClient

from anima.http.exception_handlers import EXCEPTION_HANDLERS
from anima.http.input_guard import decode_json_body
from anima.http.security_headers import HSTS, SecurityHeadersMiddleware, headers_for
from anima.http.validation import EARLIEST, LATEST, MAX_DEPTH, date_errors, describe, text_errors, validate_value
from anima.identity.schemas import EMAIL_PATTERN
from anima.problems import Conflict, InvalidInput, MalformedBody
from anima.request_body import RequestBody


class Inner(RequestBody):
    note: Annotated[str, msgspec.Meta(max_length=3)]


class Outer(RequestBody):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=5)]
    count: Annotated[int, msgspec.Meta(ge=1, le=10)]
    flag: bool = False
    kind: Literal["A", "B"] = "A"
    email: Annotated[str, msgspec.Meta(pattern=EMAIL_PATTERN)] | None = None
    inner: Inner | None = None
    items: Annotated[list[Annotated[str, msgspec.Meta(min_length=1)]], msgspec.Meta(max_length=2)] = []
    when: datetime.datetime | None = None


def _pairs(errors: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(e["field"], e["rule"]) for e in errors}


def test_a_valid_body_converts_strictly():
    value, errors = validate_value({"name": "ok", "count": 2, "flag": True, "inner": {"note": "n"}}, Outer)
    assert errors == [] and value == Outer(name="ok", count=2, flag=True, inner=Inner(note="n"))


def test_every_bad_field_is_named_once_with_its_rule():
    body = {
        "name": "", "count": "2", "flag": 0, "kind": "C", "email": "x", "inner": {"note": "long", "extra": 1},
        "items": ["a", ""], "when": "yesterday", "surprise": True,
    }
    _, errors = validate_value(body, Outer)
    assert _pairs(errors) == {
        ("name", "length"), ("count", "type"), ("flag", "type"), ("kind", "enum"), ("email", "email"),
        ("inner.note", "length"), ("inner.extra", "unknown-field"), ("items[1]", "length"), ("when", "format"),
        ("surprise", "unknown-field"),
    }
    assert all("regex" not in e["message"] and "`" not in e["message"] for e in errors)


def test_missing_fields_are_all_required():
    _, errors = validate_value({}, Outer)
    assert _pairs(errors) == {("name", "required"), ("count", "required")}


def test_a_container_rule_is_blamed_on_the_container():
    _, errors = validate_value({"name": "a", "count": 1, "items": ["a", "b", "c"]}, Outer)
    assert _pairs(errors) == {("items", "length")}
    assert errors[0]["message"] == "must have at most 2 items"


def test_a_body_of_the_wrong_shape():
    _, errors = validate_value([1, 2], Outer)
    assert errors == [{"field": "body", "rule": "type", "message": "must be an object, not an array"}]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Expected `int`, got `str` - at `$.a`", (".a", "type", "must be an integer, not a string")),
        ("Expected `str` of length <= 120", ("", "length", "must have at most 120 characters")),
        ("Expected `str` of length >= 1 - at `$[0]`", ("[0]", "length", "must not be empty")),
        ("Expected `int` >= 5", ("", "range", "must be at least 5")),
        ("Object missing required field `x`", (".x", "required", "is required")),
        ("Object contains unknown field `y` - at `$.inner`", (".inner.y", "unknown-field", "is not a field of this request")),
        (f"Expected `str` matching regex {EMAIL_PATTERN!r}", ("", "email", "must be an email address such as name@example.org")),
        ("Expected `str` matching regex '^[q]+$'", ("", "pattern", "does not have the accepted format")),
        ("Something new", ("", "invalid", "Something new")),
    ],
)
def test_msgspec_messages_read_as_words(message, expected):
    assert describe(message) == expected


def test_text_errors_find_nul_and_surrogates_in_values_and_keys():
    doc = {"a": "x\x00", "b": ["ok", "\ud800"], "c\x00": 1, "d": {"e": "\udfff\x00"}}
    assert _pairs(text_errors(doc)) == {
        ("a", "nul-character"), ("b[1]", "lone-surrogate"), ("c\\u0000", "nul-character"),
        ("d.e", "nul-character"), ("d.e", "lone-surrogate"),
    }
    assert text_errors({"clean": ["text", 1, None, {"ü": "ß"}]}) == []


def test_depth_limit_is_exact():
    def nest(n: int) -> Any:
        value: Any = []
        for _ in range(n - 1):
            value = [value]
        return value

    assert text_errors(nest(MAX_DEPTH)) == []
    assert _pairs(text_errors(nest(MAX_DEPTH + 1))) == {("[0]" * MAX_DEPTH, "max-depth")}


@pytest.mark.parametrize(
    ("body", "problem", "rule"),
    [
        (b"\xff", MalformedBody, "utf-8"),
        (b"[" * 5000 + b"]" * 5000, MalformedBody, "max-depth"),
        (b'{"a": ', MalformedBody, "json"),
        (b'{"a": "\\u0000"}', InvalidInput, "nul-character"),
    ],
)
def test_decode_json_body_refuses(body, problem, rule):
    with pytest.raises(problem) as caught:
        decode_json_body(body)
    assert caught.value.errors[0]["rule"] == rule


def test_decode_json_body_reads_what_is_fine():
    assert decode_json_body(b"") is None
    assert decode_json_body('{"name": "Zoë 🌱"}'.encode()) == {"name": "Zoë 🌱"}


OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: datetime.timezone(datetime.timedelta(minutes=m)))


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31, 23, 59, 59)), tz=OFFSETS)
def test_dates_are_judged_in_utc_and_never_overflow(moment, tz):
    aware = moment.replace(tzinfo=tz)
    errors = date_errors({"at": aware})
    try:
        day = aware.astimezone(datetime.UTC).date()
    except OverflowError:
        day = None
    inside = day is not None and EARLIEST <= day < LATEST
    assert errors == ([] if inside else [{"field": "at", "rule": "range", "message": errors[0]["message"]}])


@given(day=st.dates())
def test_plain_dates_have_the_same_bounds(day):
    assert (date_errors([day]) == []) == (EARLIEST <= day < LATEST)


# --- problem members ---------------------------------------------------------------------------


@get("/conflict")
async def conflict() -> None:
    raise Conflict("already cancelled", extra={"status": "CANCELLED", "type": "x", "title": "t", "detail": "d", "request_id": "r", "state": "CANCELLED"})


def test_extra_never_overwrites_standard_members():
    app = Litestar([conflict], exception_handlers=EXCEPTION_HANDLERS)
    with TestClient(app) as client:
        body = client.get("/conflict").json()
    assert body["status"] == 409 and body["state"] == "CANCELLED"
    assert body["type"].endswith("/conflict") and body["title"] == "Conflict" and body["detail"] == "already cancelled"
    assert "request_id" not in body  # no request context in this tiny app: not taken from extra either


# --- security headers --------------------------------------------------------------------------


@get("/x")
async def x() -> dict[str, str]:
    return {"ok": "yes"}


@pytest.mark.parametrize("production", [True, False])
def test_hsts_only_in_production(production):
    app = Litestar([x])
    app.asgi_handler = SecurityHeadersMiddleware(app.asgi_handler, production=production)
    with TestClient(app) as client:
        for path in ("/x", "/missing"):
            response = client.get(path)
            assert ("strict-transport-security" in response.headers) is production
            if production:
                assert response.headers["strict-transport-security"] == HSTS
            assert response.headers["x-content-type-options"] == "nosniff"


def test_cache_policy_by_path():
    def cache(path: str) -> str:
        return dict(headers_for(path, production=False))["Cache-Control"]

    assert cache("/api/v1/orgs/a/patients") == "no-store"
    assert cache("/health") == "no-store"
    assert cache("/docs") == "no-cache" and cache("/docs/swagger") == "no-cache"
    assert cache("/docs/assets/swagger-ui-5.35.0/swagger-ui.css").startswith("public, max-age=")
    assert cache("/docsx") == "no-store"
