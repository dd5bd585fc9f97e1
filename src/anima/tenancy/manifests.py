"""Declarative tenant manifests: one TOML file per tenant in a directory (``tenants/``).

A manifest::

    slug = "serenity"
    name = "Serenity Therapy"
    tier = "PRO"
    owner_email = "owner@serenity.example"

    [demo]                      # optional; used only by `anima demo`
    owner_name = "Dr. Ana Ruiz"
    owner_password = "…"
    playbooks = ["escudo-de-seguridad"]          # marketplace keys to install

    [[demo.staff]]              # more members, each with a login
    email = "leo@serenity.example"
    name = "Leo Marín"
    role = "THERAPIST"          # or ASSISTANT (or OWNER)
    password = "…"

    [[demo.services]]           # the fields of the services API (POST …/services)
    name = "Individual session"
    kind = "ONE_ON_ONE"
    scheduling = "CALENDAR"
    duration_minutes = 50
    price_minor = 6500
    currency = "EUR"
    location = "IN_PERSON"

    [[demo.patients]]           # first_name, last_name, stage (a journey stage key), tags, language,
    first_name = "Clara"        # therapist (a staff email: assigned), ai_consent, analysis (run the
    stage = "active"            # observatory once, as the therapist), notes (the non-clinical profile)
    therapist = "leo@serenity.example"

    [[demo.patients.journal]]   # written by `author` (a staff email; default the therapist)
    text = "First session …"
    signed = true
    amended = "Correction …"    # an amendment of the signed entry (amend_reason optional)

:func:`load_manifests` checks the demo data against the API's own request schemas, so a bad value
names its file and field and nothing is applied. The demo data is applied by
:func:`anima.tenancy.demo.apply_demo_data` through the domain services, idempotently.

:func:`apply_manifests` reconciles: a tenant that does not exist is provisioned and its owner
either joined (an existing account) or invited by email (a new one — or, in demo mode, created
with the demo password); a tenant whose name or tier differ is updated; nothing is ever deleted.
``blueprint.toml`` in the same directory is the blueprint, not a manifest.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa

from anima.db.engine import Database
from anima.identity.members import invite
from anima.tenancy import registry
from anima.tenancy.scope import ScopedTenant
from anima.identity.models import Membership, Role, User
from anima.identity.passwords import hash_password
from anima.identity.schemas import EMAIL_PATTERN, DisplayName, RoleName
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


class DemoStaff(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A demo member with a login."""

    email: Annotated[str, msgspec.Meta(max_length=254, pattern=EMAIL_PATTERN)]
    name: DisplayName
    role: RoleName
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=128)]


class DemoEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A journal note of a demo patient: its text, whether signed, and an amendment's text."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
    author: str | None = None
    kind: Literal["note", "form_submission"] = "note"
    visibility: Literal["private", "shared"] = "shared"
    signed: bool = False
    amended: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)] | None = None
    amend_reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)] = "Correction after review"
    days_ago: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 0


class DemoPatient(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A demo patient: who, where in the journey, their therapist, notes and journal."""

    first_name: str
    last_name: str = ""
    stage: str | None = None
    language: str | None = None
    tags: list[str] = []
    therapist: str | None = None
    notes: str = ""
    ai_consent: bool = False
    analysis: bool = False
    journal: list[DemoEntry] = []


class DemoLead(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A demo lead: who (the email makes re-runs idempotent), from where, where in the pipeline,
    and how many days ago it arrived (``days_ago`` over 7 makes a ghost on the board)."""

    first_name: str
    email: str
    last_name: str = ""
    phone: str | None = None
    language: str | None = None
    source: Literal["PUBLIC_FORM", "BOOKING", "MANUAL", "REFERRAL", "AD", "SOCIAL", "OTHER"] = "MANUAL"
    stage: Literal["NEW", "CONTACTED", "QUALIFIED", "LOST"] = "NEW"
    lost_reason: str | None = None
    notes: str = ""
    days_ago: Annotated[int, msgspec.Meta(ge=0, le=365)] = 0


class DemoIntake(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A submission of the public intake; with ``lead`` it is captured as a lead (source PUBLIC_FORM)."""

    first_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    email: Annotated[str, msgspec.Meta(max_length=254, pattern=EMAIL_PATTERN)]
    last_name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    lead: bool = False


class DemoMeasure(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A PHQ-9 series for a demo patient (``patient`` is "First Last"): one submission per level,
    every item but item 9 answered at that level (0–3), ``every_days`` apart, the last one today."""

    patient: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    levels: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=3)]], msgspec.Meta(min_length=1, max_length=12)]
    every_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 14


class DemoForms(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The demo's forms: the system intake with its public link switched on, in ``intake_language``;
    submissions of it; PHQ-9 series."""

    intake_language: Literal["en", "es", "ca", "it"] = "en"
    intake: list[DemoIntake] = []
    phq9: list[DemoMeasure] = []


class DemoData(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The believable practice `anima demo` fills a tenant with (see the module docstring)."""

    owner_name: str | None = None
    owner_password: str | None = None
    staff: list[DemoStaff] = []
    services: list[dict[str, Any]] = []
    patients: list[DemoPatient] = []
    leads: list[DemoLead] = []
    playbooks: list[str] = []
    forms: DemoForms | None = None


@dataclass(frozen=True)
class Manifest:
    path: Path
    slug: str
    name: str
    tier: str
    owner_email: str
    demo_owner_name: str | None = None
    demo_owner_password: str | None = None
    demo: DemoData | None = None

    def demo_logins(self) -> list[tuple[str, str, str]]:
        """(role, email, password) of every demo login of this tenant: the owner first."""
        out = [("OWNER", self.owner_email, self.demo_owner_password)] if self.demo_owner_password else []
        for member in self.demo.staff if self.demo else []:
            out.append((member.role, member.email, member.password))
        return out


def _demo(path: Path, data: Any, owner_email: str) -> DemoData | None:
    """The ``[demo]`` table as :class:`DemoData`, its services and patients checked by the API's schemas."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ManifestError(f"{path.name}: 'demo' must be a table")
    try:
        demo = msgspec.convert(data, DemoData)
    except msgspec.ValidationError as exc:
        raise ManifestError(f"{path.name}: demo: {exc}") from None
    from anima.domains.catalog.schemas import ServiceCreate  # the API's schemas: one set of rules
    from anima.domains.journal.schemas import AmendmentCreate
    from anima.domains.patients.schemas import PatientCreate

    staff = {owner_email, *(m.email.lower() for m in demo.staff)}
    for index, service in enumerate(demo.services):
        try:
            msgspec.convert({k: v for k, v in service.items() if k != "therapists"}, ServiceCreate)
        except msgspec.ValidationError as exc:
            raise ManifestError(f"{path.name}: demo.services[{index}]: {exc}") from None
    for index, patient in enumerate(demo.patients):
        where = f"{path.name}: demo.patients[{index}]"
        try:
            msgspec.convert(
                {"first_name": patient.first_name, "last_name": patient.last_name, "journey_stage": patient.stage,
                 "language": patient.language, "tags": patient.tags}, PatientCreate,
            )
            for entry in patient.journal:
                if entry.amended is not None:
                    msgspec.convert({"reason": entry.amend_reason, "html": entry.amended}, AmendmentCreate)
        except msgspec.ValidationError as exc:
            raise ManifestError(f"{where}: {exc}") from None
        for email in [patient.therapist, *(e.author for e in patient.journal)]:
            if email is not None and email.lower() not in staff:
                raise ManifestError(f"{where}: {email!r} is not the owner or a demo staff member")
        if any(e.author is None for e in patient.journal) and patient.therapist is None:
            raise ManifestError(f"{where}: a journal entry needs an author (or the patient a therapist)")
        if any(e.amended is not None and not e.signed for e in patient.journal):
            raise ManifestError(f"{where}: only a signed entry can be amended (set signed = true)")
    if len({(p.first_name, p.last_name) for p in demo.patients}) != len(demo.patients):
        raise ManifestError(f"{path.name}: demo.patients: two patients share a name (names make re-runs idempotent)")
    names = {f"{p.first_name} {p.last_name}".strip() for p in demo.patients}
    for i, series in enumerate(demo.forms.phq9 if demo.forms else []):
        if series.patient not in names:
            raise ManifestError(f"{path.name}: demo.forms.phq9[{i}].patient: {series.patient!r} is not a demo patient")
    if len({s.get("name") for s in demo.services}) != len(demo.services):
        raise ManifestError(f"{path.name}: demo.services: two services share a name")
    return demo


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
        demo_data = _demo(path, data.get("demo"), data["owner_email"].strip().lower())
        manifests.append(
            Manifest(
                path=path,
                slug=data["slug"],
                name=data["name"].strip()[:200],
                tier=data["tier"],
                owner_email=data["owner_email"].strip().lower(),
                demo_owner_name=demo_data.owner_name if demo_data else None,
                demo_owner_password=demo_data.owner_password if demo_data else None,
                demo=demo_data,
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
