"""The rule language of playbooks: shapes (msgspec), facts and condition evaluation.

See :mod:`anima.domains.automations.templates` for the language in prose. A rule is validated
with :func:`validate_rule` before it is stored; bad rules raise ``InvalidInput`` naming the field.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, Literal

import msgspec

from anima.events.types import EVENT_TYPES
from anima.problems import InvalidInput

Op = Literal["eq", "ne", "in", "gte", "lte", "exists"]
FactName = Annotated[str, msgspec.Meta(pattern=r"^(event|plan|patient|payment|booking|service)\.[a-z_]{1,40}$")]


class Condition(msgspec.Struct, forbid_unknown_fields=True):
    fact: FactName
    op: Op
    value: Any = None


Recipients = Literal["patient", "care_team", "owners"]
StaffRecipients = Literal["care_team", "owners"]


class SendEmail(msgspec.Struct, tag="send_email", forbid_unknown_fields=True):
    to: Recipients
    template: Literal["payment_reminder", "retreat_survey", "generic"]
    when: list[Condition] = []


class SendSms(msgspec.Struct, tag="send_sms", forbid_unknown_fields=True):
    """Text the event's patient, or the lead of a lead event (``to: lead``), only with a current
    SMS consent; nothing when SMS is off."""

    to: Literal["patient", "lead"]
    template: Literal["payment_reminder", "generic", "speed_to_lead"]
    when: list[Condition] = []


class AlertStaff(msgspec.Struct, tag="alert_staff", forbid_unknown_fields=True):
    to: StaffRecipients
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=400)]
    severity: Literal["info", "warning", "critical"] = "warning"
    when: list[Condition] = []


class BlockPatient(msgspec.Struct, tag="block_patient", forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    when: list[Condition] = []


class MoveStage(msgspec.Struct, tag="move_stage", forbid_unknown_fields=True):
    stage: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,32}$")]
    when: list[Condition] = []


class RequestAnalysis(msgspec.Struct, tag="request_analysis", forbid_unknown_fields=True):
    when: list[Condition] = []


class AssignForm(msgspec.Struct, tag="assign_form", forbid_unknown_fields=True):
    form: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,60}$")]
    when: list[Condition] = []


class Delay(msgspec.Struct, tag="delay", forbid_unknown_fields=True):
    minutes: Annotated[int, msgspec.Meta(ge=0, le=60 * 24 * 365)] = 0
    hours: Annotated[int, msgspec.Meta(ge=0, le=24 * 365)] = 0
    days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 0

    @property
    def delta(self) -> datetime.timedelta:
        return datetime.timedelta(minutes=self.minutes, hours=self.hours, days=self.days)


Action = SendEmail | SendSms | AlertStaff | BlockPatient | MoveStage | RequestAnalysis | AssignForm | Delay
ACTION_TYPES = ("send_email", "alert_staff", "block_patient", "move_stage", "request_analysis", "assign_form", "delay")


class Rule(msgspec.Struct, forbid_unknown_fields=True):
    trigger: str
    conditions: Annotated[list[Condition], msgspec.Meta(max_length=20)]
    actions: Annotated[list[Action], msgspec.Meta(min_length=1, max_length=20)]


def validate_rule(trigger: str, conditions: list[dict[str, Any]], actions: list[dict[str, Any]]) -> Rule:
    """Parse a rule's JSON into :class:`Rule`. Raises InvalidInput (field and rule named)."""
    if trigger not in EVENT_TYPES:
        raise InvalidInput.field("trigger", "event-type", f"{trigger!r} is not an event type")
    try:
        rule = msgspec.convert({"trigger": trigger, "conditions": conditions, "actions": actions}, Rule)
    except msgspec.ValidationError as exc:
        path = re.search(r"at `\$\.([^`]+)`", str(exc))
        raise InvalidInput.field(path.group(1) if path else "actions", "rule-shape", str(exc)) from None
    if trigger == "BOOKING_UPCOMING":
        _check_upcoming(rule.conditions)
    return rule


#: the widest "before the session" offset, in hours (30 days)
MAX_HOURS_BEFORE = 720


def _check_upcoming(conditions: list[Condition]) -> None:
    """A ``BOOKING_UPCOMING`` rule's time: ``event.hours_before`` compared with ``eq`` to a whole
    number of hours in [1, 720] (24 when the rule names none); the booking engine writes a due
    row at that moment before each confirmed session, so the rule fires then, not at booking time."""
    for index, condition in enumerate(conditions):
        if condition.fact != "event.hours_before":
            continue
        value = condition.value
        if condition.op != "eq" or isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_HOURS_BEFORE:
            raise InvalidInput.field(f"conditions[{index}]", "hours-before",
                                     f"event.hours_before is compared with eq to whole hours from 1 to {MAX_HOURS_BEFORE}")


def parse_actions(actions: list[dict[str, Any]]) -> list[Action]:
    """The stored actions of a rule (validated when stored)."""
    return msgspec.convert(actions, list[Action])


def parse_conditions(conditions: list[dict[str, Any]]) -> list[Condition]:
    return msgspec.convert(conditions, list[Condition])


_MISSING = object()


def holds(condition: Condition, facts: dict[str, Any]) -> bool:
    """Whether ``condition`` holds on ``facts`` (a missing fact satisfies only ``ne``)."""
    value = facts.get(condition.fact, _MISSING)
    if condition.op == "exists":
        return (value is not _MISSING and value is not None) == bool(condition.value if condition.value is not None else True)
    if value is _MISSING:
        return condition.op == "ne"
    try:
        match condition.op:
            case "eq":
                return value == condition.value
            case "ne":
                return value != condition.value
            case "in":
                return value in (condition.value or [])
            case "gte":
                return value >= condition.value
            case "lte":
                return value <= condition.value
    except TypeError:
        return False
    return False


def all_hold(conditions: list[Condition], facts: dict[str, Any]) -> bool:
    return all(holds(c, facts) for c in conditions)


_PLACEHOLDER = re.compile(r"\{([a-z]+\.[a-z_]+)\}")


def render(text: str, facts: dict[str, Any]) -> str:
    """Replace ``{fact.name}`` placeholders with facts (unknown ones become empty)."""
    return _PLACEHOLDER.sub(lambda m: str(facts.get(m.group(1)) or ""), text).strip()
