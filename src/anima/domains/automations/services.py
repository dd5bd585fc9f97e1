"""Playbook marketplace and rules, run log, event log and staff alerts.

Owners browse the marketplace, install a template (a copy the organization owns, validated by
:func:`anima.domains.automations.rules.validate_rule`), switch rules on and off, and read the
runs and the event log. Every member reads and marks their own alerts. Installing needs the
template's ``required_feature`` in the plan catalog (anima.billing.plans), never a tier name.
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.plans import CATALOG, plan_for
from anima.domains.automations.models import (
    AutomationDelay,
    AutomationEffect,
    AutomationRule,
    AutomationRun,
    AutomationTemplate,
    StaffAlert,
)
from anima.domains.automations.rules import validate_rule
from anima.domains.automations.schemas import AlertOut, EffectOut, EventOut, RuleOut, RunOut, TemplateOut
from anima.events.models import OutboxEvent
from anima.problems import Conflict, Forbidden, NotFound


async def templates(platform: AsyncSession) -> list[AutomationTemplate]:
    """Every system template, by name (platform session)."""
    return list((await platform.execute(sa.select(AutomationTemplate).order_by(AutomationTemplate.name))).scalars())


async def installed(session: AsyncSession) -> dict[str, uuid.UUID]:
    """template key -> installed rule id (tenant session)."""
    rows = await session.execute(
        sa.select(AutomationRule.template_key, AutomationRule.id).where(AutomationRule.template_key.is_not(None))
    )
    return {k: i for k, i in rows.all()}


def template_out(t: AutomationTemplate, tier: str, installed_ids: dict[str, uuid.UUID]) -> TemplateOut:
    return TemplateOut(
        t.key, t.name, t.description, t.trigger, list(t.conditions), list(t.actions), t.version, t.required_feature,
        plan_for(tier).has(t.required_feature), installed_ids.get(t.key),
    )


def rule_out(r: AutomationRule) -> RuleOut:
    return RuleOut(r.id, r.template_key, r.name, r.trigger, list(r.conditions), list(r.actions), r.enabled, r.created_at, r.updated_at)


async def install(
    platform: AsyncSession, session: AsyncSession, *, key: str, tier: str, user_id: uuid.UUID
) -> AutomationRule:
    """Copy template ``key`` into the organization's rules, enabled.

    Raises:
        NotFound: no such template. Forbidden (403): the plan lacks its feature (names the tier
        that has it). Conflict (409): already installed.
    """
    template = await platform.get(AutomationTemplate, key)
    if template is None:
        raise NotFound(f"no playbook {key!r} in the marketplace")
    if not plan_for(tier).has(template.required_feature):
        tiers = [p.tier for p in sorted(CATALOG.values(), key=lambda p: p.rank) if p.has(template.required_feature)]
        raise Forbidden(
            f"{template.name} needs the {template.required_feature} feature, which your {tier} plan does not include; "
            f"{' or '.join(tiers)} include it.",
            extra={"feature": template.required_feature, "tier": tier, "upgrade_to": tiers[0] if tiers else None},
        )
    validate_rule(template.trigger, template.conditions, template.actions)
    if key in await installed(session):
        raise Conflict(f"{template.name} is already installed; switch it on or off instead")
    rule = AutomationRule(
        id=uuid.uuid4(), template_key=template.key, template_version=template.version, name=template.name,
        trigger=template.trigger, conditions=list(template.conditions), actions=list(template.actions),
        enabled=True, installed_by=user_id,
    )
    session.add(rule)
    try:
        async with session.begin_nested():
            await session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(f"{template.name} is already installed; switch it on or off instead") from None
    return rule


async def list_rules(session: AsyncSession) -> list[AutomationRule]:
    return list((await session.execute(sa.select(AutomationRule).order_by(AutomationRule.created_at))).scalars())


async def toggle(session: AsyncSession, rule_id: uuid.UUID, enabled: bool) -> AutomationRule:
    rule = await session.get(AutomationRule, rule_id)
    if rule is None:
        raise NotFound("playbook rule not found")
    rule.enabled = enabled
    rule.updated_at = datetime.datetime.now(datetime.UTC)
    await session.flush()
    return rule


async def list_runs(
    session: AsyncSession, *, limit: int, offset: int, status: str | None = None, rule_id: uuid.UUID | None = None
) -> tuple[list[RunOut], int]:
    """Runs newest first, with their effects and, when waiting, when they resume."""
    where = []
    if status:
        where.append(AutomationRun.status == status)
    if rule_id:
        where.append(AutomationRun.rule_id == rule_id)
    total = (await session.execute(sa.select(sa.func.count()).select_from(AutomationRun).where(*where))).scalar_one()
    rows = (await session.execute(
        sa.select(AutomationRun, AutomationRule.name).join(AutomationRule, AutomationRule.id == AutomationRun.rule_id)
        .where(*where).order_by(AutomationRun.started_at.desc(), AutomationRun.id).limit(limit).offset(offset)
    )).all()
    ids = [run.id for run, _ in rows]
    effects: dict[uuid.UUID, list[EffectOut]] = {i: [] for i in ids}
    waiting: dict[uuid.UUID, datetime.datetime] = {}
    if ids:
        for e in (await session.execute(
            sa.select(AutomationEffect).where(AutomationEffect.run_id.in_(ids)).order_by(AutomationEffect.action_index)
        )).scalars():
            effects[e.run_id].append(EffectOut(e.action_index, e.kind, e.outcome, dict(e.detail or {}), e.created_at))
        for d in (await session.execute(
            sa.select(AutomationDelay).where(AutomationDelay.run_id.in_(ids), AutomationDelay.fired_at.is_(None))
        )).scalars():
            waiting[d.run_id] = d.due_at
    items = [
        RunOut(r.id, r.rule_id, name, r.event_id, r.event_type, r.status, r.attempts, r.error, r.next_action,
               r.started_at, r.finished_at, waiting.get(r.id), effects[r.id])
        for r, name in rows
    ]
    return items, total


async def list_events(session: AsyncSession, *, limit: int, offset: int, type: str | None = None) -> tuple[list[EventOut], int]:
    where = [OutboxEvent.type == type] if type else []
    total = (await session.execute(sa.select(sa.func.count()).select_from(OutboxEvent).where(*where))).scalar_one()
    rows = (await session.execute(
        sa.select(OutboxEvent).where(*where).order_by(OutboxEvent.occurred_at.desc(), OutboxEvent.id).limit(limit).offset(offset)
    )).scalars()
    return [EventOut(e.id, e.type, dict(e.payload or {}), e.actor_id, e.occurred_at, e.relayed_at) for e in rows], total


async def list_alerts(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, offset: int, unread: bool | None = None
) -> tuple[list[AlertOut], int]:
    """The caller's own alerts, newest first."""
    where = [StaffAlert.staff_id == user_id]
    if unread is not None:
        where.append(StaffAlert.read_at.is_(None) if unread else StaffAlert.read_at.is_not(None))
    total = (await session.execute(sa.select(sa.func.count()).select_from(StaffAlert).where(*where))).scalar_one()
    rows = (await session.execute(
        sa.select(StaffAlert).where(*where).order_by(StaffAlert.created_at.desc(), StaffAlert.id).limit(limit).offset(offset)
    )).scalars()
    return [AlertOut(a.id, a.kind, a.severity, a.message, a.patient_id, a.created_at, a.read_at, a.source_kind, a.source_id) for a in rows], total


async def mark_read(session: AsyncSession, user_id: uuid.UUID, alert_id: uuid.UUID) -> AlertOut:
    """Mark one of the caller's alerts read (another member's alert is not found)."""
    alert = (await session.execute(
        sa.select(StaffAlert).where(StaffAlert.id == alert_id, StaffAlert.staff_id == user_id)
    )).scalar_one_or_none()
    if alert is None:
        raise NotFound("alert not found")
    if alert.read_at is None:
        alert.read_at = datetime.datetime.now(datetime.UTC)
        await session.flush()
    return AlertOut(alert.id, alert.kind, alert.severity, alert.message, alert.patient_id, alert.created_at, alert.read_at, alert.source_kind, alert.source_id)
