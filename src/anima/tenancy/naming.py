"""Names the platform derives for a tenant: slug rules, schema name and role name.

A schema or role name is never taken from a request: it is derived from the tenant's numeric id,
which the platform assigns. Slugs are validated here before they reach any query.
"""

from __future__ import annotations

import re

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$"
_SLUG_RE = re.compile(SLUG_PATTERN)

#: slugs that would be confusing or collide with routes and operational names
RESERVED_SLUGS = frozenset(
    {"admin", "api", "app", "auth", "billing", "docs", "health", "login", "logout", "me", "operator",
     "platform", "public", "ready", "root", "schema", "signup", "static", "status", "support", "system",
     "www", "postgres", "template"}
)


class InvalidSlug(ValueError):
    """The slug breaks a rule; ``rule`` names it."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        super().__init__(rule)


def validate_slug(slug: str) -> str:
    """Return ``slug`` if it is a valid organization slug.

    Rules: 3 to 40 characters, lowercase ASCII letters, digits and inner hyphens, no double
    hyphen, not reserved.

    Raises:
        InvalidSlug: naming the rule broken.
    """
    if not isinstance(slug, str) or not _SLUG_RE.fullmatch(slug):
        raise InvalidSlug(
            "must be 3-40 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit"
        )
    if "--" in slug:
        raise InvalidSlug("must not contain two hyphens in a row")
    if slug in RESERVED_SLUGS:
        raise InvalidSlug("is reserved")
    return slug


def schema_name(tenant_id: int) -> str:
    """``tenant_<id>``: the PostgreSQL schema of tenant ``tenant_id`` (a positive integer)."""
    if not isinstance(tenant_id, int) or isinstance(tenant_id, bool) or tenant_id <= 0:
        raise ValueError("tenant id must be a positive integer")
    return f"tenant_{tenant_id}"


def role_name(prefix: str, tenant_id: int) -> str:
    """``<prefix>_tenant_<id>``: the NOLOGIN role owning privileges on that tenant's schema only."""
    return f"{prefix}_{schema_name(tenant_id)}"
