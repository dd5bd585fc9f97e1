"""Signed unsubscribe tokens: they name exactly one (organization, recipient) and cannot be
bent to name another (property-based)."""

from __future__ import annotations

from hypothesis import given, strategies as st

from anima.mail.unsubscribe import TOKEN_SHAPE, headers, make_token, read_token

KEY = "test-secret-key-" + "x" * 32
tenants = st.integers(min_value=1, max_value=2**62)
indexes = st.binary(min_size=32, max_size=32)


@given(tenants, indexes)
def test_a_token_reads_back_as_what_it_names(tenant_id, bidx):
    token = make_token(KEY, tenant_id, bidx)
    assert TOKEN_SHAPE.fullmatch(token)
    named = read_token(KEY, token)
    assert named is not None and (named.tenant_id, named.recipient_bidx) == (tenant_id, bidx)


@given(tenants, indexes, st.data())
def test_any_changed_character_or_another_key_is_refused(tenant_id, bidx, data):
    token = make_token(KEY, tenant_id, bidx)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCabc019-_."))
    changed = token[:position] + replacement + token[position + 1:]
    assert read_token(KEY, changed) is None or changed == token
    assert read_token("another-secret-key-" + "y" * 32, token) is None


@given(tenants, indexes, tenants)
def test_a_token_never_names_another_organization(tenant_id, bidx, other):
    named = read_token(KEY, make_token(KEY, tenant_id, bidx))
    assert named is not None and (named.tenant_id == other) == (tenant_id == other)


@given(st.text(max_size=120))
def test_arbitrary_text_is_never_a_token(text):
    named = read_token(KEY, text)
    assert named is None or make_token(KEY, named.tenant_id, named.recipient_bidx) == text


def test_the_headers_are_rfc_2369_and_rfc_8058():
    token = make_token(KEY, 7, b"\x01" * 32)
    assert headers("https://app.example", token) == (
        ("List-Unsubscribe", f"<https://app.example/api/v1/unsubscribe/{token}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    )
