"""Access tokens (src/anima/identity/tokens.py): HS256 only, iss/aud/typ/sid required, expiry enforced."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import uuid
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anima.identity.tokens import (
    ACCESS_TTL,
    AUDIENCE,
    ISSUER,
    InvalidToken,
    decode_access_token,
    hash_token,
    issue_access_token,
    new_opaque_token,
)

SECRET = "unit-test-secret-" + "k" * 32
OTHER_SECRET = "another-secret-" + "q" * 32


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def valid_payload(**overrides: Any) -> dict[str, Any]:
    now = int(datetime.datetime.now(datetime.UTC).timestamp())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "op": False,
        "typ": "access",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def hand_signed(header: dict[str, Any], payload: dict[str, Any], secret: str = SECRET, digest: Any = hashlib.sha256) -> str:
    """A token built by hand: any header, HMAC signature under ``secret``."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def test_round_trip() -> None:
    user, session = uuid.uuid4(), uuid.uuid4()
    token, expires = issue_access_token(SECRET, user_id=user, session_id=session, is_operator=True)
    claims = decode_access_token(SECRET, token)
    assert claims.user_id == user
    assert claims.session_id == session
    assert claims.is_operator is True
    assert claims.expires_at == expires.replace(microsecond=0)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_lifetime_is_ten_minutes() -> None:
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    _, expires = issue_access_token(SECRET, user_id=uuid.uuid4(), session_id=uuid.uuid4(), is_operator=False, now=now)
    assert expires - now == ACCESS_TTL == datetime.timedelta(minutes=10)


def test_expired_token_is_refused() -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    token, _ = issue_access_token(SECRET, user_id=uuid.uuid4(), session_id=uuid.uuid4(), is_operator=False, now=past)
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, token)


def test_just_expired_beyond_leeway_is_refused() -> None:
    past = datetime.datetime.now(datetime.UTC) - ACCESS_TTL - datetime.timedelta(seconds=30)
    token, _ = issue_access_token(SECRET, user_id=uuid.uuid4(), session_id=uuid.uuid4(), is_operator=False, now=past)
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, token)


def test_token_from_the_future_is_refused() -> None:
    future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    token, _ = issue_access_token(SECRET, user_id=uuid.uuid4(), session_id=uuid.uuid4(), is_operator=False, now=future)
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, token)


def test_wrong_secret_is_refused() -> None:
    token, _ = issue_access_token(OTHER_SECRET, user_id=uuid.uuid4(), session_id=uuid.uuid4(), is_operator=False)
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, token)


def test_alg_none_is_refused() -> None:
    payload = valid_payload()
    unsigned = f"{b64url(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64url(json.dumps(payload).encode())}."
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, unsigned)
    for alg in ("None", "NONE", "nOnE"):
        variant = f"{b64url(json.dumps({'alg': alg}).encode())}.{b64url(json.dumps(payload).encode())}."
        with pytest.raises(InvalidToken):
            decode_access_token(SECRET, variant)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_hs512_with_the_right_secret_is_refused() -> None:
    token = jwt.encode(valid_payload(), SECRET, algorithm="HS512")
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, token)
    forged = hand_signed({"alg": "HS512", "typ": "JWT"}, valid_payload(), digest=hashlib.sha512)
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, forged)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "EdDSA", "HS384"])
def test_other_algorithm_labels_are_refused_even_with_a_valid_hs256_signature(alg: str) -> None:
    """Algorithm confusion: the header claims another algorithm, the signature is HMAC-SHA256 under the secret."""
    forged = hand_signed({"alg": alg, "typ": "JWT"}, valid_payload())
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, forged)


def test_hand_signed_hs256_control_is_accepted() -> None:
    """Control for the forgery tests: the same construction with alg HS256 is valid."""
    payload = valid_payload()
    claims = decode_access_token(SECRET, hand_signed({"alg": "HS256", "typ": "JWT"}, payload))
    assert str(claims.user_id) == payload["sub"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "someone-else"},
        {"aud": ["other-api"]},
        {"iss": "evil"},
        {"iss": "anima "},
        {"typ": "refresh"},
        {"typ": "ACCESS"},
        {"typ": None},
        {"sid": None},
        {"sub": None},
        {"aud": None},
        {"iss": None},
        {"exp": None},
        {"iat": None},
        {"sid": "not-a-uuid"},
        {"sub": "12345"},
        {"exp": "tomorrow"},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_wrong_or_missing_claims_are_refused(overrides: dict[str, Any]) -> None:
    token = jwt.encode(valid_payload(**overrides), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, token)


def test_tampered_payload_is_refused() -> None:
    token, _ = issue_access_token(SECRET, user_id=uuid.uuid4(), session_id=uuid.uuid4(), is_operator=False)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["op"] = True
    tampered = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, tampered)


def test_tampered_signature_is_refused() -> None:
    token, _ = issue_access_token(SECRET, user_id=uuid.uuid4(), session_id=uuid.uuid4(), is_operator=False)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, f"{header}.{payload}.{flipped}")
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, f"{header}.{payload}.")


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200))
def test_garbage_never_decodes(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SECRET, garbage)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=7))
def test_any_single_bit_flip_is_refused(position: int, bit: int) -> None:
    token, _ = issue_access_token(SECRET, user_id=uuid.uuid4(), session_id=uuid.uuid4(), is_operator=False)
    raw = bytearray(token.encode())
    index = position % len(raw)
    raw[index] ^= 1 << bit
    try:
        mutated = raw.decode()
    except UnicodeDecodeError:
        return
    if mutated == token:
        return
    try:
        decode_access_token(SECRET, mutated)
    except InvalidToken:
        return
    # accepted only if it is the same token: base64url's last character may carry unused bits
    assert segments(mutated) == segments(token)


def segments(token: str) -> list[bytes]:
    return [base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")]


def test_opaque_tokens_are_random_and_only_the_hash_is_kept() -> None:
    token, digest = new_opaque_token()
    other, other_digest = new_opaque_token()
    assert token != other and digest != other_digest
    assert len(token) == 43
    assert digest == hashlib.sha256(token.encode()).hexdigest() == hash_token(token)
    assert token not in digest
