"""Bodies of the playbooks, event log and alerts API."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec

from anima.request_body import RequestBody


class TemplateOut(msgspec.Struct):
    """A marketplace listing; ``installed_rule_id`` when this organization installed it;
    ``available`` false when the plan lacks ``required_feature``."""

    key: str
    name: str
    description: str
    trigger: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    version: int
    required_feature: str
    available: bool
    installed_rule_id: uuid.UUID | None


class RuleOut(msgspec.Struct):
    id: uuid.UUID
    template_key: str | None
    name: str
    trigger: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    enabled: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime


class RuleToggle(RequestBody):
    enabled: bool


class EffectOut(msgspec.Struct):
    action_index: int
    kind: str
    outcome: str
    detail: dict[str, Any]
    created_at: datetime.datetime


class RunOut(msgspec.Struct):
    """One run of a rule for one event; ``status`` RUNNING, WAITING (a delay), SUCCEEDED, SKIPPED or FAILED."""

    id: uuid.UUID
    rule_id: uuid.UUID
    rule_name: str
    event_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    error: str | None
    next_action: int
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    waiting_until: datetime.datetime | None
    effects: list[EffectOut]


class EventOut(msgspec.Struct):
    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    actor_id: uuid.UUID | None
    occurred_at: datetime.datetime
    relayed_at: datetime.datetime | None


class AlertOut(msgspec.Struct):
    """One of a member's alerts; ``source_kind``/``source_id`` name the journal entry or form
    submission it is about (risk alerts), else null."""

    id: uuid.UUID
    kind: str
    severity: str
    message: str
    patient_id: uuid.UUID | None
    created_at: datetime.datetime
    read_at: datetime.datetime | None
    source_kind: str | None = None
    source_id: uuid.UUID | None = None
