"""Lead stage sequences as a property, through the API.

Any sequence of moves and conversions is applied to a fresh lead; a model restating the rules
independently says which must pass: among NEW, CONTACTED and QUALIFIED any move to another stage;
from those to LOST (with a reason); LOST reopens into NEW, CONTACTED or QUALIFIED but converts
no more; a conversion from an open stage; nothing leaves CONVERTED; no move to the current stage.
Every accepted step adds exactly one outbox event for the lead (LEAD_STAGE_CHANGED naming from and
to, or LEAD_CONVERTED), every refused one a 409 naming from and to and no event, and the lead ends
where the model says.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import signup
from tests.integration.events_support import in_tenant

OPEN = {"NEW", "CONTACTED", "QUALIFIED"}
STEPS = ["NEW", "CONTACTED", "QUALIFIED", "LOST", "convert"]


def allowed(current: str, step: str) -> bool:
    if current == "CONVERTED":
        return False
    if step == "convert":
        return current in OPEN
    return step != current


@pytest.fixture(scope="module")
async def practice(client):
    return await signup(client, tier="CENTER")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(st.sampled_from(STEPS), min_size=1, max_size=7))
async def test_only_valid_moves_pass_and_each_emits_one_event(client, db, practice, steps):
    org = practice
    base = f"/api/v1/orgs/{org.slug}/leads"
    created = await client.post(base, json={"first_name": "Prop"}, headers=org.headers)
    assert created.status_code == 201, created.text
    lid = created.json()["id"]
    stage, expected = "NEW", [("LEAD_CREATED", None, None)]
    for step in steps:
        if step == "convert":
            response = await client.post(f"{base}/{lid}/convert", headers=org.headers)
        else:
            body = {"stage": step, **({"reason": "no answer"} if step == "LOST" else {})}
            response = await client.post(f"{base}/{lid}/move", json=body, headers=org.headers)
        target = "CONVERTED" if step == "convert" else step
        if allowed(stage, step):
            assert response.status_code == 200, (stage, step, response.text)
            assert response.json()["stage"] == target
            expected.append(("LEAD_CONVERTED" if step == "convert" else "LEAD_STAGE_CHANGED", stage, target))
            stage = target
            event(f"accepted {step}")
        else:
            assert response.status_code == 409, (stage, step, response.text)
            assert (response.json()["from"], response.json()["to"]) == (stage, target)
            event("refused")
    rows = await in_tenant(db, org.slug, "SELECT type, payload FROM outbox_events WHERE payload->>'lead_id' = :l ORDER BY occurred_at, id",
                           {"l": lid})
    assert [(t, p.get("from"), p.get("to", "CONVERTED" if t == "LEAD_CONVERTED" else None)) for t, p in rows] == expected
    final = (await client.get(f"{base}/{lid}", headers=org.headers)).json()
    assert final["stage"] == stage and (final["patient_id"] is not None) == (stage == "CONVERTED")
