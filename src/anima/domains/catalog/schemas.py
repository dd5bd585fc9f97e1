"""Bodies of the services API. Prices are integers in minor units (cents) of an ISO 4217 currency."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

import msgspec

from anima.request_body import RequestBody

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
Duration = Annotated[int, msgspec.Meta(ge=5, le=43200, description="minutes, 5 to 43,200 (30 days)")]
PriceMinor = Annotated[int, msgspec.Meta(ge=0, le=100_000_000, description="minor units of the currency")]
Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Capacity = Annotated[int, msgspec.Meta(ge=2, le=10_000)]
LocationDetail = Annotated[str, msgspec.Meta(max_length=255)]
KindName = Literal["ONE_ON_ONE", "GROUP"]
SchedulingName = Literal["CALENDAR", "FIXED_DATE"]
LocationName = Literal["ONLINE", "IN_PERSON"]
Buffer = Annotated[int, msgspec.Meta(ge=0, le=1440, description="minutes of the therapist's time blocked, 0 to 1,440")]
Notice = Annotated[int, msgspec.Meta(ge=0, le=525600, description="least minutes between booking and start, 0 to 525,600")]
Horizon = Annotated[int, msgspec.Meta(ge=1, le=730, description="days ahead a booking may start, 1 to 730")]
Step = Annotated[int, msgspec.Meta(ge=5, le=1440, description="minutes between offered start times, 5 to 1,440")]
PayOnline = Literal["NONE", "FULL", "DEPOSIT"]
DepositMinor = Annotated[int, msgspec.Meta(ge=1, le=100_000_000, description="a fixed deposit in minor units, at most the price")]
DepositShare = Annotated[int, msgspec.Meta(ge=1, le=10_000, description="a deposit as basis points of the price, 1 to 10,000 (rounded half up)")]


class ServiceCreate(RequestBody):
    name: Name
    kind: KindName
    scheduling: SchedulingName
    duration_minutes: Duration
    price_minor: PriceMinor
    currency: Currency
    location: LocationName
    description: Description = ""
    capacity: Capacity | None = None
    location_detail: LocationDetail = ""
    active: bool = True
    public_booking: bool = True
    pay_online: str = "NONE"
    deposit_minor: int | None = None
    deposit_share_bp: int | None = None
    therapist_ids: list[uuid.UUID] = []
    buffer_before_minutes: Buffer = 0
    buffer_after_minutes: Buffer = 0
    min_notice_minutes: Notice = 120
    horizon_days: Horizon = 90
    slot_step_minutes: Step = 15
    pay_online: PayOnline = "NONE"
    deposit_minor: DepositMinor | None = None
    deposit_share_bp: DepositShare | None = None


class ServiceUpdate(RequestBody, omit_defaults=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    kind: KindName | msgspec.UnsetType = msgspec.UNSET
    scheduling: SchedulingName | msgspec.UnsetType = msgspec.UNSET
    duration_minutes: Duration | msgspec.UnsetType = msgspec.UNSET
    price_minor: PriceMinor | msgspec.UnsetType = msgspec.UNSET
    currency: Currency | msgspec.UnsetType = msgspec.UNSET
    capacity: Capacity | None | msgspec.UnsetType = msgspec.UNSET
    location: LocationName | msgspec.UnsetType = msgspec.UNSET
    location_detail: LocationDetail | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    public_booking: bool | msgspec.UnsetType = msgspec.UNSET
    buffer_before_minutes: Buffer | msgspec.UnsetType = msgspec.UNSET
    buffer_after_minutes: Buffer | msgspec.UnsetType = msgspec.UNSET
    min_notice_minutes: Notice | msgspec.UnsetType = msgspec.UNSET
    horizon_days: Horizon | msgspec.UnsetType = msgspec.UNSET
    slot_step_minutes: Step | msgspec.UnsetType = msgspec.UNSET
    pay_online: PayOnline | msgspec.UnsetType = msgspec.UNSET
    deposit_minor: DepositMinor | None | msgspec.UnsetType = msgspec.UNSET
    deposit_share_bp: DepositShare | None | msgspec.UnsetType = msgspec.UNSET


class TherapistAssignment(RequestBody):
    therapist_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)]


class TherapistOut(msgspec.Struct):
    id: uuid.UUID
    display_name: str


class ServiceOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    description: str
    kind: str
    scheduling: str
    duration_minutes: int
    price_minor: int
    currency: str
    capacity: int | None
    location: str
    location_detail: str
    active: bool
    therapists: list[TherapistOut]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    min_notice_minutes: int = 120
    horizon_days: int = 90
    slot_step_minutes: int = 15
    public_booking: bool = True
    pay_online: str = "NONE"
    deposit_minor: int | None = None
    deposit_share_bp: int | None = None
