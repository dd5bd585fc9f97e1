"""The plan catalog as data, and reading and folding Stripe events (pure functions)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anima.billing.subscription_state import MalformedEvent, StateReport, derive, parse_event
from anima.billing.plans import CATALOG, LIMIT_LABELS, lifting_tier, plan_for
from anima.billing.tiers import highest
from anima.billing.usage import limit_rows

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
GRACE = datetime.timedelta(days=7)


def test_tiers_and_patient_limits_are_the_ones_sold():
    assert [p.tier for p in sorted(CATALOG.values(), key=lambda p: p.rank)] == ["BUILDER", "PRO", "CENTER"]
    assert [plan_for(t).limit("patients") for t in ("BUILDER", "PRO", "CENTER")] == [3, 50, 150]
    assert plan_for("BUILDER").price_description == "free"


def test_every_plan_has_every_limit_and_higher_tiers_never_allow_less():
    ordered = sorted(CATALOG.values(), key=lambda p: p.rank)
    for plan in ordered:
        assert set(plan.limits) == set(LIMIT_LABELS), plan.tier
    for lower, higher in zip(ordered, ordered[1:]):
        for name in LIMIT_LABELS:
            a, b = lower.limit(name), higher.limit(name)
            assert b is None or (a is not None and b >= a), (name, lower.tier, higher.tier)
        assert lower.features <= higher.features


def test_features_are_flags_risk_auto_block_only_for_center():
    assert [t for t in CATALOG if CATALOG[t].has("risk_auto_block")] == ["CENTER"]
    assert all(plan.has("risk_alerts") for plan in CATALOG.values())


def test_lifting_tier_names_the_lowest_tier_that_fits():
    assert lifting_tier("patients", 4) == "PRO"
    assert lifting_tier("patients", 51) == "CENTER"
    assert lifting_tier("patients", 151) is None
    assert lifting_tier("active_services", 1) == "BUILDER"
    with pytest.raises(KeyError):
        plan_for("GOLD")


def test_limit_rows_mark_what_a_downgrade_left_over():
    rows = {r.limit: r for r in limit_rows("BUILDER", {"active_services": 5, "patients": 3})}
    assert rows["active_services"].over_limit and rows["active_services"].upgrade_to == "PRO"
    assert not rows["patients"].over_limit and rows["patients"].upgrade_to == "PRO"  # at the limit
    assert not rows["staff_seats"].over_limit and rows["staff_seats"].upgrade_to is None
    assert highest([None, "PRO", "BUILDER"]) == "PRO" and highest([]) == "BUILDER"


def test_parse_reads_both_api_shapes_and_refuses_malformed_events():
    sub = {"object": "subscription", "id": "sub_1", "customer": "cus_1", "status": "active", "metadata": {"tenant_id": "7"},
           "items": {"data": [{"price": {"id": "price_p"}, "current_period_end": 1_800_000_000}]}}
    report = parse_event({"id": "evt_1", "type": "customer.subscription.updated", "created": 1_700_000_000, "data": {"object": sub}})
    assert (report.subscription_id, report.status, report.price_id, report.tenant_hint) == ("sub_1", "active", "price_p", 7)
    old_invoice = {"object": "invoice", "id": "in_1", "customer": "cus_1", "subscription": "sub_1",
                   "lines": {"data": [{"price": {"id": "price_c"}}]}}
    report = parse_event({"id": "evt_2", "type": "invoice.payment_failed", "created": 1, "data": {"object": old_invoice}})
    assert (report.subscription_id, report.status, report.price_id) == ("sub_1", "past_due", "price_c")
    deleted = parse_event({"id": "evt_3", "type": "customer.subscription.deleted", "created": 1, "data": {"object": sub}})
    assert deleted.status == "canceled"
    for bad in (
        {"type": "invoice.paid", "created": 1, "data": {"object": {}}},
        {"id": "evt_4", "type": "invoice.paid", "created": "yesterday", "data": {"object": {}}},
        {"id": "evt_5", "type": "invoice.paid", "created": 1, "data": {"object": sub}},
        {"id": "evt_6", "type": "customer.subscription.updated", "created": 1, "data": {"object": {**sub, "status": "gold"}}},
    ):
        with pytest.raises(MalformedEvent):
            parse_event(bad)


def test_derive_keeps_canceled_final_and_counts_grace_from_the_first_lapse():
    at = lambda minutes: T0 + datetime.timedelta(minutes=minutes)  # noqa: E731
    reports = [StateReport("active", at(0), "PRO"), StateReport("past_due", at(10), "PRO"),
               StateReport("past_due", at(20), "PRO"), StateReport("canceled", at(5), "PRO")]
    state = derive(reports, GRACE)
    assert state is not None and state.status == "canceled" and state.grace_until == at(5) + GRACE
    assert state.tier_at(at(6)) == "PRO" and state.tier_at(at(5) + GRACE) is None
    never_paid = derive([StateReport("incomplete", at(0), "PRO"), StateReport("incomplete_expired", at(1), "PRO")], GRACE)
    assert never_paid is not None and never_paid.grace_until is None and never_paid.tier_at(at(2)) is None
    assert derive([], GRACE) is None


report_st = st.builds(
    StateReport,
    st.sampled_from(["active", "trialing", "past_due", "unpaid", "canceled", "incomplete"]),
    st.integers(0, 20).map(lambda m: T0 + datetime.timedelta(minutes=m)),
    st.sampled_from([None, "PRO", "CENTER"]),
)


@settings(max_examples=200, deadline=None)
@given(reports=st.lists(report_st, max_size=8), data=st.data())
def test_derive_depends_on_the_set_of_reports_only(reports, data):
    shuffled = data.draw(st.permutations(reports + reports[: data.draw(st.integers(0, len(reports)))]))
    assert derive(shuffled, GRACE) == derive(reports, GRACE)
