"""A manifest's demo data, applied through the domain services: a believable practice, idempotently.

`anima demo` calls :func:`apply_demo_data` for every manifest with a ``[demo]`` table (the format
is described in :mod:`anima.tenancy.manifests`). Everything goes through the services the API
uses — members (with the seat limit), services, patients, leads, journal entries, signing, amendments,
AI consent, the risk screening (which raises the alerts), the observatory and the playbook
marketplace — inside transactions entered like a request's
(:func:`anima.jobs.runner.tenant_transaction`), never through raw SQL. A re-run adds only what is
missing: members by email, services by name, patients by name (a patient that exists keeps its
journal untouched), leads by email, playbooks by key, weekly hours only for therapists who have
none (so the demo's calendar services show free slots at once).
"""

from __future__ import annotations

import datetime
import html
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.ai.jobs import run_patient_analysis, screen_entry
from anima.billing.limits import ensure_seat_available
from anima.domains.audit.services import Actor
from anima.domains.automations import services as playbooks
from anima.domains.bookings import availability
from anima.domains.bookings.schemas import RuleCreate
from anima.domains.catalog import services as catalog
from anima.domains.catalog.schemas import ServiceCreate
from anima.domains.forms import services as forms
from anima.domains.forms.fill_page import capture_lead
from anima.domains.forms.models import FormSubmission
from anima.domains.journal import services as journal
from anima.domains.journal.schemas import AmendmentCreate, EntryCreate
from anima.domains.leads import services as leads
from anima.domains.leads.models import Lead
from anima.domains.patients import consent
from anima.domains.patients import services as patients
from anima.domains.patients.models import Patient
from anima.domains.patients.schemas import ConsentUpdate, PatientCreate
from anima.domains.patients.visibility import viewer_for
from anima.identity.models import Membership, User
from anima.identity.passwords import hash_password
from anima.jobs.runner import tenant_transaction
from anima.logs import get_logger
from anima.problems import Problem
from anima.runtime import Runtime
from anima.tenancy import demo_money, registry
from anima.tenancy.manifests import DemoEntry, DemoForms, DemoLead, DemoPatient, Manifest
from anima.tenancy.provisioning import TenantRef, sync_staff

import msgspec

log = get_logger(__name__)

#: the request id the demo's audit lines carry
DEMO_REQUEST = "anima-demo"


@dataclass
class DemoReport:
    """What one run added to one tenant (all zero on a re-run)."""

    slug: str
    members: int = 0
    services: int = 0
    #: therapists given the demo's weekly hours (bookable at once)
    hours: int = 0
    patients: int = 0
    leads: int = 0
    entries: int = 0
    analyses: int = 0
    playbooks: int = 0
    #: form submissions (public intake and PHQ-9 series)
    submissions: int = 0
    #: packages, package sales and invoices (:mod:`anima.tenancy.demo_money`)
    packages: int = 0
    sales: int = 0
    invoices: int = 0
    skipped: list[str] = field(default_factory=list)


async def _members(runtime: Runtime, manifest: Manifest, tenant_id: int, report: DemoReport) -> dict[str, tuple[uuid.UUID, str]]:
    """Create the demo staff's accounts and memberships (seat limit checked); email -> (user id, role)."""
    assert manifest.demo is not None
    async with runtime.sessionmaker() as session:
        for member in manifest.demo.staff:
            email = member.email.strip().lower()
            user = (await session.execute(sa.select(User).where(User.email == email))).scalar_one_or_none()
            if user is None:
                user = User(email=email, password_hash=hash_password(member.password), display_name=member.name)
                session.add(user)
                await session.flush()
            joined = (await session.execute(
                sa.select(Membership.id).where(Membership.tenant_id == tenant_id, Membership.user_id == user.id)
            )).first()
            if joined is None:
                await ensure_seat_available(session, tenant_id, include_pending=False)
                session.add(Membership(tenant_id=tenant_id, user_id=user.id, role=member.role))
                await session.flush()
                report.members += 1
        rows = (await session.execute(
            sa.select(User.email, User.id, Membership.role).join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id)
        )).all()
        await session.commit()
    return {r.email: (r.id, r.role) for r in rows}


async def _practice(runtime: Runtime, manifest: Manifest, tenant_id: int, staff: dict[str, tuple[uuid.UUID, str]], report: DemoReport) -> None:
    """Services (by name) and playbooks (by key), as the owner."""
    assert manifest.demo is not None
    owner_id = staff[manifest.owner_email][0]
    async with runtime.sessionmaker() as platform:
        async with tenant_transaction(runtime, tenant_id) as tx:
            existing, _ = await catalog.list_services(tx.session, limit=200, offset=0, visible_to=None, active=None, kind=None, search=None)
            names = {s.name for s in existing}
            for spec in manifest.demo.services:
                if spec["name"] in names:
                    continue
                therapists = [staff[e.lower()][0] for e in spec.get("therapists", []) if e.lower() in staff]
                body = msgspec.convert({**{k: v for k, v in spec.items() if k != "therapists"}, "therapist_ids": therapists}, ServiceCreate)
                await catalog.create_service(tx.session, body, tenant_id=tenant_id, tier=tx.tenant.tier)
                report.services += 1
            report.hours += await _weekly_hours(tx.session)
            installed = await playbooks.installed(tx.session)
            for key in manifest.demo.playbooks:
                if key in installed:
                    continue
                try:
                    await playbooks.install(platform, tx.session, key=key, tier=tx.tenant.tier, user_id=owner_id)
                except Problem as problem:  # a playbook the plan lacks: said, not fatal
                    report.skipped.append(f"playbook {key}: {problem.detail}")
                    continue
                report.playbooks += 1
        await platform.rollback()


#: the demo's weekly hours, local to each therapist: Monday to Friday, mornings and afternoons
DEMO_HOURS = (("09:00", "13:00"), ("15:00", "19:00"))


async def _weekly_hours(session: AsyncSession) -> int:
    """Give every therapist of an active CALENDAR service who has no weekly hours yet the demo's
    (:data:`DEMO_HOURS`, Monday to Friday), through the bookings' service; returns how many."""
    services, _ = await catalog.list_services(session, limit=200, offset=0, visible_to=None, active=True, kind=None, search=None)
    therapists = sorted({t.id for s in services if s.scheduling == "CALENDAR" for t in s.therapists})
    given = 0
    for therapist_id in therapists:
        if await availability.list_rules(session, therapist_id):
            continue
        for weekday in range(5):
            for start, end in DEMO_HOURS:
                await availability.add_rule(session, RuleCreate(therapist_id=therapist_id, weekday=weekday, start_time=start, end_time=end))
        given += 1
    return given


def _entry_body(entry: DemoEntry) -> EntryCreate:
    occurred = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=entry.days_ago, hours=1)
    if entry.kind == "form_submission":
        return EntryCreate(kind="form_submission", visibility=entry.visibility, data={"answer": entry.text}, occurred_at=occurred)
    paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>" for p in entry.text.split("\n\n") if p.strip())
    return EntryCreate(kind="note", visibility=entry.visibility, html=paragraphs, occurred_at=occurred)


async def _patient(
    runtime: Runtime, manifest: Manifest, tenant_id: int, spec: DemoPatient,
    staff: dict[str, tuple[uuid.UUID, str]], report: DemoReport,
) -> None:
    """One patient with their journal, in one transaction; then the observatory when asked for."""
    owner_id = staff[manifest.owner_email][0]
    therapist = staff[spec.therapist.lower()] if spec.therapist else None
    async with tenant_transaction(runtime, tenant_id) as tx:
        session, cipher = tx.session, tx.cipher
        exists = (await session.execute(
            sa.select(Patient.id).where(Patient.first_name == spec.first_name, Patient.last_name == spec.last_name)
        )).first()
        if exists is not None:
            return
        owner = await viewer_for(session, owner_id, "OWNER")
        owner_actor = Actor(owner_id, "OWNER", DEMO_REQUEST, None)
        body = PatientCreate(
            first_name=spec.first_name, last_name=spec.last_name, journey_stage=spec.stage, language=spec.language,
            tags=list(spec.tags), profile={"notes": spec.notes} if spec.notes else {},
            therapist_ids=[therapist[0]] if therapist and therapist[1] == "THERAPIST" else [],
        )
        patient = await patients.create_patient(session, cipher, owner, owner_actor, body, tenant_id=tenant_id, tier=tx.tenant.tier)
        report.patients += 1
        if spec.ai_consent:
            await consent.set_consent(session, owner, owner_actor, patient.id, ConsentUpdate(given=True, method="written"))
        for entry in spec.journal:
            author_email = (entry.author or spec.therapist or manifest.owner_email).lower()
            author_id, role = staff[author_email]
            viewer = await viewer_for(session, author_id, role)
            actor = Actor(author_id, role, DEMO_REQUEST, None)
            body = _entry_body(entry)
            if body.kind == "form_submission":
                # a submitted form is written by the forms' path only (the journal API refuses it by hand)
                written = await journal.record_form_submission(
                    session, cipher, actor, patient_id=patient.id, author_id=author_id, data=body.data or {}, occurred_at=body.occurred_at,
                )
            else:
                written = await journal.create_entry(session, cipher, viewer, actor, patient.id, body)
            if entry.signed:
                await journal.sign_entry(session, cipher, viewer, actor, patient.id, written.id)
            if entry.amended is not None:
                amendment = AmendmentCreate(reason=entry.amend_reason, html=f"<p>{html.escape(entry.amended)}</p>")
                await journal.amend_entry(session, cipher, viewer, actor, patient.id, written.id, amendment)
            # the screening the worker also runs (at least once): a HIGH risk alerts the care team now
            await screen_entry(session, cipher, written.id, job_id=DEMO_REQUEST)
            report.entries += 1
        patient_id = patient.id
    if spec.analysis and spec.ai_consent:
        requester = therapist[0] if therapist else owner_id
        try:
            await run_patient_analysis(runtime, tenant_id=tenant_id, patient_id=patient_id, requested_by=requester, request_id=DEMO_REQUEST)
            report.analyses += 1
        except Problem as problem:
            report.skipped.append(f"analysis of {spec.first_name}: {problem.detail}")


async def _lead(
    runtime: Runtime, manifest: Manifest, tenant_id: int, spec: DemoLead, staff: dict[str, tuple[uuid.UUID, str]],
    report: DemoReport,
) -> None:
    """One lead captured and moved through the leads' services, in one transaction (skipped when a
    lead with its email exists)."""
    owner_id = staff[manifest.owner_email][0]
    async with tenant_transaction(runtime, tenant_id) as tx:
        session, cipher = tx.session, tx.cipher
        index = await cipher.blind_index("email", spec.email)
        if (await session.execute(sa.select(Lead.id).where(Lead.email_bidx == index))).first() is not None:
            return
        actor = Actor(owner_id, "OWNER", DEMO_REQUEST, None)
        arrived = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=spec.days_ago)
        lead = await leads.capture(
            session, cipher, first_name=spec.first_name, last_name=spec.last_name, email=spec.email, phone=spec.phone,
            language=spec.language, source=spec.source, notes=spec.notes or None, actor=actor, created_at=arrived,
        )
        if spec.stage != "NEW":
            await leads.move(session, cipher, actor, lead.id, spec.stage, reason=spec.lost_reason)
        report.leads += 1


async def _forms(
    runtime: Runtime, manifest: Manifest, tenant_id: int, spec: DemoForms, staff: dict[str, tuple[uuid.UUID, str]],
    report: DemoReport,
) -> None:
    """The system intake with its public link on, its demo submissions (a lead captured where asked,
    as the public fill page does) and the PHQ-9 series, through the forms' services, in one
    transaction. Idempotent: the link is switched on only when off, the intake submissions are made
    only when the intake has none, a series only for a patient without PHQ-9 results."""
    owner_id = staff[manifest.owner_email][0]
    actor = Actor(owner_id, "OWNER", DEMO_REQUEST, None)
    async with tenant_transaction(runtime, tenant_id) as tx:
        session, cipher = tx.session, tx.cipher
        intake = await forms.ensure_system_form(session, actor, "intake", spec.intake_language)
        if intake.public_token is None:
            await forms.enable_public_link(session, actor, intake.id)
        has_any = (await session.execute(sa.select(FormSubmission.id).where(FormSubmission.form_id == intake.id).limit(1))).first()
        if has_any is None:
            for person in spec.intake:
                target = await forms.open_link(session, intake.public_token or "")
                answers = {"first_name": person.first_name, "last_name": person.last_name, "email": person.email,
                           "reason": person.reason}
                result = await forms.submit(session, cipher, target, {k: v for k, v in answers.items() if v}, actor=actor)
                if person.lead:
                    await capture_lead(session, cipher, result, actor)
                report.submissions += 1
        if spec.phq9:
            phq9 = await forms.ensure_system_form(session, actor, "phq9", spec.intake_language)
        for series in spec.phq9:
            patient = next((p for p in (await session.execute(sa.select(Patient))).scalars()
                            if f"{p.first_name} {p.last_name}".strip() == series.patient), None)
            if patient is None or await forms.measure_series(session, cipher, patient.id, "phq9"):
                continue
            today = datetime.datetime.now(datetime.UTC)
            for i, level in enumerate(series.levels):
                made = await forms.assign(
                    session, cipher, actor, form=phq9, patient=patient, org_slug=manifest.slug, org_name=manifest.name,
                    public_url=runtime.settings.public_url,
                )
                target = await forms.open_link(session, made.token)
                answers = {f"item_{n}": str(level if n < 9 else 0) for n in range(1, 10)}
                when = today - datetime.timedelta(days=series.every_days * (len(series.levels) - 1 - i))
                await forms.submit(session, cipher, target, answers, actor=actor, submitted_at=when)
                report.submissions += 1


async def apply_demo_data(runtime: Runtime, manifest: Manifest) -> DemoReport:
    """Fill the manifest's tenant with its demo data (see the module docstring); safe to run again.

    The tenant must exist and be active (a suspended one is left alone and reported as skipped).
    """
    report = DemoReport(manifest.slug)
    if manifest.demo is None:
        return report
    async with runtime.db.admin.connect() as conn:
        row = await registry.by_slug(conn, manifest.slug)
    if row is None or row.state != "active":
        report.skipped.append(f"tenant {manifest.slug} is not active")
        return report
    staff = await _members(runtime, manifest, row.id, report)
    if report.members:
        async with runtime.db.admin.begin() as conn:
            await sync_staff(conn, TenantRef(row.id, row.slug, row.schema_name, row.db_role, row.state))
    if manifest.owner_email not in staff:
        report.skipped.append(f"the owner {manifest.owner_email} has not joined yet")
        return report
    await _practice(runtime, manifest, row.id, staff, report)
    for spec in manifest.demo.patients:
        await _patient(runtime, manifest, row.id, spec, staff, report)
    for lead_spec in manifest.demo.leads:
        await _lead(runtime, manifest, row.id, lead_spec, staff, report)
    if manifest.demo.forms is not None:
        await _forms(runtime, manifest, row.id, manifest.demo.forms, staff, report)
    await demo_money.apply(runtime, row.id, staff[manifest.owner_email][0],
                           sorted((p.first_name, p.last_name) for p in manifest.demo.patients), report)
    log.info("demo data applied", tenant=manifest.slug, **{k: v for k, v in vars(report).items() if isinstance(v, int)})
    return report
