"""Access tokens (JWT) and opaque refresh tokens.

Access tokens are JWTs signed with HS256 under ``ANIMA_SECRET_KEY`` (the only algorithm accepted:
"none" and asymmetric confusion are refused), with ``iss``, ``aud``, ``exp``, ``iat``, ``jti``, the
user (``sub``), the auth session (``sid``) and ``typ = "access"``. They live 10 minutes. Every
tenant request also checks that the session is live, so logout ends access at once.

Refresh tokens are 256-bit random strings; only their SHA-256 is stored (anima.identity.models).
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
ISSUER = "anima"
AUDIENCE = "anima-api"
ACCESS_TTL = datetime.timedelta(minutes=10)
REFRESH_IDLE_TTL = datetime.timedelta(minutes=30)
SESSION_ABSOLUTE_TTL = datetime.timedelta(hours=12)


class InvalidToken(Exception):
    """The token is malformed, forged, expired, of the wrong type or audience."""


@dataclass(frozen=True)
class AccessClaims:
    """What a valid access token says: the user, the auth session, operator flag, expiry."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    is_operator: bool
    expires_at: datetime.datetime


def issue_access_token(
    secret: str, *, user_id: uuid.UUID, session_id: uuid.UUID, is_operator: bool, now: datetime.datetime | None = None
) -> tuple[str, datetime.datetime]:
    """Sign an access token; returns it and its expiry."""
    now = now or datetime.datetime.now(datetime.UTC)
    expires = now + ACCESS_TTL
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "sid": str(session_id),
        "op": bool(is_operator),
        "typ": "access",
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()) - 5,
        "exp": int(expires.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM, headers={"typ": "JWT"}), expires


def decode_access_token(secret: str, token: str) -> AccessClaims:
    """Verify signature (HS256 only), issuer, audience, expiry and type; raise :class:`InvalidToken`."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "typ", "aud", "iss"]},
            leeway=5,
        )
        if payload.get("typ") != "access":
            raise InvalidToken("not an access token")
        return AccessClaims(
            user_id=uuid.UUID(payload["sub"]),
            session_id=uuid.UUID(payload["sid"]),
            is_operator=bool(payload.get("op", False)),
            expires_at=datetime.datetime.fromtimestamp(payload["exp"], datetime.UTC),
        )
    except InvalidToken:
        raise
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


def new_opaque_token() -> tuple[str, str]:
    """A new random token (URL-safe, 43 characters) and its SHA-256 hex digest."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
