"""Automation playbooks: system templates (platform), installed rules, runs, effects, delays,
staff alerts and the tenant's outbound email outbox.

* ``platform.automation_templates`` — the marketplace: a template's trigger, conditions and actions
  as JSON data (seeded by a platform migration).
* ``automation_rules`` — an organization's installed copy of a template (or its own rule), with an
  ``enabled`` switch. A template is installed at most once (unique ``template_key``).
* ``automation_runs`` — one per (rule, event): outcome, attempts, error. Unique, so a job that runs
  twice finds its run and does not start another.
* ``automation_effects`` — one per (run, action index): the idempotency record of an action. An
  action whose effect row exists is not done again.
* ``automation_delays`` — "act after a delay": the run continues at ``resume_index`` once
  ``due_at`` has passed (fired by the automation tick).
* ``staff_alerts`` — notifications to a staff member in the workspace.
* ``outbound_emails`` — emails to send, keyed by an idempotency key (one per run and action); the
  recipient's address is encrypted like the patient's contact details.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, PrimaryKeyConstraint, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from anima.crypto.types import EncryptedText
from anima.db.base import PlatformBase, TenantBase, Timestamps, UUIDKey, utcnow

RUN_STATUSES = ("RUNNING", "WAITING", "SUCCEEDED", "SKIPPED", "FAILED")


class AutomationTemplate(PlatformBase):
    """A system playbook offered in the marketplace (data, not code)."""

    __tablename__ = "automation_templates"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    trigger: Mapped[str] = mapped_column(String(40))
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: the plan-catalog feature an organization needs to install it (anima.billing.plans)
    required_feature: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())


class AutomationRule(UUIDKey, Timestamps, TenantBase):
    """An organization's playbook rule: trigger, conditions, actions (copied from a template), enabled."""

    __tablename__ = "automation_rules"
    __table_args__ = (
        Index("uq_automation_rules_template_key", "template_key", unique=True, postgresql_where=text("template_key IS NOT NULL")),
        Index("ix_automation_rules_trigger", "trigger", "enabled"),
    )

    template_key: Mapped[str | None] = mapped_column(String(60), nullable=True)
    template_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[str] = mapped_column(String(40))
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    installed_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)


class AutomationRun(UUIDKey, TenantBase):
    """One rule run for one event: status, attempts, error, the action to resume at."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        UniqueConstraint("rule_id", "event_id", name="uq_automation_runs_rule_event"),
        Index("ix_automation_runs_started", "started_at"),
    )

    rule_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("automation_rules.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(GUID)
    event_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    next_action: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class AutomationEffect(TenantBase):
    """The effect of action ``action_index`` of a run, recorded once (idempotency)."""

    __tablename__ = "automation_effects"
    __table_args__ = (PrimaryKeyConstraint("run_id", "action_index", name="pk_automation_effects"),)

    run_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("automation_runs.id", ondelete="CASCADE"))
    action_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())


class AutomationDelay(UUIDKey, TenantBase):
    """A run waiting until ``due_at`` to go on with action ``resume_index``."""

    __tablename__ = "automation_delays"
    __table_args__ = (
        UniqueConstraint("run_id", "resume_index", name="uq_automation_delays_run_index"),
        Index("ix_automation_delays_due", "due_at", postgresql_where=text("fired_at IS NULL")),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("automation_runs.id", ondelete="CASCADE"))
    resume_index: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    fired_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class StaffAlert(UUIDKey, TenantBase):
    """A notification to one staff member (by user id) in the workspace."""

    __tablename__ = "staff_alerts"
    __table_args__ = (
        Index("ix_staff_alerts_staff_time", "staff_id", "created_at"),
        # one alert per member and source (a journal entry or form submission): a risk alert is
        # raised once whether the core rule or a playbook gets there first, and a retried job adds none
        Index("uq_staff_alerts_source", "staff_id", "source_id", unique=True, postgresql_where=text("source_id IS NOT NULL")),
    )

    staff_id: Mapped[uuid.UUID] = mapped_column(GUID)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"), nullable=True)
    run_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("automation_runs.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
    read_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    #: what the alert is about: ``note`` or ``form_submission`` and the journal entry's id (risk alerts)
    source_kind: Mapped[str | None] = mapped_column(String(24), nullable=True)
    source_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)


#: delivery states of an outbound email: queued (waiting for its next attempt), sending (claimed by
#: a sender until ``next_attempt_at``), sent, failed (``last_error`` says why), skipped (a marketing
#: email to a recipient who opted out)
OUTBOUND_STATUSES = ("queued", "sending", "sent", "failed", "skipped")
#: transactional (receipts, payment reminders: always sent) or marketing (surveys, news: carry
#: List-Unsubscribe and respect an opt-out)
EMAIL_CATEGORIES = ("transactional", "marketing")


class OutboundEmail(UUIDKey, TenantBase):
    """An email to send, once: ``idempotency_key`` is unique; the address is encrypted.

    ``body`` (plain text) and ``html_body`` are rendered in ``language`` when queued;
    ``recipient_bidx`` (the address's blind index) finds an opt-out without decrypting. The
    delivery state (``status``, ``attempts``, ``next_attempt_at``, ``last_error``) is kept by
    :mod:`anima.mail.tenant_sender`; ``last_error`` holds a server's reason, never content.
    """

    __tablename__ = "outbound_emails"
    __table_args__ = (
        CheckConstraint("status IN ('queued','sending','sent','failed','skipped')", name="status_valid"),
        CheckConstraint("category IN ('transactional','marketing')", name="category_valid"),
        Index("ix_outbound_emails_due", "next_attempt_at", postgresql_where=text("status IN ('queued','sending')")),
    )

    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"), nullable=True)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    recipient_enc: Mapped[bytes] = mapped_column(EncryptedText)
    template: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    html_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    category: Mapped[str] = mapped_column(String(16), default="transactional", server_default="transactional")
    recipient_bidx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: an iCalendar object (RFC 5545/5546, with its METHOD) sent as a ``text/calendar`` part
    calendar: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: when the current attempt handed the message to the server (see :mod:`anima.mail.sender`)
    handed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
