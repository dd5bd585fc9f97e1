"""Plan limits as a property: any sequence of creations, archives, restores and tier changes
(downgrades included) across patients, services and staff seats, made through the API.

A model keeps what should be active and archived. Each creation or restore must pass exactly
when the model is under the current plan's allowance, and be a 403 ``plan-limit-reached`` naming
the limit otherwise; so the API never takes a tenant over its plan. A tier change passes and
moves nothing: after it every item is still listed and readable (a downgrade hides and deletes
nothing), and ``billing/usage`` reports the model's counts with ``over_limit`` when a downgrade
left more than the new plan allows.

One organization serves every example: each starts from what the previous one left (as that
example read it back from the API at its end), so examples cost requests, not signups.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from anima.billing.plans import plan_for
from tests.conftest import signup, unique_email
from tests.integration.billing_support import operator_headers  # noqa: F401 - fixture

KINDS = ("patients", "active_services", "staff_seats")
TIERS = ("BUILDER", "PRO")
SERVICE = {"kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 5000,
           "currency": "EUR", "location": "ONLINE"}

#: (operation, kind or tier, times in a row): bursts of creations reach a limit within a few steps
step = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(KINDS), st.integers(1, 4)),
    st.tuples(st.sampled_from(["archive", "restore"]), st.sampled_from(KINDS), st.integers(1, 2)),
    st.tuples(st.just("tier"), st.sampled_from(TIERS), st.just(1)),
)


@dataclass
class Model:
    """What the tenant should hold: ids of active and archived items per kind, and its tier."""

    tier: str
    active: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    archived: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})

    def used(self, kind: str) -> int:
        return len(self.active[kind]) + (1 if kind == "staff_seats" else 0)  # the owner holds a seat

    def room(self, kind: str) -> bool:
        return self.used(kind) < plan_for(self.tier).limit(kind)


@pytest.fixture(scope="module")
async def practice(client):
    """The one organization of every example, with the model of it the last example checked."""
    return {"org": await signup(client, tier="BUILDER"), "model": None}


async def _observe(client, org) -> Model:
    """The model of what the organization holds now, read through the API."""
    base = f"/api/v1/orgs/{org.slug}"
    usage = (await client.get(f"{base}/billing/usage", headers=org.headers)).json()
    model = Model(usage["tier"])
    for archived in (False, True):
        patients = (await client.get(f"{base}/patients", params={"limit": 200, "archived": archived}, headers=org.headers)).json()
        (model.archived if archived else model.active)["patients"].extend(p["id"] for p in patients["items"])
    for s in (await client.get(f"{base}/services", params={"limit": 200}, headers=org.headers)).json()["items"]:
        (model.active if s["active"] else model.archived)["active_services"].append(s["id"])
    invitations = (await client.get(f"{base}/invitations", params={"limit": 200}, headers=org.headers)).json()["items"]
    model.active["staff_seats"].extend(i["id"] for i in invitations if i["accepted_at"] is None and i["revoked_at"] is None)
    return model


async def _create(client, org, kind: str):
    base = f"/api/v1/orgs/{org.slug}"
    if kind == "patients":
        return await client.post(f"{base}/patients", json={"first_name": "Prop"}, headers=org.headers)
    if kind == "active_services":
        return await client.post(f"{base}/services", json={**SERVICE, "name": f"S {uuid.uuid4().hex[:8]}"}, headers=org.headers)
    return await client.post(f"{base}/invitations", json={"email": unique_email("seat"), "role": "ASSISTANT"}, headers=org.headers)


async def _archive(client, org, kind: str, item: str):
    base = f"/api/v1/orgs/{org.slug}"
    if kind == "patients":
        return await client.post(f"{base}/patients/{item}/archive", headers=org.headers)
    if kind == "active_services":
        return await client.patch(f"{base}/services/{item}", json={"active": False}, headers=org.headers)
    return await client.delete(f"{base}/invitations/{item}", headers=org.headers)  # a revoked invitation frees its seat


async def _restore(client, org, kind: str, item: str):
    base = f"/api/v1/orgs/{org.slug}"
    if kind == "patients":
        return await client.post(f"{base}/patients/{item}/restore", headers=org.headers)
    return await client.patch(f"{base}/services/{item}", json={"active": True}, headers=org.headers)


def _refused_for(response, kind: str) -> None:
    event(f"refused: {kind}")
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["type"].endswith("/plan-limit-reached") and body["limit"] == kind, body


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    grow=st.lists(st.tuples(st.just("create"), st.sampled_from(KINDS), st.integers(1, 4)), max_size=3),
    steps=st.lists(step, min_size=1, max_size=8),
)
async def test_no_sequence_takes_a_tenant_over_its_plan_and_downgrades_keep_everything(client, practice, operator_headers, grow, steps):
    """Each example grows the tenant on PRO and downgrades it to BUILDER (often over a limit,
    which is where hiding or deleting would show), then runs any sequence of steps."""
    org = practice["org"]
    model = practice["model"] or await _observe(client, org)  # each example checks its end state against the API
    practice["model"] = None  # until this example's end state is checked
    sequence = [("tier", "PRO", 1), *grow, ("tier", "BUILDER", 1), *steps]
    for op, arg in (item[:2] for item in sequence for _ in range(item[2])):
        if op == "tier":
            changed = await client.post(f"/api/v1/operator/tenants/{org.slug}/tier", json={"tier": arg, "reason": "property test"},
                                        headers=operator_headers)
            assert changed.status_code == 200 and changed.json()["tier"] == arg, changed.text
            model.tier = arg
            if any(model.used(k) > plan_for(arg).limit(k) for k in KINDS):
                event("a downgrade left the tenant over a limit")
            continue
        kind = arg
        if op == "create":
            room = model.room(kind)
            response = await _create(client, org, kind)
            if room:
                assert response.status_code == 201, response.text
                model.active[kind].append(response.json()["id"])
            else:
                _refused_for(response, kind)
        elif op == "archive":
            if not model.active[kind]:
                continue
            item = model.active[kind][-1]
            response = await _archive(client, org, kind, item)
            assert response.status_code in (200, 204), response.text
            model.active[kind].remove(item)
            if kind != "staff_seats":
                model.archived[kind].append(item)
        else:  # restore
            if kind == "staff_seats" or not model.archived[kind]:
                continue
            item = model.archived[kind][-1]
            room = model.room(kind)
            response = await _restore(client, org, kind, item)
            if room:
                assert response.status_code == 200, response.text
                model.archived[kind].remove(item)
                model.active[kind].append(item)
            else:
                _refused_for(response, kind)
        if op in ("create", "restore") and response.status_code < 300:
            assert model.used(kind) <= plan_for(model.tier).limit(kind)  # the API never took it over the plan
    # nothing hidden or deleted: the API holds exactly the model, every item readable
    observed = await _observe(client, org)
    assert observed.tier == model.tier
    for kind in KINDS:
        assert sorted(observed.active[kind]) == sorted(model.active[kind]), kind
        if kind != "staff_seats":
            assert sorted(observed.archived[kind]) == sorted(model.archived[kind]), kind
    usage = (await client.get(f"/api/v1/orgs/{org.slug}/billing/usage", headers=org.headers)).json()
    for row in usage["limits"]:
        if row["limit"] in KINDS:
            allowed = plan_for(model.tier).limit(row["limit"])
            assert (row["used"], row["allowed"], row["over_limit"]) == (model.used(row["limit"]), allowed, model.used(row["limit"]) > allowed), row
    base = f"/api/v1/orgs/{org.slug}"
    for item in model.active["patients"][-1:] + model.archived["patients"][-1:]:
        assert (await client.get(f"{base}/patients/{item}", headers=org.headers)).status_code == 200
    for item in model.active["active_services"][-1:] + model.archived["active_services"][-1:]:
        assert (await client.get(f"{base}/services/{item}", headers=org.headers)).status_code == 200
    practice["model"] = observed
