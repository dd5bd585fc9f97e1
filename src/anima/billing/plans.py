"""The plan catalog: every tier's limits and features as data, in one place.

Code asks the catalog (``plan_for(tier).limit("patients")``, ``.has("risk_auto_block")``); it never
compares tier names. Numbers other than patients are Anima's choice, documented in the README.
``None`` as a limit means unlimited.

``application_fee_bps`` is the platform's fee on what a practice's patients pay through Stripe
Connect, in basis points of the amount (100 = 1 %; zero means none), applied as Checkout's
``application_fee_amount`` by :func:`application_fee_minor` (rounded half up to a whole minor unit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: limit name -> what it counts, for messages and the usage widget
LIMIT_LABELS: dict[str, str] = {
    "patients": "patients (active records)",
    "staff_seats": "staff seats (members)",
    "active_services": "active services",
    "ai_analyses_per_month": "AI analyses per month",
}


@dataclass(frozen=True)
class Plan:
    """One tier: its limits (None = unlimited), its features and its display order."""

    tier: str
    rank: int
    limits: dict[str, int | None]
    features: frozenset[str] = field(default_factory=frozenset)
    price_description: str = ""
    #: the platform's fee on patients' card payments, basis points (0 = none)
    application_fee_bps: int = 0

    def limit(self, name: str) -> int | None:
        return self.limits[name]

    def has(self, feature: str) -> bool:
        return feature in self.features


CATALOG: dict[str, Plan] = {
    "BUILDER": Plan(
        tier="BUILDER",
        rank=0,
        limits={"patients": 3, "staff_seats": 3, "active_services": 3, "ai_analyses_per_month": 10},
        features=frozenset({"risk_alerts"}),
        price_description="free",
        application_fee_bps=150,
    ),
    "PRO": Plan(
        tier="PRO",
        rank=1,
        limits={"patients": 50, "staff_seats": 10, "active_services": 25, "ai_analyses_per_month": 300},
        features=frozenset({"risk_alerts", "custom_forms", "playbooks"}),
        price_description="paid monthly (STRIPE_PRICE_PRO)",
        application_fee_bps=50,
    ),
    "CENTER": Plan(
        tier="CENTER",
        rank=2,
        limits={"patients": 150, "staff_seats": 50, "active_services": 100, "ai_analyses_per_month": 2000},
        features=frozenset({"risk_alerts", "risk_auto_block", "custom_forms", "playbooks", "retreats"}),
        price_description="paid monthly (STRIPE_PRICE_CENTER)",
        application_fee_bps=0,
    ),
}


def plan_for(tier: str) -> Plan:
    """The plan of ``tier``; KeyError for an unknown tier."""
    return CATALOG[tier]


def lifting_tier(limit: str, needed: int) -> str | None:
    """The lowest tier whose ``limit`` allows at least ``needed`` (None when no tier does)."""
    for plan in sorted(CATALOG.values(), key=lambda p: p.rank):
        allowed = plan.limit(limit)
        if allowed is None or allowed >= needed:
            return plan.tier
    return None


def application_fee_minor(tier: str, amount_minor: int) -> int:
    """The platform's fee on ``amount_minor`` for a practice on ``tier``, in the same minor units.

    ``amount × bps / 10 000`` rounded half up with integer arithmetic (``(a·bps + 5 000) // 10 000``);
    never more than the amount. KeyError for an unknown tier.
    """
    bps = plan_for(tier).application_fee_bps
    return min(amount_minor, (amount_minor * bps + 5_000) // 10_000)
