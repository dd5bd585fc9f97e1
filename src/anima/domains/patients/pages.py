"""Pages of the people in care and their Soul Record (``/o/{slug}/people``).

The list (search by name, stage and archive filters, pagination), the form that adds a person,
and the 360° page of one person: risk and block first, details and journey stage, consent to AI
processing, then — for clinical roles only — the clinical profile, the journal (rich-text editor,
signing, amendments: :mod:`anima.domains.journal.pages`) and the AI analyses; for owners the
audit trail, export, archive and erasure.

Every read and write goes through the same service functions and the same ``viewer``, ``actor``
and ``cipher`` the JSON API uses (:mod:`anima.domains.patients.controllers`,
:mod:`anima.domains.journal.controllers`, :mod:`anima.domains.insights.controllers`,
:mod:`anima.domains.audit.controllers`), so a page shows a role exactly what the API lets it read:
an assistant's page is built without ever calling a clinical service. A write that a service
refuses runs in a savepoint (:func:`attempt`), so nothing of it stays when the page is shown
again with the problem beside the field; a refusal that is an audited clinical denial is
re-raised, so the error page answers and the trail records it as for the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import sqlalchemy as sa
from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.denials import denial_of
from anima.domains.audit.services import Actor, patient_trail, record as audit_record
from anima.domains.forms import services as form_services
from anima.domains.forms.chart import Chart, measure_chart
from anima.domains.insights.schemas import AnalysisOut, analysis_out
from anima.domains.journal import services as journal
from anima.domains.journal.schemas import EntryOut
from anima.domains.patients import blocks, consent
from anima.domains.reach import services as reach_services
from anima.domains.reach import sms as reach_sms
from anima.domains.reach.schemas import SmsConsentUpdate
from anima.domains.patients import record as patient_record
from anima.domains.patients import services as rules
from anima.domains.patients.models import DEFAULT_STAGES, Patient
from anima.domains.patients.schemas import (
    BlockLift,
    ClinicalProfile,
    ConsentUpdate,
    PatientCreate,
    PatientUpdate,
    TherapistIds,
)
from anima.domains.patients.visibility import Viewer, get_patient
from anima.domains.staff.models import StaffMember
from anima.http.access import CLINICIANS, EVERY_MEMBER, OWNERS, TenantContext
from anima.http.clinical_audit import CLINICAL
from anima.http.pagination import Page
from anima.http.validation import string_errors
from anima.problems import NotFound, Problem
from anima.runtime import runtime_of
from anima.identity.profile import zone_groups
from anima.web.forms import FormState, parse, read_form
from anima.web.i18n import gettext
from anima.web.problem_text import N_, field_message
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

T = TypeVar("T")

#: the fields of the details form whose empty text clears the value (the API's ``null``)
NULLABLE_DETAILS = ("email", "phone", "birth_date", "language", "time_zone")
#: the default stage labels, translated where the organization kept them
DEFAULT_STAGE_LABELS = dict(DEFAULT_STAGES)
#: one-word confirmations after a successful POST (``?done=``), shown at the top of the page
DONE: dict[str, str] = {
    "created": N_("Added."),
    "details": N_("Details saved."),
    "stage": N_("Journey stage changed."),
    "clinical": N_("Clinical profile saved."),
    "consent": N_("Consent recorded."),
    "sms": N_("SMS consent recorded."),
    "lifted": N_("The block was lifted."),
    "therapists": N_("Assigned therapists saved."),
    "archived": N_("Archived. The record is kept and can be restored."),
    "restored": N_("Restored."),
    "entry": N_("Journal entry saved."),
    "signed": N_("Entry signed. It is now locked; later changes are amendments."),
    "amended": N_("Amendment added."),
    "analysis": N_("Analysis ready."),
    "erased": N_("The record was erased for good."),
}


# -- shared helpers ------------------------------------------------------------------------------


async def attempt(session: AsyncSession, call: Callable[[], Awaitable[T]]) -> tuple[T | None, Problem | None]:
    """Run a service call in a savepoint: ``(result, None)``, or ``(None, problem)`` with nothing kept.

    A problem marked as a clinical denial is re-raised (the error page answers; the trail records it).
    """
    try:
        async with session.begin_nested():
            return await call(), None
    except Problem as problem:
        if denial_of(problem) is not None:
            raise
        return None, problem


async def staff_names(session: AsyncSession, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Display names of the members with these ids (one query)."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = await session.execute(sa.select(StaffMember.id, StaffMember.display_name).where(StaffMember.id.in_(wanted)))
    return {r.id: r.display_name for r in rows}


def stage_options(stages: list[Any], language: str) -> list[tuple[str, str]]:
    """``(key, label)`` of every stage; a default label is shown in the page's language."""
    return [(s.key, stage_label(s.key, s.label, language)) for s in stages]


def stage_label(key: str, label: str, language: str) -> str:
    """The stage's label: the organization's own, or the default one translated."""
    if DEFAULT_STAGE_LABELS.get(key) == label:
        return gettext(language, label)
    return label


#: the default stage labels, marked for translation
_STAGE_WORDS = (N_("Inquiry"), N_("Intake"), N_("In process"), N_("Integration"), N_("Completed"))


def _people_url(ws: Workspace, patient_id: uuid.UUID | None = None, done: str | None = None, anchor: str = "") -> str:
    url = f"{ws.base}/people" + (f"/{patient_id}" if patient_id else "")
    return url + (f"?done={done}" if done else "") + anchor


def _done_message(done: str | None, language: str) -> str | None:
    return gettext(language, DONE[done]) if done in DONE else None


# -- the list ------------------------------------------------------------------------------------

Status = Literal["active", "archived", "all"]
_ARCHIVED: dict[str, bool | None] = {"active": False, "archived": True, "all": None}


@get("/o/{org_slug:str}/people", opt=EVERY_MEMBER, name="people:list")
async def people_list(
    tenant: TenantContext,
    ws: Workspace,
    viewer: Viewer,
    cipher: FieldCipher,
    page: Page,
    q: Annotated[str | None, Parameter(max_length=100)] = None,
    stage: Annotated[str | None, Parameter(max_length=32)] = None,
    status: Status = "active",
    done: Annotated[str | None, Parameter(max_length=20)] = None,
) -> Template:
    """The people the viewer may see, by name; searched and filtered like ``GET …/patients``."""
    ws.active = "people"
    form = FormState(values={"q": q or "", "stage": stage or "", "status": status})
    problems = [*string_errors(q or "", "q"), *string_errors(stage or "", "stage")]
    for error in problems:
        form.errors.setdefault(error["field"], field_message(error["message"], error["rule"], ws.language))
    stages = await rules.stages(tenant.session)
    rows: list[Any] = []
    total = 0
    if not problems:
        patients, total = await rules.list_patients(
            tenant.session, cipher, viewer, limit=page.limit, offset=page.offset,
            search=(q or "").strip() or None, stage=stage or None, archived=_ARCHIVED[status],
        )
        rows = [(await rules.to_summary(cipher, p), p.blocked_at is not None) for p in patients]
    filtered = bool((q or "").strip() or stage or status != "active")
    return render(
        "patients/list.html", language=ws.language, time_zone=ws.time_zone, ws=ws, form=form, rows=rows, total=total,
        page=page, stages=stage_options(stages, ws.language), stage_names=dict(stage_options(stages, ws.language)),
        filtered=filtered, query={"q": (q or "").strip(), "stage": stage or "", "status": status},
        notice=_done_message(done, ws.language), status=400 if problems else 200,
    )


# -- adding a person -----------------------------------------------------------------------------


def _split_tags(value: Any) -> Any:
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    return value


async def _new_form(tenant: TenantContext, ws: Workspace, form: FormState, *, limit: Problem | None = None, status: int = 200) -> Template:
    ws.active = "people"
    stages = await rules.stages(tenant.session)
    return render(
        "patients/new.html", language=ws.language, time_zone=ws.time_zone, ws=ws, form=form,
        stages=stage_options(stages, ws.language), limit=limit.extra if limit is not None else None, status=status,
    )


@get("/o/{org_slug:str}/people/new", opt=EVERY_MEMBER, name="people:new")
async def people_new(tenant: TenantContext, ws: Workspace) -> Template:
    """The form that adds a person in care."""
    return await _new_form(tenant, ws, FormState())


@post("/o/{org_slug:str}/people", opt=EVERY_MEMBER, name="people:create")
async def people_create(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor, cipher: FieldCipher
) -> Template | Redirect:
    """Create through the patients service (the plan's patient limit is checked there)."""
    values = await read_form(request)
    typed = dict(values)
    values["tags"] = _split_tags(values.get("tags", ""))
    body, form = parse(PatientCreate, values, language=ws.language)
    form.values = typed
    if body is None:
        return await _new_form(tenant, ws, form, status=422)
    patient, problem = await attempt(
        tenant.session,
        lambda: rules.create_patient(tenant.session, cipher, viewer, actor, body, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier),
    )
    if problem is not None:
        form.show(problem, ws.language)
        limit = problem if problem.kind == "plan-limit-reached" else None
        return await _new_form(tenant, ws, form, limit=limit, status=problem.status)
    assert patient is not None
    return see_other(request, _people_url(ws, patient.id, "created"))


# -- the 360° page -------------------------------------------------------------------------------


@dataclass
class Forms:
    """The forms of the person's page, each with what was typed and its errors."""

    details: FormState = field(default_factory=FormState)
    stage: FormState = field(default_factory=FormState)
    clinical: FormState = field(default_factory=FormState)
    consent: FormState = field(default_factory=FormState)
    sms: FormState = field(default_factory=FormState)
    lift: FormState = field(default_factory=FormState)
    therapists: FormState = field(default_factory=FormState)
    entry: FormState = field(default_factory=FormState)
    amend: dict[uuid.UUID, FormState] = field(default_factory=dict)
    analysis: FormState = field(default_factory=FormState)
    record: FormState = field(default_factory=FormState)
    #: a problem about the page as a whole (e.g. signing an entry already signed)
    message: str | None = None

    def amend_form(self, entry_id: uuid.UUID) -> FormState:
        return self.amend.get(entry_id) or FormState()


@dataclass
class RiskFlag:
    """A risk shown first on the page: its level, where it comes from and a link to that source."""

    level: str
    source: str
    when: Any
    anchor: str | None = None


async def person_page(
    request: Request[Any, Any, Any],
    tenant: TenantContext,
    ws: Workspace,
    viewer: Viewer,
    actor: Actor,
    cipher: FieldCipher,
    patient_id: uuid.UUID,
    *,
    page: Page | None = None,
    forms: Forms | None = None,
    status: int = 200,
    done: str | None = None,
) -> Template:
    """The person's page (also shown again, with a form's problem, after a refused POST)."""
    ws.active = "people"
    forms = forms or Forms()
    page = page or Page(limit=50, offset=0)
    session = tenant.session
    patient = await get_patient(session, viewer, patient_id)
    out = await rules.to_out(session, cipher, viewer, actor, patient, audit_action="patient.read")
    stages = await rules.stages(session)
    entries: list[EntryOut] = []
    entries_total = 0
    analyses: list[AnalysisOut] = []
    risks: list[RiskFlag] = []
    measures: list[Chart] = []
    if viewer.clinical:
        # the PHQ-9 / GAD-7 series, read and audited as ``GET …/patients/{id}/measures/{measure}`` does
        for measure in ("phq9", "gad7"):
            points = await form_services.measure_series(session, cipher, patient.id, measure)
            if points:
                await audit_record(session, actor, "forms.measures_read", patient_id=patient.id, measure=measure)
            measures.append(measure_chart(measure, points, ws.language, ws.time_zone))
        entries, entries_total = await journal.list_entries(
            session, cipher, viewer, actor, patient.id, limit=page.limit, offset=page.offset
        )
        analyses = [analysis_out(e) for e in entries if e.kind == "ai_analysis"]
        latest = analyses[0] if analyses and page.offset == 0 else None  # the newest analysis, on the first page
        if latest is not None and latest.risk_level in ("HIGH", "MEDIUM"):
            risks.append(RiskFlag(latest.risk_level, "ai_analysis", latest.created_at, f"entry-{latest.id}"))
    assignable: list[Any] = []
    if viewer.is_owner:
        assignable = list(
            (
                await session.execute(
                    sa.select(StaffMember.id, StaffMember.display_name, StaffMember.role)
                    .where(StaffMember.active.is_(True), StaffMember.role.in_(rules.ASSIGNABLE_ROLES))
                    .order_by(StaffMember.display_name)
                )
            ).all()
        )
    sms = await reach_sms.read_sms_consent(session, viewer, patient.id, sms_enabled=_sms_enabled(request))
    # contact preferences: a marketing opt-out recorded for the address (transactional email still goes)
    email_opted_out = bool(patient.email_bidx and await reach_services.opted_out(session, [patient.email_bidx]))
    people_ids: set[uuid.UUID | None] = {*out.therapist_ids, out.block.last_lifted_by, out.ai_consent.recorded_by,
                                         *(h.recorded_by for h in sms.history)}
    for e in entries:
        people_ids.add(e.author_id)
        people_ids.update(a.author_id for a in e.amendments)
    names = await staff_names(session, people_ids)
    from anima.domains.packages.pages import person_credits

    credits = await person_credits(session, viewer, patient.id)
    return render(
        "patients/person.html", credits=credits, language=ws.language, time_zone=ws.time_zone, ws=ws, p=out, viewer=viewer,
        stages=stage_options(stages, ws.language), stage_names=dict(stage_options(stages, ws.language)),
        entries=entries, entries_total=entries_total, page=page, analyses=analyses, risks=risks, names=names,
        analysis_by_id={a.id: a for a in analyses},
        assignable=assignable, forms=forms, notice=_done_message(done, ws.language), status=status, sms=sms,
        email_opted_out=email_opted_out,
        measures=measures, zones=zone_groups(str(forms.details.value("time_zone", out.time_zone or "")) or None),
    )


@get("/o/{org_slug:str}/people/{patient_id:uuid}", opt=EVERY_MEMBER, name="people:person")
async def person(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, page: Page, patient_id: uuid.UUID, done: Annotated[str | None, Parameter(max_length=20)] = None,
) -> Template:
    """The 360° page of one person, as the viewer's role may read it."""
    return await person_page(request, tenant, ws, viewer, actor, cipher, patient_id, page=page, done=done)


async def _write(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID, *, form_name: str, body: Any, form: FormState,
    call: Callable[[], Awaitable[Any]], done: str, anchor: str = "",
) -> Template | Redirect:
    """Validate-then-call for the person's page: 303 back on success, the page with the problem otherwise."""
    forms = Forms()
    setattr(forms, form_name, form)
    if body is None:
        return await person_page(request, tenant, ws, viewer, actor, cipher, patient_id, forms=forms, status=422)
    _, problem = await attempt(tenant.session, call)
    if problem is not None:
        if isinstance(problem, NotFound):
            raise problem
        form.show(problem, ws.language)
        if problem.status == 409:  # about the record's state, not a field: said at the top of the page
            forms.message = form.message
        return await person_page(request, tenant, ws, viewer, actor, cipher, patient_id, forms=forms, status=problem.status)
    return see_other(request, _people_url(ws, patient_id, done, anchor))


@post("/o/{org_slug:str}/people/{patient_id:uuid}/details", opt=EVERY_MEMBER, name="people:details")
async def person_details(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Edit names, contact, birth date, language, time zone and tags (``PUT …/patients/{id}``)."""
    values = await read_form(request)
    typed = dict(values)
    data: dict[str, Any] = dict(values)
    for key in NULLABLE_DETAILS:
        if key in data and isinstance(data[key], str) and not data[key].strip() and not string_errors(data[key], key):
            data[key] = None
    if "tags" in data:
        data["tags"] = _split_tags(data["tags"])
    if isinstance(data.get("last_name"), str) and not data["last_name"].strip():
        data["last_name"] = ""
    body, form = parse(PatientUpdate, data, language=ws.language, keep_empty=("last_name",))
    form.values = typed
    return await _write(
        request, tenant, ws, viewer, actor, cipher, patient_id, form_name="details", body=body, form=form,
        call=lambda: rules.update_patient(tenant.session, cipher, viewer, actor, patient_id, body), done="details",
    )


@post("/o/{org_slug:str}/people/{patient_id:uuid}/stage", opt=EVERY_MEMBER, name="people:stage")
async def person_stage(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Move the person to another journey stage."""
    values = await read_form(request)
    body, form = parse(PatientUpdate, {"journey_stage": values.get("journey_stage", "")}, language=ws.language)
    if body is not None and not str(values.get("journey_stage", "")).strip():
        body = None
        form.errors["journey_stage"] = field_message("is required", "required", ws.language)
    return await _write(
        request, tenant, ws, viewer, actor, cipher, patient_id, form_name="stage", body=body, form=form,
        call=lambda: rules.update_patient(tenant.session, cipher, viewer, actor, patient_id, body), done="stage",
    )


@post("/o/{org_slug:str}/people/{patient_id:uuid}/clinical", opt=CLINICIANS | CLINICAL, name="people:clinical")
async def person_clinical(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Edit the clinical profile (owners and therapists; encrypted by the service)."""
    values = await read_form(request)
    keys = tuple(ClinicalProfile.__struct_fields__)
    profile, form = parse(ClinicalProfile, values, keep_empty=keys, language=ws.language)
    body = PatientUpdate(clinical=profile) if profile is not None else None
    return await _write(
        request, tenant, ws, viewer, actor, cipher, patient_id, form_name="clinical", body=body, form=form,
        call=lambda: rules.update_patient(tenant.session, cipher, viewer, actor, patient_id, body), done="clinical",
        anchor="#clinical",
    )


@post("/o/{org_slug:str}/people/{patient_id:uuid}/consent", opt=EVERY_MEMBER, name="people:consent")
async def person_consent(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Record consent to AI processing given or withdrawn, and how."""
    values = await read_form(request)
    data = dict(values)
    data["given"] = {"true": True, "false": False}.get(values.get("given", ""), values.get("given") or None)
    if data["given"] is None:
        data.pop("given")
    body, form = parse(ConsentUpdate, data, language=ws.language)
    form.values = dict(values)
    return await _write(
        request, tenant, ws, viewer, actor, cipher, patient_id, form_name="consent", body=body, form=form,
        call=lambda: consent.set_consent(tenant.session, viewer, actor, patient_id, body), done="consent", anchor="#consent",
    )


def _sms_enabled(request: Request[Any, Any, Any]) -> bool:
    """Whether this deployment sends SMS (the Twilio settings are present)."""
    return runtime_of(request.app.state).settings.sms_configured


@post("/o/{org_slug:str}/people/{patient_id:uuid}/sms-consent", opt=EVERY_MEMBER, name="people:sms-consent")
async def person_sms_consent(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Record consent to receive SMS given or withdrawn, and how (``PUT …/patients/{id}/sms-consent``)."""
    values = await read_form(request)
    data = dict(values)
    data["given"] = {"true": True, "false": False}.get(values.get("given", ""), values.get("given") or None)
    if data["given"] is None:
        data.pop("given")
    body, form = parse(SmsConsentUpdate, data, language=ws.language)
    form.values = dict(values)
    return await _write(
        request, tenant, ws, viewer, actor, cipher, patient_id, form_name="sms", body=body, form=form,
        call=lambda: reach_sms.set_sms_consent(tenant.session, viewer, actor, patient_id, body, sms_enabled=_sms_enabled(request)),
        done="sms", anchor="#sms",
    )


@post("/o/{org_slug:str}/people/{patient_id:uuid}/block/lift", opt=CLINICIANS | CLINICAL, name="people:lift")
async def person_lift_block(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Lift a block after review, with a reason (owners and therapists who may see the person)."""
    body, form = parse(BlockLift, await read_form(request), language=ws.language)
    return await _write(
        request, tenant, ws, viewer, actor, cipher, patient_id, form_name="lift", body=body, form=form,
        call=lambda: blocks.lift_block(tenant.session, cipher, viewer, actor, patient_id, body.reason), done="lifted",
    )


@post("/o/{org_slug:str}/people/{patient_id:uuid}/therapists", opt=OWNERS, name="people:therapists")
async def person_therapists(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Set the therapists assigned to the person (owners)."""
    values = await read_form(request, lists=("therapist_ids",))
    body, form = parse(TherapistIds, values, language=ws.language)
    return await _write(
        request, tenant, ws, viewer, actor, cipher, patient_id, form_name="therapists", body=body, form=form,
        call=lambda: rules.assign_therapists(tenant.session, viewer, actor, patient_id, body.therapist_ids), done="therapists",
    )


@post("/o/{org_slug:str}/people/{patient_id:uuid}/archive", opt=OWNERS, name="people:archive")
async def person_archive(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Archive the person (frees a place under the plan's limit)."""
    return await _write(
        request, tenant, ws, viewer, actor, cipher, patient_id, form_name="record", body=True, form=FormState(),
        call=lambda: rules.set_archived(
            tenant.session, viewer, actor, patient_id, True, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier
        ), done="archived",
    )


@post("/o/{org_slug:str}/people/{patient_id:uuid}/restore", opt=OWNERS, name="people:restore")
async def person_restore(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Restore an archived person (counts against the plan's limit again)."""
    return await _write(
        request, tenant, ws, viewer, actor, cipher, patient_id, form_name="record", body=True, form=FormState(),
        call=lambda: rules.set_archived(
            tenant.session, viewer, actor, patient_id, False, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier
        ), done="restored",
    )


@post("/o/{org_slug:str}/people/{patient_id:uuid}/erase", opt=OWNERS, name="people:erase")
async def person_erase(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, viewer: Viewer, actor: Actor,
    cipher: FieldCipher, patient_id: uuid.UUID,
) -> Template | Redirect:
    """Erase the person for good (owners), after ticking the confirmation."""
    values = await read_form(request)
    if values.get("confirm") != "yes":
        forms = Forms(record=FormState(errors={"confirm": gettext(ws.language, "Tick the box to confirm the erasure.")}))
        return await person_page(request, tenant, ws, viewer, actor, cipher, patient_id, forms=forms, status=422)
    _, problem = await attempt(tenant.session, lambda: patient_record.erase_patient(tenant.session, viewer, actor, patient_id))
    if problem is not None:
        raise problem
    return see_other(request, f"{ws.base}/people?done=erased")


@get("/o/{org_slug:str}/people/{patient_id:uuid}/export", opt=OWNERS | CLINICAL, name="people:export")
async def person_export(tenant: TenantContext, viewer: Viewer, actor: Actor, cipher: FieldCipher, patient_id: uuid.UUID) -> Response[Any]:
    """The whole record, decrypted, as a JSON download (owners; ``GET …/patients/{id}/export``)."""
    exported = await patient_record.export_patient(tenant.session, cipher, viewer, actor, patient_id)
    return Response(
        exported, media_type="application/json",
        headers={"content-disposition": f'attachment; filename="record-{patient_id}.json"', "cache-control": "no-store"},
    )


@get("/o/{org_slug:str}/people/{patient_id:uuid}/audit", opt=OWNERS, name="people:audit")
async def person_audit(tenant: TenantContext, ws: Workspace, viewer: Viewer, page: Page, patient_id: uuid.UUID) -> Template:
    """The person's audit trail, oldest first (owners; also after erasure)."""
    ws.active = "people"
    rows, total = await patient_trail(tenant.session, patient_id, limit=page.limit, offset=page.offset)
    try:
        patient: Patient | None = await get_patient(tenant.session, viewer, patient_id)
    except NotFound:
        patient = None
    names = await staff_names(tenant.session, {r.actor_id for r in rows})
    return render(
        "patients/audit.html", language=ws.language, time_zone=ws.time_zone, ws=ws, patient=patient,
        patient_id=patient_id, rows=rows, total=total, page=page, names=names,
    )

PAGE_HANDLERS: list[Any] = [
    people_list, people_new, people_create, person, person_details, person_stage, person_clinical, person_consent,
    person_sms_consent, person_lift_block, person_therapists, person_archive, person_restore, person_erase, person_export, person_audit,
]
