"""The Stripe webhook: refused unless signed and fresh and well-formed, processed once, order-independent."""

from __future__ import annotations

import datetime
import json
import secrets
import time

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import signup
from tests.integration.billing_support import (  # noqa: F401 - fixtures
    WEBHOOK,
    now,
    paid_client,
    post_event,
    scalar,
    stripe_settings,
    stripe_stub,
    tenant_row,
)
from tests.stripe_stub import (
    PRICE_CENTER,
    PRICE_PRO,
    WEBHOOK_SECRET,
    checkout_completed_object,
    event,
    invoice_object,
    sign,
    subscription_object,
)

DAY = 86400
GRACE_DAYS = 7
PRICES = {"PRO": PRICE_PRO, "CENTER": PRICE_CENTER}
ENTITLED = {"active", "trialing"}


@pytest.fixture(scope="module")
async def subscriber(paid_client, db):
    """A tenant that went through Checkout (its Stripe customer is linked)."""
    org = await signup(paid_client)
    assert (await paid_client.post(f"/api/v1/orgs/{org.slug}/billing/checkout", json={"tier": "PRO"}, headers=org.headers)).status_code == 200
    tenant = await tenant_row(db, org.slug)
    customer = await scalar(db, "SELECT stripe_customer_id FROM platform.billing_accounts WHERE tenant_id = :t", t=tenant.id)
    return org, tenant.id, customer


async def _state(db, tenant_id: int) -> tuple[str, int, int]:
    async with db.admin.connect() as conn:
        row = (
            await conn.execute(
                sa.text(
                    "SELECT t.tier, (SELECT count(*) FROM platform.billing_events) AS events, "
                    "(SELECT count(*) FROM platform.tier_changes WHERE tenant_id = t.id) AS changes "
                    "FROM platform.tenants t WHERE t.id = :t"
                ),
                {"t": tenant_id},
            )
        ).one()
    return row.tier, row.events, row.changes


async def test_unsigned_wrongly_signed_stale_and_malformed_webhooks_are_refused(paid_client, db, subscriber):
    _, tenant_id, customer = subscriber
    good = event("customer.subscription.created",
                 subscription_object("sub_" + secrets.token_hex(6), customer, "active", PRICE_CENTER, created=now(), tenant_id=tenant_id),
                 created=now())
    payload = json.dumps(good)
    before = await _state(db, tenant_id)
    cases = {
        "unsigned": {},
        "garbage header": {"Stripe-Signature": "garbage"},
        "wrong secret": {"Stripe-Signature": sign(payload, secret="whsec_someone_else")},
        "stale": {"Stripe-Signature": sign(payload, timestamp=int(time.time()) - 301)},
        "future": {"Stripe-Signature": sign(payload, timestamp=int(time.time()) + 600)},
        "other payload": {"Stripe-Signature": sign(payload.replace(PRICE_CENTER, PRICE_PRO))},
    }
    for name, headers in cases.items():
        response = await paid_client.post(WEBHOOK, content=payload, headers=headers)
        assert response.status_code == 400, (name, response.text)
        problem = response.json()
        assert problem["type"].endswith("/invalid-webhook") and problem["errors"][0]["field"] == "Stripe-Signature", name
    malformed = {
        "not json": "{not json",
        "not an object": "[1, 2]",
        "no id": json.dumps({**good, "id": None}),
        "no created": json.dumps({k: v for k, v in good.items() if k != "created"}),
        "no object": json.dumps({**good, "data": {}}),
        "wrong object": json.dumps({**good, "data": {"object": {"object": "invoice", "id": "in_1"}}}),
        "unknown status": json.dumps({**good, "data": {"object": {**good["data"]["object"], "status": "gold"}}}),
    }
    for name, body in malformed.items():
        response = await paid_client.post(WEBHOOK, content=body, headers={"Stripe-Signature": sign(body)})
        assert response.status_code == 400, (name, response.text)
        assert response.json()["type"].endswith("/invalid-webhook") and response.json()["errors"], name
    assert await _state(db, tenant_id) == before  # nothing recorded, no tier moved
    accepted = await paid_client.post(WEBHOOK, content=payload, headers={"Stripe-Signature": sign(payload)})
    assert accepted.status_code == 200 and accepted.json()["result"] == "processed"
    assert (await _state(db, tenant_id))[0] == "CENTER"


async def test_unknown_event_types_are_acknowledged_and_ignored(paid_client, db, subscriber):
    _, tenant_id, customer = subscriber
    before = await _state(db, tenant_id)
    for kind, obj in (
        ("customer.created", {"id": customer, "object": "customer"}),
        ("charge.refunded", {"id": "ch_1", "object": "charge", "customer": customer}),
        ("v2.core.future_thing", {"anything": True}),
    ):
        response = await post_event(paid_client, event(kind, obj, created=now()))
        assert response.status_code == 200 and response.json() == {"received": True, "result": "ignored"}, response.text
    assert await _state(db, tenant_id) == before


# --- order independence ---------------------------------------------------------------------

# Each scenario: (status, tier, seconds after the start, event type) in Stripe's time, the order
# of delivery, and the status the fold must end on. Every scenario starts 30 days ago, so any
# grace period is over and a lapsed subscription leaves the tenant on BUILDER. Delivery is chosen
# so that folding in arrival order (the table's physical order) ends on another answer; in the
# first two, folding in timestamp order (what an index on (subscription, event_created) returns,
# so a fold that trusts the database's order) ends on another answer too.
ORDER_SCENARIOS = {
    # a late update stamped after the cancellation: cancelled is final whatever its timestamp
    "stale-update-after-cancel": (
        [("active", "PRO", 0, "created"), ("canceled", "PRO", 10, "deleted"), ("active", "CENTER", 20, "updated")],
        [1, 2, 0], "canceled", "BUILDER", True,
    ),
    # two reports of the same second: the later lifecycle state (past_due after active) wins
    "same-second-tie": (
        [("active", "CENTER", 0, "created"), ("past_due", "CENTER", 100, "updated"), ("active", "CENTER", 100, "updated")],
        [0, 1, 2], "past_due", "BUILDER", True,
    ),
    # plain reordering: the newest timestamp wins over the last arrival
    "newest-timestamp": (
        [("active", "PRO", 0, "created"), ("active", "CENTER", 3600, "updated"), ("past_due", "CENTER", 7200, "updated")],
        [2, 1, 0], "past_due", "BUILDER", False,
    ),
}


@pytest.mark.parametrize("scenario", sorted(ORDER_SCENARIOS))
async def test_out_of_order_delivery_folds_by_stripe_time_not_by_arrival(paid_client, db, subscriber, scenario):
    _, tenant_id, customer = subscriber
    reports, delivery, final_status, final_tier, time_order_differs = ORDER_SCENARIOS[scenario]
    start = now() - 30 * DAY
    sub = "sub_" + secrets.token_hex(8)
    events = [
        event(f"customer.subscription.{kind}",
              subscription_object(sub, customer, status, PRICES[tier], created=start, tenant_id=tenant_id), created=start + offset)
        for status, tier, offset, kind in reports
    ]
    async with db.admin.begin() as conn:  # a fresh start for this tenant's billing, on a paid tier
        await conn.execute(sa.text("DELETE FROM platform.subscriptions WHERE tenant_id = :t"), {"t": tenant_id})
        await conn.execute(sa.text("UPDATE platform.tenants SET tier = 'CENTER' WHERE id = :t"), {"t": tenant_id})
    for i in delivery:
        response = await post_event(paid_client, events[i])
        assert response.status_code == 200, response.text
    # neither order the database could hand the rows back in ends on the right state by accident
    async with db.admin.connect() as conn:
        physical = (await conn.execute(sa.text(
            "SELECT status FROM platform.billing_events WHERE stripe_subscription_id = :s ORDER BY ctid"), {"s": sub})).scalars().all()
        by_time = (await conn.execute(sa.text(
            "SELECT status FROM platform.billing_events WHERE stripe_subscription_id = :s ORDER BY event_created, ctid"), {"s": sub}
        )).scalars().all()
    assert len(physical) == len(by_time) == len(reports)
    assert physical[-1] != final_status, physical
    assert (by_time[-1] != final_status) is time_order_differs, by_time
    status = await scalar(db, "SELECT status FROM platform.subscriptions WHERE stripe_subscription_id = :s", s=sub)
    tier = await scalar(db, "SELECT tier FROM platform.tenants WHERE id = :t", t=tenant_id)
    assert (status, tier) == (final_status, final_tier)


status_st = st.sampled_from(["active", "trialing", "past_due", "unpaid"])
timeline_st = st.tuples(
    st.lists(st.tuples(status_st, st.sampled_from(["PRO", "CENTER"])), min_size=1, max_size=6),
    st.booleans(),  # ends canceled
    st.sampled_from(["spread", "recent", "old"]),
)


def _timestamps(n: int, when: str, draw_step) -> list[int]:
    t = int(time.time())
    if when == "spread":  # every 3 days, the last half a day ago: grace ends are never near "now"
        return [t - DAY // 2 - 3 * DAY * (n - 1 - i) for i in range(n)]
    steps = [draw_step() for _ in range(n)]
    start = t - 7200 if when == "recent" else t - 60 * DAY
    out, current = [], start
    for step in steps:
        current += step
        out.append(current)
    return out


def _expected_tier(states: list[tuple[str, str]], stamps: list[int]) -> str:
    """The model: the latest state decides; a lapse keeps the tier for the grace period after the
    first non-paying state that follows the last paying one."""
    status, tier = states[-1]
    if status in ENTITLED:
        return tier
    paying = [i for i, (s, _) in enumerate(states) if s in ENTITLED]
    if not paying:
        return "BUILDER"
    lapsed_at = stamps[paying[-1] + 1]
    return tier if time.time() < lapsed_at + GRACE_DAYS * DAY else "BUILDER"


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=timeline_st, data=st.data())
async def test_any_order_and_duplication_of_events_ends_on_the_latest_state(paid_client, db, subscriber, spec, data):
    _, tenant_id, customer = subscriber
    states, cancel, when = spec
    if cancel:
        states = [*states, ("canceled", states[-1][1])]
    small = [1, 2, 60] if when == "recent" else [1, 3600, 2 * DAY]
    stamps = _timestamps(len(states), when, lambda: data.draw(st.sampled_from(small)))
    sub = "sub_" + secrets.token_hex(8)
    events = []
    for i, ((status, tier), ts) in enumerate(zip(states, stamps)):
        kind = "customer.subscription.deleted" if status == "canceled" else (
            "customer.subscription.created" if i == 0 else "customer.subscription.updated")
        obj = subscription_object(sub, customer, status, PRICES[tier], created=stamps[0], tenant_id=tenant_id)
        events.append(event(kind, obj, created=ts))
        if status == "active" and data.draw(st.booleans()):
            events.append(event("invoice.paid", invoice_object(sub, customer, PRICES[tier], paid=True, created=ts), created=ts))
        if status == "past_due" and data.draw(st.booleans()):
            events.append(event("invoice.payment_failed", invoice_object(sub, customer, PRICES[tier], paid=False, created=ts), created=ts))
        if i == 0 and status == "active" and data.draw(st.booleans()):
            events.append(event("checkout.session.completed",
                                checkout_completed_object(customer, sub, tenant_id=tenant_id, tier=tier, created=ts), created=ts))
    duplicates = data.draw(st.lists(st.sampled_from(range(len(events))), max_size=4))
    delivery = data.draw(st.permutations(events + [events[i] for i in duplicates]))

    async with db.admin.begin() as conn:  # a fresh start for this tenant's billing
        await conn.execute(sa.text("DELETE FROM platform.subscriptions WHERE tenant_id = :t"), {"t": tenant_id})
        await conn.execute(sa.text("UPDATE platform.tenants SET tier = 'BUILDER' WHERE id = :t"), {"t": tenant_id})
    results = []
    for item in delivery:
        response = await post_event(paid_client, item)
        assert response.status_code == 200, response.text
        results.append(response.json()["result"])
    assert results.count("duplicate") == len(duplicates)
    expected = _expected_tier(states, stamps)
    assert (await tenant_row(db, (await scalar(db, "SELECT slug FROM platform.tenants WHERE id = :t", t=tenant_id)))).tier == expected, (
        states, when, [e["type"] for e in delivery])
    status = await scalar(db, "SELECT status FROM platform.subscriptions WHERE stripe_subscription_id = :s", s=sub)
    assert status == states[-1][0]


def test_the_test_secret_is_what_the_stub_signs_with():
    header = sign("{}", timestamp=1700000000)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64 and WEBHOOK_SECRET.startswith("whsec_")


def test_timestamps_of_the_spread_scenario_keep_away_from_grace_boundaries():
    stamps = _timestamps(7, "spread", lambda: 1)
    margins = [abs(s + GRACE_DAYS * DAY - time.time()) for s in stamps]
    assert min(margins) > DAY / 4 and max(stamps) < time.time()
    assert datetime.datetime.fromtimestamp(stamps[-1]) < datetime.datetime.now()
