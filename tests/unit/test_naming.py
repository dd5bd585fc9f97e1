"""Slug rules and derived schema/role names (src/anima/tenancy/naming.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anima.tenancy.naming import RESERVED_SLUGS, InvalidSlug, role_name, schema_name, validate_slug

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALLOWED = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def obeys_rules(slug: str) -> bool:
    """The rules of naming.py, restated independently of the implementation's regex."""
    return (
        3 <= len(slug) <= 40
        and set(slug) <= ALLOWED
        and not slug.startswith("-")
        and not slug.endswith("-")
        and "--" not in slug
        and slug not in RESERVED_SLUGS
    )


@FAST
@given(st.text(max_size=50))
def test_any_text_that_passes_obeys_the_rules(text: str) -> None:
    try:
        result = validate_slug(text)
    except InvalidSlug as exc:
        assert exc.rule
        assert not obeys_rules(text)
    else:
        assert result == text
        assert obeys_rules(text)


@FAST
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=45))
def test_slug_alphabet_text_is_accepted_exactly_when_it_obeys_the_rules(text: str) -> None:
    try:
        validate_slug(text)
        accepted = True
    except InvalidSlug:
        accepted = False
    assert accepted == obeys_rules(text)


@FAST
@given(st.from_regex(re.compile(r"[a-z0-9]{1,3}(-[a-z0-9]{1,5}){0,5}"), fullmatch=True))
def test_well_formed_slugs_are_accepted(slug: str) -> None:
    if obeys_rules(slug):
        assert validate_slug(slug) == slug
    else:
        with pytest.raises(InvalidSlug):
            validate_slug(slug)


HOSTILE = [
    "acme'; DROP SCHEMA platform CASCADE; --",
    '"; DROP SCHEMA platform; --',
    "acme'",
    'acme"',
    "acme;",
    "acme\x00",
    "ac\x00me",
    "acme\n",
    "acme\r\n",
    " acme",
    "acme ",
    "ac me",
    "acme\t",
    "Acme",
    "ACME",
    "acmE",
    "аcme",  # Cyrillic а (U+0430)
    "acme\u200b",  # zero-width space
    "ａｃｍｅ",  # fullwidth
    "acmé",
    "acme\u0301",  # combining accent
    "ıstanbul",  # dotless i
    "../acme",
    "..",
    "acme/../../etc",
    "acme%2f..",
    "acme.com",
    "acme_clinic",
    "a" * 41,
    "a" * 100,
    "ab",
    "a",
    "",
    "-acme",
    "acme-",
    "ac--me",
    "---",
    "admin",
    "api",
    "platform",
    "public",
    "postgres",
    "pg_catalog",
    "tenant_1",
    "acme*",
    "acme\\",
    "$(reboot)",
]


@pytest.mark.parametrize("slug", HOSTILE)
def test_hostile_slugs_are_refused(slug: str) -> None:
    with pytest.raises(InvalidSlug) as caught:
        validate_slug(slug)
    assert caught.value.rule


@pytest.mark.parametrize("slug", ["abc", "a" * 40, "acme-clinic", "a1-b2-c3", "123", "north-side-therapy-2"])
def test_good_slugs_pass(slug: str) -> None:
    assert validate_slug(slug) == slug


@pytest.mark.parametrize("slug", sorted(RESERVED_SLUGS))
def test_every_reserved_slug_is_refused_as_reserved(slug: str) -> None:
    """Reserved names are refused; those short enough to break the length rule (\"me\") by that rule."""
    with pytest.raises(InvalidSlug) as caught:
        validate_slug(slug)
    if len(slug) >= 3:
        assert "reserved" in caught.value.rule


def test_double_hyphen_rule_is_named() -> None:
    with pytest.raises(InvalidSlug) as caught:
        validate_slug("acme--clinic")
    assert "hyphen" in caught.value.rule


@pytest.mark.parametrize("value", [None, 123, b"acme", ["acme"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidSlug):
        validate_slug(value)  # type: ignore[arg-type]


@FAST
@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_schema_and_role_names_from_positive_ints(tenant_id: int) -> None:
    schema = schema_name(tenant_id)
    assert schema == f"tenant_{tenant_id}"
    assert re.fullmatch(r"tenant_[1-9][0-9]*", schema)
    role = role_name("anima_db", tenant_id)
    assert role == f"anima_db_tenant_{tenant_id}"
    assert role.endswith(schema)


@pytest.mark.parametrize("bad", [0, -1, -(2**40), True, False, 1.0, 2.5, "1", "1; DROP SCHEMA x", None, b"1"])
def test_schema_and_role_names_refuse_anything_but_positive_ints(bad: object) -> None:
    with pytest.raises(ValueError):
        schema_name(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        role_name("anima", bad)  # type: ignore[arg-type]


@FAST
@given(st.integers(max_value=0))
def test_non_positive_ids_never_name_a_schema(tenant_id: int) -> None:
    with pytest.raises(ValueError):
        schema_name(tenant_id)
