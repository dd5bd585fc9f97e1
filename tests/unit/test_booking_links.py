"""Manage-by-link tokens: every booking's token opens that booking in that organization only, and
any change to a token (a character, the organization, the key) opens nothing (property-based)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from anima.domains.bookings import links

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SECRET = "k" * 48


@given(st.uuids(), st.integers(min_value=1, max_value=2**31), st.integers(min_value=0, max_value=53), st.sampled_from(ALPHABET))
def test_a_token_round_trips_and_any_changed_character_fails(booking_id: uuid.UUID, tenant_id: int, position: int, char: str):
    token = links.manage_token(SECRET, tenant_id, booking_id)
    assert links.TOKEN_SHAPE.fullmatch(token)
    assert links.booking_of(SECRET, tenant_id, token) == booking_id
    changed = token[:position] + char + token[position + 1:]
    if changed != token:
        assert links.booking_of(SECRET, tenant_id, changed) is None


@given(st.uuids(), st.integers(min_value=1, max_value=2**31), st.integers(min_value=1, max_value=2**31))
def test_a_token_opens_nothing_in_another_organization_or_under_another_key(booking_id: uuid.UUID, tenant_id: int, other: int):
    token = links.manage_token(SECRET, tenant_id, booking_id)
    if other != tenant_id:
        assert links.booking_of(SECRET, other, token) is None
    assert links.booking_of(SECRET + "x", tenant_id, token) is None


@given(st.text(max_size=80))
def test_any_text_is_refused_or_opens_a_signed_booking(text: str):
    assert links.booking_of(SECRET, 1, text) is None
