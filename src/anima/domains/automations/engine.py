"""Running playbooks: one run per (rule, event), actions done once each, delays resumed later.

Everything a run does happens in the job's tenant transaction (:func:`run_event`,
:func:`resume_due`): the run row, each action's effect row (``automation_effects``, primary key
(run, action index)), the email outbox row, the alert, the block — all commit together or not at
all. Alerts and blocks go through their domains' services (:func:`anima.domains.automations.alerts.add_alerts`,
:func:`anima.domains.patients.blocks.block_patient`), which audit them. A job that runs twice therefore finds the run finished (or its effects present) and does
nothing again; a job killed before its commit leaves nothing behind and is retried.

Each rule runs in a savepoint: a rule whose action fails permanently (:class:`ActionFailed`, e.g.
the patient was erased) is recorded FAILED with the reason and the other rules go on; any other
error is recorded and re-raised so that SAQ retries the job with backoff.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from anima.billing.plans import CATALOG, plan_for
from anima.domains.automations import rules as lang
from anima.domains.automations.models import (
    AutomationDelay,
    AutomationEffect,
    AutomationRule,
    AutomationRun,
    OutboundEmail,
)
from anima.domains.audit.services import Actor
from anima.domains.automations.alerts import SOURCE_KINDS, AlertSource, add_alerts
from anima.domains.automations.outbound import Category, queue_email
from anima.domains.patients.blocks import BlockSource, block_patient
from anima.domains.patients.models import Patient, patient_therapists
from anima.domains.reach import sms as reach_sms
from anima.domains.settings.services import get_settings
from anima.domains.staff.models import StaffMember
from anima.events.due_work import WorkKind, note_due
from anima.events.models import OutboxEvent
from anima.events.outbox import emit
from anima.tenancy.transaction import TenantTransaction
from anima.events.types import EventType
from anima.logs import get_logger
from anima.mail import compose
from anima.web import i18n
from anima.web.formatting import money

log = get_logger(__name__)

#: the audit role of what playbooks do
SYSTEM_ROLE = "system"

#: the playbook emails (templates ``mail/email/<name>.html`` of :mod:`anima.mail.compose`) and their
#: category. Marketing: what a person may refuse without losing anything they need — satisfaction
#: surveys and news (``retreat_survey``, ``generic``); such emails carry List-Unsubscribe and are
#: skipped for a recipient who opted out. Transactional: what concerns a person's own business with
#: the practice — a pending payment (``payment_reminder``); always sent.
EMAIL_CATEGORIES: dict[str, Category] = {
    "payment_reminder": "transactional",
    "retreat_survey": "marketing",
    "generic": "marketing",
}
_ALL_FEATURES = sorted({f for plan in CATALOG.values() for f in plan.features})


class ActionFailed(Exception):
    """An action cannot be done with this data (permanent: retrying will not help)."""


@dataclass
class RunContext:
    """What the actions of one run see: the tenant job, the event, its facts."""

    job: TenantTransaction
    event: OutboxEvent
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def session(self):
        return self.job.session


async def gather_facts(job: TenantTransaction, event: OutboxEvent) -> dict[str, Any]:
    """Facts for conditions and texts: event payload, plan features, and the patient, payment,
    booking and service the payload names (read now, so a delayed action sees the present)."""
    s = job.session
    payload = event.payload or {}
    facts: dict[str, Any] = {f"event.{k}": v for k, v in payload.items() if isinstance(v, (str, int, float, bool)) or v is None}
    facts["event.type"] = event.type
    plan = plan_for(job.tenant.tier)
    facts.update({f"plan.{f}": plan.has(f) for f in _ALL_FEATURES})
    facts["org.name"] = job.tenant.name
    from anima.domains.bookings.models import Booking
    from anima.domains.payments.models import PaymentRequest
    from anima.domains.catalog.models import Service

    booking = await _get(s, Booking, payload.get("booking_id"))
    if booking is not None:
        facts.update({"booking.status": booking.status, "booking.id": str(booking.id)})
        payload = {**payload, "patient_id": payload.get("patient_id") or str(booking.patient_id)}
        service = await s.get(Service, booking.service_id)
        if service is not None:
            facts.update({"service.scheduling": service.scheduling, "service.kind": service.kind, "service.name": service.name})
    payment = await _get(s, PaymentRequest, payload.get("payment_id"))
    if payment is not None:
        facts.update({
            "payment.status": payment.status, "payment.currency": payment.currency,
            "payment.amount_minor": payment.amount_minor, "payment.amount": f"{payment.amount_minor / 100:.2f}",
        })
        from anima.domains.payments.paylinks import pay_url

        facts["payment.pay_url"] = await pay_url(job, payment)  # None when paid or payments are off
        payload = {**payload, "patient_id": payload.get("patient_id") or str(payment.patient_id)}
    patient = await _get(s, Patient, payload.get("patient_id"))
    if patient is not None:
        facts.update({
            "patient.id": str(patient.id), "patient.first_name": patient.first_name, "patient.last_name": patient.last_name,
            "patient.journey_stage": patient.journey_stage, "patient.blocked": patient.blocked_at is not None,
            "patient.archived": patient.archived_at is not None,
        })
    return facts


async def _get(session: Any, model: Any, raw_id: Any) -> Any:
    if not raw_id:
        return None
    try:
        return await session.get(model, uuid.UUID(str(raw_id)))
    except ValueError:
        return None


# -- recipients -----------------------------------------------------------------------------------


async def _owners(rc: RunContext) -> list[StaffMember]:
    rows = await rc.session.execute(
        sa.select(StaffMember).where(StaffMember.role == "OWNER", StaffMember.active.is_(True)).order_by(StaffMember.id)
    )
    return list(rows.scalars())


async def care_team(rc: RunContext) -> list[StaffMember]:
    """The patient's assigned therapists and the event's author (a note's writer); owners if none."""
    ids: set[uuid.UUID] = set()
    patient_id = rc.facts.get("patient.id")
    if patient_id:
        ids.update(
            (await rc.session.execute(
                sa.select(patient_therapists.c.staff_id).where(patient_therapists.c.patient_id == uuid.UUID(patient_id))
            )).scalars()
        )
    author = (rc.event.payload or {}).get("author_id")
    if author:
        try:
            ids.add(uuid.UUID(str(author)))
        except ValueError:
            pass
    staff = []
    if ids:
        staff = list((await rc.session.execute(
            sa.select(StaffMember).where(StaffMember.id.in_(ids), StaffMember.active.is_(True)).order_by(StaffMember.id)
        )).scalars())
    return staff or await _owners(rc)


async def _staff(rc: RunContext, to: str) -> list[StaffMember]:
    return await care_team(rc) if to == "care_team" else await _owners(rc)


async def _patient(rc: RunContext) -> Patient:
    patient = await _get(rc.session, Patient, rc.facts.get("patient.id"))
    if patient is None:
        raise ActionFailed("the event names no patient that exists")
    return patient


# -- actions --------------------------------------------------------------------------------------


def _email_context(facts: dict[str, Any], language: str) -> dict[str, Any]:
    """The variables of a playbook email template, from the run's facts (missing ones empty)."""
    amount_minor = facts.get("payment.amount_minor")
    amount = money(amount_minor, str(facts["payment.currency"]), language) \
        if isinstance(amount_minor, int) and facts.get("payment.currency") else ""
    return {
        "org_name": str(facts.get("org.name") or ""), "first_name": str(facts.get("patient.first_name") or ""),
        "service_name": str(facts.get("service.name") or ""), "amount": amount,
        "pay_url": facts.get("payment.pay_url") or "",
    }


async def _send_email(rc: RunContext, action: lang.SendEmail, key: str) -> dict[str, Any]:
    """Queue the email of ``action`` to each recipient, rendered in the recipient's language (the
    patient's own, else the practice's), with the address encrypted and its blind index; the
    tenant's mail work is noted due now (:mod:`anima.mail.tenant_sender` sends it)."""
    practice_language = (await get_settings(rc.session)).locale
    targets: list[tuple[str, uuid.UUID | None, uuid.UUID | None, str, str | None]] = []  # (address, patient, staff, suffix, language)
    if action.to == "patient":
        patient = await _patient(rc)
        if patient.email_enc is None:
            return {"emails": 0, "note": "the patient has no email address"}
        address = await rc.job.cipher.decrypt_text("patients", "email_enc", patient.id, patient.email_enc)
        targets.append((address, patient.id, None, "patient", patient.language))
    else:
        targets.extend((m.email, None, m.id, str(m.id), None) for m in await _staff(rc, action.to))
    category = EMAIL_CATEGORIES.get(action.template, "marketing")
    queued = 0
    for address, patient_id, staff_id, suffix, own_language in targets:
        language = i18n.pick_language(own_language, practice_language)
        composed = compose.render(action.template, language, **_email_context(rc.facts, language))
        queued += await queue_email(
            rc.session, rc.job.cipher, key=f"{key}:{suffix}", address=address, composed=composed, template=action.template,
            category=category, patient_id=patient_id, staff_id=staff_id,
        )
    return {"emails": queued, "template": action.template, "category": category}


async def _send_sms(rc: RunContext, action: lang.SendSms, key: str) -> dict[str, Any]:
    """Queue the SMS of ``action`` to the event's patient — or, with ``to: lead``, to the lead its
    payload names (``lead_id``) — in their language, if they consent
    (:func:`anima.domains.reach.sms.queue_sms`, :func:`~anima.domains.reach.sms.queue_lead_sms`;
    consent is asked again when it is sent)."""
    practice_language = (await get_settings(rc.session)).locale
    if action.to == "lead":
        from anima.domains.leads.models import Lead

        lead = await _get(rc.session, Lead, (rc.event.payload or {}).get("lead_id"))
        if lead is None:
            raise ActionFailed("the event names no lead that exists")
        language = i18n.pick_language(lead.language, practice_language)
        first_name = await rc.job.cipher.decrypt_text("leads", "first_name_enc", lead.id, lead.first_name_enc)
        context = {**_email_context(rc.facts, language), "first_name": first_name}
        body = compose.render_sms(action.template, language, **context)
        detail = await reach_sms.queue_lead_sms(rc.session, rc.job.cipher, lead, template=action.template, body=body,
                                                key=f"{key}:lead", language=practice_language)
        return {**detail, "template": action.template}
    patient = await _patient(rc)
    language = i18n.pick_language(patient.language, practice_language)
    body = compose.render_sms(action.template, language, **_email_context(rc.facts, language))
    detail = await reach_sms.queue_sms(rc.session, rc.job.cipher, patient, template=action.template, body=body,
                                       key=f"{key}:patient", language=practice_language)
    return {**detail, "template": action.template}


def _system_actor(run: AutomationRun) -> Actor:
    return Actor(None, SYSTEM_ROLE, f"run:{run.id}", None)


def _entry_source(rc: RunContext) -> tuple[str, uuid.UUID] | None:
    """The journal entry (kind, id) the event is about, when it names one (risk and form events)."""
    payload = rc.event.payload or {}
    kind = payload.get("kind") or ("form_submission" if rc.event.type == EventType.FORM_SUBMISSION_COMPLETED else None)
    if kind not in SOURCE_KINDS or not payload.get("entry_id"):
        return None
    try:
        return str(kind), uuid.UUID(str(payload["entry_id"]))
    except ValueError:
        return None


async def _alert(rc: RunContext, action: lang.AlertStaff, run: AutomationRun, rule: AutomationRule) -> dict[str, Any]:
    staff = await _staff(rc, action.to)
    message = lang.render(action.message, rc.facts)[:500]
    patient_id = rc.facts.get("patient.id")
    entry = _entry_source(rc)
    # an alert about a journal entry is unique per member and entry: when the core risk alert
    # (anima.domains.automations.alerts) already reached a member, the playbook adds nothing
    alerted = await add_alerts(
        rc.session, _system_actor(run), [m.id for m in staff], patient_id=uuid.UUID(patient_id) if patient_id else None,
        kind=(rule.template_key or "playbook")[:40], severity=action.severity, message=message, run_id=run.id,
        source=AlertSource(*entry) if entry else None,
    )
    return {"alerted": [str(m) for m in alerted], "already_alerted": len(staff) - len(alerted)}


async def _block(rc: RunContext, action: lang.BlockPatient, run: AutomationRun) -> dict[str, Any]:
    patient = await _patient(rc)
    entry = _entry_source(rc)
    source = BlockSource(*entry) if entry else BlockSource("playbook", run.id)
    _, newly = await block_patient(rc.session, _system_actor(run), patient.id, action.reason, source)
    return {"patient_id": str(patient.id), "blocked": True, "newly_blocked": newly}


async def _move_stage(rc: RunContext, action: lang.MoveStage) -> dict[str, Any]:
    from anima.domains.patients.models import JourneyStage

    patient = await _patient(rc)
    if await rc.session.get(JourneyStage, action.stage) is None:
        raise ActionFailed(f"no journey stage {action.stage!r}")
    before, patient.journey_stage = patient.journey_stage, action.stage
    return {"from": before, "to": action.stage}


async def _request_analysis(rc: RunContext) -> dict[str, Any]:
    patient = await _patient(rc)
    event = await emit(rc.session, EventType.AI_ANALYSIS_REQUESTED, {"patient_id": str(patient.id), "requested_by": None})
    return {"event_id": str(event.id)}


async def _assign_form(rc: RunContext, action: lang.AssignForm, run: AutomationRun) -> dict[str, Any]:
    """A real one-time link of form ``action.form`` for the event's patient, emailed when the patient
    has an address. ``form`` is a system template (``intake``, ``consent``, ``phq9``, ``gad7``: the
    copy in the patient's language, else the organization's) or an organization form's key."""
    from anima.domains.forms import services as forms
    from anima.domains.forms.models import Form
    from anima.domains.forms.system import LANGUAGES, SYSTEM_KEYS
    from anima.domains.settings.services import get_settings

    patient = await _patient(rc)
    actor = _system_actor(run)
    if action.form in SYSTEM_KEYS:
        language = patient.language if patient.language in LANGUAGES else (await get_settings(rc.session)).locale
        form = await forms.ensure_system_form(rc.session, actor, action.form, language)
    else:
        form = (await rc.session.execute(sa.select(Form).where(Form.key == action.form))).scalar_one_or_none()
        if form is None or form.archived_at is not None:
            raise ActionFailed(f"no form {action.form!r}")
    if patient.archived_at is not None:
        raise ActionFailed("the patient is archived")
    new = await forms.assign(
        rc.session, rc.job.cipher, actor, form=form, patient=patient, org_slug=rc.job.tenant.slug, org_name=rc.job.tenant.name,
        public_url=rc.job.public_url, send_email=patient.email_enc is not None, run_id=run.id,
    )
    return {"form": form.key, "patient_id": str(patient.id), "assignment_id": str(new.assignment.id), "emailed": new.assignment.emailed}


async def do_action(rc: RunContext, run: AutomationRun, rule: AutomationRule, index: int, action: lang.Action) -> dict[str, Any]:
    """Perform one action (not ``delay``); returns what to record in its effect."""
    if isinstance(action, lang.SendEmail):
        return await _send_email(rc, action, f"{run.id}:{index}")
    if isinstance(action, lang.SendSms):
        return await _send_sms(rc, action, f"{run.id}:{index}")
    if isinstance(action, lang.AlertStaff):
        return await _alert(rc, action, run, rule)
    if isinstance(action, lang.BlockPatient):
        return await _block(rc, action, run)
    if isinstance(action, lang.MoveStage):
        return await _move_stage(rc, action)
    if isinstance(action, lang.RequestAnalysis):
        return await _request_analysis(rc)
    if isinstance(action, lang.AssignForm):
        return await _assign_form(rc, action, run)
    raise ActionFailed(f"unknown action {type(action).__name__}")


async def _claim(rc: RunContext, run: AutomationRun, index: int, kind: str, outcome: str, detail: dict[str, Any]) -> bool:
    result = await rc.session.execute(
        pg_insert(AutomationEffect)
        .values(run_id=run.id, action_index=index, kind=kind, outcome=outcome, detail=detail)
        .on_conflict_do_nothing()
        .returning(AutomationEffect.action_index)
    )
    return result.first() is not None


async def continue_run(rc: RunContext, run: AutomationRun, rule: AutomationRule, start: int) -> None:
    """Do the rule's actions from ``start``: stop at a delay (WAITING), else SUCCEEDED."""
    actions = lang.parse_actions(rule.actions)
    run.status = "RUNNING"
    for index in range(start, len(actions)):
        action = actions[index]
        kind = type(action).__struct_config__.tag
        if isinstance(action, lang.Delay):
            due = datetime.datetime.now(datetime.UTC) + action.delta
            await _claim(rc, run, index, "delay", "scheduled", {"due_at": due.isoformat()})
            await rc.session.execute(
                pg_insert(AutomationDelay).values(id=uuid.uuid4(), run_id=run.id, resume_index=index + 1, due_at=due)
                .on_conflict_do_nothing()
            )
            await note_due(rc.session, WorkKind.TICK, due)  # the tick visits this tenant then
            run.status, run.next_action = "WAITING", index + 1
            return
        if not lang.all_hold(action.when, rc.facts):
            await _claim(rc, run, index, str(kind), "skipped", {"reason": "conditions not met"})
            continue
        # claim first: a concurrent duplicate blocks on the primary key, then finds it taken
        if not await _claim(rc, run, index, str(kind), "done", {}):
            continue
        detail = await do_action(rc, run, rule, index, action)
        await rc.session.execute(
            sa.update(AutomationEffect).where(AutomationEffect.run_id == run.id, AutomationEffect.action_index == index)
            .values(detail=detail)
        )
    run.status, run.next_action = "SUCCEEDED", len(actions)
    run.finished_at = datetime.datetime.now(datetime.UTC)


async def _run_rule(job: TenantTransaction, event: OutboxEvent, rule: AutomationRule, facts: dict[str, Any]) -> str:
    s = job.session
    row = (await s.execute(
        pg_insert(AutomationRun)
        .values(id=uuid.uuid4(), rule_id=rule.id, event_id=event.id, event_type=event.type, status="RUNNING", attempts=1, next_action=0)
        .on_conflict_do_update(
            constraint="uq_automation_runs_rule_event",
            set_={"attempts": AutomationRun.attempts + 1, "status": "RUNNING"},
            where=AutomationRun.status.in_(("RUNNING", "FAILED")),
        )
        .returning(AutomationRun.id)
    )).first()
    if row is None:
        return "already-done"
    run = await s.get(AutomationRun, row[0], populate_existing=True)
    assert run is not None
    rc = RunContext(job, event, facts)
    if not lang.all_hold(lang.parse_conditions(rule.conditions), facts):
        run.status, run.finished_at = "SKIPPED", datetime.datetime.now(datetime.UTC)
        return run.status
    await continue_run(rc, run, rule, run.next_action)
    return run.status


async def _record_failure(job: TenantTransaction, rule_id: uuid.UUID, event: OutboxEvent, error: str) -> None:
    await job.session.execute(
        pg_insert(AutomationRun)
        .values(id=uuid.uuid4(), rule_id=rule_id, event_id=event.id, event_type=event.type, status="FAILED",
                attempts=1, next_action=0, error=error[:500], finished_at=datetime.datetime.now(datetime.UTC))
        .on_conflict_do_update(
            constraint="uq_automation_runs_rule_event",
            set_={"status": "FAILED", "error": error[:500], "finished_at": datetime.datetime.now(datetime.UTC)},
        )
    )


async def run_event(job: TenantTransaction, event: OutboxEvent) -> tuple[dict[str, str], Exception | None]:
    """Run every enabled rule triggered by ``event``.

    Returns:
        (rule id -> outcome, the first unexpected error or None). The caller commits (so failures
        are recorded on their runs) and then raises the error, so that the job is retried.
    """
    rules = list((await job.session.execute(
        sa.select(AutomationRule).where(AutomationRule.trigger == event.type, AutomationRule.enabled.is_(True))
        .order_by(AutomationRule.created_at)
    )).scalars())
    if not rules:
        return {}, None
    facts = await gather_facts(job, event)
    outcomes: dict[str, str] = {}
    retry: Exception | None = None
    for rule in rules:
        try:
            async with job.session.begin_nested():
                outcomes[str(rule.id)] = await _run_rule(job, event, rule, facts)
        except ActionFailed as exc:
            await _record_failure(job, rule.id, event, str(exc))
            outcomes[str(rule.id)] = "FAILED"
        except Exception as exc:  # noqa: BLE001 - recorded, then retried by the queue
            await _record_failure(job, rule.id, event, f"{type(exc).__qualname__} (will be retried)")
            outcomes[str(rule.id)] = "FAILED"
            retry = retry or exc
    log.info("playbooks ran", event_type=event.type, outcomes=sorted(outcomes.values()))
    return outcomes, retry


async def resume_due(job: TenantTransaction, *, now: datetime.datetime | None = None, limit: int = 200) -> int:
    """Fire the tenant's delays whose ``due_at`` has passed; returns how many were fired."""
    s = job.session
    now = now or datetime.datetime.now(datetime.UTC)
    delays = list((await s.execute(
        sa.select(AutomationDelay).where(AutomationDelay.fired_at.is_(None), AutomationDelay.due_at <= now)
        .order_by(AutomationDelay.due_at).limit(limit).with_for_update(skip_locked=True)
    )).scalars())
    for delay in delays:
        delay.fired_at = now
        run = await s.get(AutomationRun, delay.run_id)
        if run is None or run.status != "WAITING" or run.next_action != delay.resume_index:
            continue
        rule = await s.get(AutomationRule, run.rule_id)
        event = await s.get(OutboxEvent, run.event_id)
        if rule is None or event is None or not rule.enabled:
            run.status, run.finished_at = "SKIPPED", now
            run.error = "the rule was disabled while the run waited" if rule is not None else None
            continue
        facts = await gather_facts(job, event)
        try:
            async with s.begin_nested():
                await continue_run(RunContext(job, event, facts), run, rule, delay.resume_index)
        except ActionFailed as exc:
            run.status, run.error, run.finished_at = "FAILED", str(exc)[:500], now
        except Exception as exc:  # noqa: BLE001 - the delay stays due and is tried again next tick
            delay.fired_at = None
            run.error = f"{type(exc).__qualname__} (will be retried)"
            log.warning("delayed action failed", error_type=type(exc).__qualname__)
    return len(delays)
