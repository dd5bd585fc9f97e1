"""The ghost detector runs in the tenant's automation tick: LEAD_GHOSTED once per quiet spell.

A lead not contacted for over 7 days (from creation when never contacted) is reported once; a
contact clears the report, so another quiet week reports it again. Terminal and merged leads are
never reported. The due-work index notes the tenant when a lead's ghost moment is the earliest.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa

from anima.events.due_work import WorkKind
from tests.conftest import signup
from tests.integration.events_support import in_tenant, tenant_id_of
from tests.integration.test_event_sources import pipeline, tick


async def backdate(db, slug: str, lid: str, days: int, column: str = "created_at") -> None:
    await in_tenant(db, slug, f"UPDATE leads SET {column} = now() - make_interval(days => :d) WHERE id = :i", {"d": days, "i": lid})


async def ghost_events(db, slug: str) -> list[dict]:
    return [r[0] for r in await in_tenant(db, slug, "SELECT payload FROM outbox_events WHERE type = 'LEAD_GHOSTED' ORDER BY occurred_at")]


async def test_a_quiet_lead_is_reported_once_per_quiet_spell(client, db):
    org = await signup(client)
    tid = await tenant_id_of(db, org.slug)
    base = f"/api/v1/orgs/{org.slug}/leads"
    ids = []
    for name in ("Quiet", "Fresh", "Lost"):
        created = await client.post(base, json={"first_name": name}, headers=org.headers)
        assert created.status_code == 201
        ids.append(created.json()["id"])
    quiet, fresh, lost = ids
    assert (await client.post(f"{base}/{lost}/move", json={"stage": "LOST", "reason": "no"}, headers=org.headers)).status_code == 200
    # creating a lead notes the tenant's tick for its ghost moment, 7 days on
    async with db.admin.connect() as conn:
        due = (await conn.execute(sa.text("SELECT min(due_at) FROM platform.tenant_work WHERE tenant_id = :t AND kind = :k"),
                                  {"t": tid, "k": str(WorkKind.TICK)})).scalar_one()
    ahead = due - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=6, hours=23) < ahead <= datetime.timedelta(days=7)

    await backdate(db, org.slug, quiet, 8)
    await backdate(db, org.slug, lost, 30)
    await backdate(db, org.slug, fresh, 6)

    async with pipeline(db) as (svc, _):
        assert (await tick(svc, tid))["lead_ghosts"] == 1
        assert await ghost_events(db, org.slug) == [{"lead_id": quiet, "stage": "NEW", "days": 8}]
        assert (await tick(svc, tid))["lead_ghosts"] == 0  # once

        contacted = await client.post(f"{base}/{quiet}/contact", headers=org.headers)
        assert contacted.status_code == 200 and contacted.json()["freshness"] == "green"
        assert (await tick(svc, tid))["lead_ghosts"] == 0
        await backdate(db, org.slug, quiet, 9, column="last_contacted_at")
        assert (await tick(svc, tid))["lead_ghosts"] == 1  # a new quiet spell
    rows = await ghost_events(db, org.slug)
    assert [r["lead_id"] for r in rows] == [quiet, quiet] and rows[1]["days"] == 9


async def test_lead_events_trigger_playbooks(client, db):
    """A playbook rule on LEAD_CREATED (conditions on the payload's ``event.source``) and one on
    LEAD_GHOSTED alert the owners: lead events are ordinary triggers of the rule language."""
    import json
    import uuid

    from anima.domains.automations.rules import validate_rule
    from tests.integration.test_playbooks_e2e import relay_until

    org = await signup(client, tier="PRO")
    tid = await tenant_id_of(db, org.slug)
    rules = {
        "LEAD_CREATED": ([{"fact": "event.source", "op": "eq", "value": "AD"}],
                         [{"type": "alert_staff", "to": "owners", "message": "A new lead from an ad: call within the hour"}]),
        "LEAD_GHOSTED": ([], [{"type": "alert_staff", "to": "owners", "message": "A lead went quiet for a week"}]),
    }
    for trigger, (conditions, actions) in rules.items():
        validate_rule(trigger, conditions, actions)
        await in_tenant(db, org.slug, "INSERT INTO automation_rules (id, name, trigger, conditions, actions, enabled) "
                        "VALUES (:i, :n, :t, CAST(:c AS jsonb), CAST(:a AS jsonb), true)",
                        {"i": str(uuid.uuid4()), "n": trigger, "t": trigger, "c": json.dumps(conditions), "a": json.dumps(actions)})
    base = f"/api/v1/orgs/{org.slug}/leads"
    for source in ("AD", "SOCIAL"):
        assert (await client.post(base, json={"first_name": "Ad", "source": source}, headers=org.headers)).status_code == 201
    quiet = (await client.post(base, json={"first_name": "Quiet"}, headers=org.headers)).json()["id"]
    await backdate(db, org.slug, quiet, 10)
    async with pipeline(db) as (svc, relay):
        assert (await tick(svc, tid))["lead_ghosts"] == 1
        items = await relay_until(client, org, relay, tid, lambda rs: len([r for r in rs if r["status"] == "SUCCEEDED"]) == 2)
    alerts = (await client.get(f"/api/v1/orgs/{org.slug}/alerts", headers=org.headers)).json()["items"]
    assert sorted(a["message"] for a in alerts) == ["A lead went quiet for a week", "A new lead from an ad: call within the hour"]
    succeeded = sorted(r["rule_name"] for r in items if r["status"] == "SUCCEEDED")
    assert succeeded == ["LEAD_CREATED", "LEAD_GHOSTED"]  # the SOCIAL and the quiet lead's LEAD_CREATED met no condition
