"""Declarative tenant manifests: one TOML file per tenant in a directory (``tenants/``).

A manifest::

    slug = "serenity"
    name = "Serenity Therapy"
    tier = "PRO"
    owner_email = "owner@serenity.example"

    [demo]                      # optional; used only by `anima demo`
    owner_name = "Dr. Ana Ruiz"
    owner_password = "…"

:func:`apply_manifests` reconciles: a tenant that does not exist is provisioned and its owner
either joined (an existing account) or invited by email (a new one — or, in demo mode, created
with the demo password); a tenant whose name or tier differ is updated; nothing is ever deleted.
``blueprint.toml`` in the same directory is the blueprint, not a manifest.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from anima.db.engine import Database
from anima.identity.members import invite
from anima.tenancy import registry
from anima.tenancy.scope import ScopedTenant
from anima.identity.models import Membership, Role, User
from anima.identity.passwords import hash_password
from anima.identity.schemas import EMAIL_PATTERN
from anima.tenancy.models import Tier
from anima.tenancy.naming import InvalidSlug, validate_slug
from anima.tenancy.provisioning import (
    TenantRef,
    provision_tenant,
    record_event,
    sync_staff,
)

import re

_EMAIL_RE = re.compile(EMAIL_PATTERN)


class ManifestError(ValueError):
    """A manifest file is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Manifest:
    path: Path
    slug: str
    name: str
    tier: str
    owner_email: str
    demo_owner_name: str | None = None
    demo_owner_password: str | None = None


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def load_manifests(directory: Path) -> list[Manifest]:
    """Parse and validate every ``*.toml`` in ``directory`` except ``blueprint.toml``.

    Raises:
        ManifestError: naming the file and the problem; nothing is applied if any file is bad.
    """
    if not directory.is_dir():
        raise ManifestError(f"{directory} is not a directory")
    manifests: list[Manifest] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.toml")):
        if path.name == "blueprint.toml":
            continue
        try:
            data = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{path.name}: not valid TOML ({exc})") from None
        for key in ("slug", "name", "tier", "owner_email"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise ManifestError(f"{path.name}: '{key}' is required and must be a string")
        try:
            validate_slug(data["slug"])
        except InvalidSlug as exc:
            raise ManifestError(f"{path.name}: slug {exc.rule}") from None
        if data["tier"] not in Tier.__members__:
            raise ManifestError(f"{path.name}: tier must be one of BUILDER, PRO, CENTER")
        if not _EMAIL_RE.fullmatch(data["owner_email"]) or len(data["owner_email"]) > 254:
            raise ManifestError(f"{path.name}: owner_email is not a valid email address")
        if data["slug"] in seen:
            raise ManifestError(f"{path.name}: slug {data['slug']!r} also declared in {seen[data['slug']].name}")
        seen[data["slug"]] = path
        demo = data.get("demo", {}) if isinstance(data.get("demo"), dict) else {}
        manifests.append(
            Manifest(
                path=path,
                slug=data["slug"],
                name=data["name"].strip()[:200],
                tier=data["tier"],
                owner_email=data["owner_email"].strip().lower(),
                demo_owner_name=demo.get("owner_name"),
                demo_owner_password=demo.get("owner_password"),
            )
        )
    return manifests


async def _ensure_owner(db: Database, manifest: Manifest, ref: TenantRef, *, demo: bool, public_url: str) -> None:
    async with db.sessionmaker()() as session:
        user = (await session.execute(sa.select(User).where(User.email == manifest.owner_email))).scalar_one_or_none()
        if user is None and demo and manifest.demo_owner_password:
            user = User(
                email=manifest.owner_email,
                password_hash=hash_password(manifest.demo_owner_password),
                display_name=manifest.demo_owner_name or manifest.owner_email.split("@")[0],
            )
            session.add(user)
            await session.flush()
        if user is None:
            await invite(
                session,
                ScopedTenant(ref.id, ref.slug, manifest.name, "active", manifest.tier),
                email=manifest.owner_email,
                role=Role.OWNER.value,
                invited_by=None,  # type: ignore[arg-type]
                public_url=public_url,
                log_link=demo,
            )
        else:
            exists = (
                await session.execute(
                    sa.select(Membership.id).where(Membership.tenant_id == ref.id, Membership.user_id == user.id)
                )
            ).first()
            if exists is None:
                session.add(Membership(tenant_id=ref.id, user_id=user.id, role=Role.OWNER.value))
        await session.commit()
    async with db.admin.begin() as conn:
        await sync_staff(conn, ref)


async def apply_manifests(
    db: Database, directory: Path, *, actor: str, demo: bool = False, public_url: str = "http://127.0.0.1:8000"
) -> ApplyReport:
    """Reconcile the tenants with the manifests in ``directory``; see the module docstring."""
    manifests = load_manifests(directory)
    report = ApplyReport()
    for manifest in manifests:
        async with db.admin.connect() as conn:
            row = await registry.by_slug(conn, manifest.slug)
        if row is None or row.state == "provisioning":
            ref = await provision_tenant(
                db, slug=manifest.slug, name=manifest.name, tier=manifest.tier, owner_email=manifest.owner_email, actor=actor
            )
            await _ensure_owner(db, manifest, ref, demo=demo, public_url=public_url)
            report.created.append(manifest.slug)
            continue
        changes = {}
        if row.name != manifest.name:
            changes["name"] = manifest.name
        if row.tier != manifest.tier:
            changes["tier"] = manifest.tier
        if changes:
            async with db.admin.begin() as conn:
                await registry.update(conn, row.id, **changes, updated_at=sa.func.now())
                await record_event(conn, row.id, "manifest-applied", actor, None, changes=changes, file=manifest.path.name)
            report.updated.append(manifest.slug)
        else:
            report.unchanged.append(manifest.slug)
    return report
