"""The system playbooks shipped with Anima, as data (seeded into ``platform.automation_templates``
by the platform migration ``0003_job_failures_automation_templates``; this module is the source of that copy and of tests).

The rule language (validated by :mod:`anima.domains.automations.rules`):

* ``trigger`` — an :class:`~anima.events.types.EventType`.
* ``conditions`` — all must hold for the run to start: ``{"fact", "op", "value"}`` with ``op`` one
  of ``eq ne in gte lte exists``; facts are ``event.<payload key>``, ``plan.<feature>`` (from the
  plan catalog, anima.billing.plans), ``patient.*``, ``payment.*``, ``booking.*``, ``service.*``.
* ``actions`` — in order; each may carry ``when`` (conditions checked when the action runs, after
  any delay): ``send_email``, ``alert_staff``, ``block_patient``, ``move_stage``,
  ``request_analysis``, ``assign_form``, ``delay``.

Installing a template needs its ``required_feature`` in the organization's plan: Escudo needs
``risk_alerts`` (every tier), Cobrador ``playbooks`` (PRO, CENTER), Fidelización ``retreats``
(CENTER: only it sells retreats). Escudo's tier rule is data: the block carries ``when plan.risk_auto_block`` — the catalog's
feature flag, true on CENTER only — and the alert has no such condition. A HIGH risk alerts the care
team and the owners on every tier even without Escudo (:mod:`anima.domains.automations.alerts`);
Escudo's alert about the same entry is unique per member with that one, so nobody is alerted
twice, and what Escudo adds is the block.
"""

from __future__ import annotations

from typing import Any

SYSTEM_TEMPLATES: list[dict[str, Any]] = [
    {
        "key": "escudo-de-seguridad",
        "required_feature": "risk_alerts",
        "name": "Escudo de Seguridad",
        "description": (
            "When the risk detector finds HIGH risk in a journal note, the patient's therapists are alerted; "
            "on tiers with automatic risk blocking (CENTER) the patient is also blocked from new bookings."
        ),
        "trigger": "RISK_DETECTED_IN_NOTE",
        "conditions": [{"fact": "event.level", "op": "eq", "value": "HIGH"}],
        "actions": [
            {
                "type": "block_patient",
                "reason": "high risk detected in a journal note",
                "when": [{"fact": "plan.risk_auto_block", "op": "eq", "value": True}],
            },
            {
                "type": "alert_staff",
                "to": "care_team",
                "severity": "critical",
                "message": "High risk detected in a journal note of {patient.first_name} {patient.last_name}. Review the record today.",
            },
        ],
        "version": 1,
    },
    {
        "key": "cobrador-automatico",
        "required_feature": "playbooks",
        "name": "Cobrador Automático",
        "description": "A payment request still pending 48 hours after it was made sends the patient a reminder.",
        "trigger": "PAYMENT_REQUESTED",
        "conditions": [],
        "actions": [
            {"type": "delay", "hours": 48},
            {
                "type": "send_email",
                "to": "patient",
                "template": "payment_reminder",
                "when": [{"fact": "payment.status", "op": "eq", "value": "PENDING"}],
            },
        ],
        "version": 1,
    },
    {
        "key": "fidelizacion-post-retiro",
        "required_feature": "retreats",
        "name": "Fidelización Post-Retiro",
        "description": "Seven days after a retreat booking (a FIXED_DATE service) is completed, the patient gets a satisfaction survey.",
        "trigger": "BOOKING_COMPLETED",
        "conditions": [{"fact": "service.scheduling", "op": "eq", "value": "FIXED_DATE"}],
        "actions": [
            {"type": "delay", "days": 7},
            {"type": "send_email", "to": "patient", "template": "retreat_survey"},
        ],
        "version": 1,
    },
]
