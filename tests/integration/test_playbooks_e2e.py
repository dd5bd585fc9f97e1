"""Automation playbooks end to end through HTTP, the outbox relay and a worker .

Escudo de Seguridad from a real journal note (risk detector job -> RISK_DETECTED_IN_NOTE), with
its tier rule (CENTER blocks and alerts; PRO alerts only); Cobrador Automático and Fidelización
Post-Retiro through their delays, fired by moving ``due_at`` into the past and running the tick.
A job that runs twice does no action twice.
"""

from __future__ import annotations

import datetime
from contextlib import asynccontextmanager

import pytest

from anima.jobs.queue import job_options
from anima.jobs.relay import Relay
from tests import clock
from tests.conftest import add_member, bearer, signup
from tests.integration.events_support import eventually, in_tenant, queue_settings, running_worker, services_for, tenant_id_of

CET = datetime.timezone(datetime.timedelta(hours=1))


@asynccontextmanager
async def pipeline(db):
    settings = queue_settings("postgres")
    async with services_for(settings, db) as svc, running_worker(svc):
        yield svc, Relay(svc)


async def runs(client, org, **params):
    response = await client.get(f"/api/v1/orgs/{org.slug}/playbooks/runs", params=params, headers=org.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def relay_until(client, org, relay, tid, predicate, timeout=30.0):
    async def check():
        await relay.relay_tenant(tid)
        items = await runs(client, org)
        return items if predicate(items) else None

    return await eventually(check, timeout=timeout, every=0.3)


async def install(client, org, key, expect=201):
    response = await client.post(f"/api/v1/orgs/{org.slug}/playbooks/marketplace/{key}/install", headers=org.headers)
    assert response.status_code == expect, response.text
    return response.json()


async def test_marketplace_install_toggle_and_guards(client, db):
    org = await signup(client, tier="BUILDER")
    listing = (await client.get(f"/api/v1/orgs/{org.slug}/playbooks/marketplace", headers=org.headers)).json()
    by_key = {t["key"]: t for t in listing}
    assert set(by_key) == {"escudo-de-seguridad", "cobrador-automatico", "fidelizacion-post-retiro"}
    assert by_key["escudo-de-seguridad"]["available"] and not by_key["cobrador-automatico"]["available"]
    refused = await install(client, org, "cobrador-automatico", expect=403)
    assert refused["feature"] == "playbooks" and refused["upgrade_to"] == "PRO"
    rule = await install(client, org, "escudo-de-seguridad")
    assert rule["enabled"] and rule["trigger"] == "RISK_DETECTED_IN_NOTE"
    await install(client, org, "escudo-de-seguridad", expect=409)
    await install(client, org, "no-such-playbook", expect=404)
    bad_key = await client.post(f"/api/v1/orgs/{org.slug}/playbooks/marketplace/NOT_A_KEY/install", headers=org.headers)
    assert bad_key.status_code == 422, bad_key.text  # keys are lower-case slugs
    assert [(e["field"], e["rule"]) for e in bad_key.json()["errors"]] == [("key", "pattern")]
    off = await client.patch(f"/api/v1/orgs/{org.slug}/playbooks/{rule['id']}", json={"enabled": False}, headers=org.headers)
    assert off.status_code == 200 and off.json()["enabled"] is False
    bad = await client.patch(f"/api/v1/orgs/{org.slug}/playbooks/{rule['id']}", json={"enabled": "yes"}, headers=org.headers)
    assert bad.status_code == 422
    listed = (await client.get(f"/api/v1/orgs/{org.slug}/playbooks/marketplace", headers=org.headers)).json()
    assert {t["key"]: t["installed_rule_id"] for t in listed}["escudo-de-seguridad"] == rule["id"]
    _, tokens, _ = await add_member(client, db, org, "THERAPIST")
    for method, path in (("GET", "marketplace"), ("GET", "runs"), ("POST", "marketplace/escudo-de-seguridad/install")):
        denied = await client.request(method, f"/api/v1/orgs/{org.slug}/playbooks/{path}", headers=bearer(tokens["access_token"]))
        assert denied.status_code == 403, (method, path)


@pytest.mark.parametrize("tier, blocks", [("CENTER", True), ("PRO", False)])
async def test_escudo_from_a_journal_note_with_its_tier_rule(client, db, tier, blocks):
    org = await signup(client, tier=tier)
    tid = await tenant_id_of(db, org.slug)
    _, therapist, therapist_id = await add_member(client, db, org, "THERAPIST")
    await install(client, org, "escudo-de-seguridad")
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Luz", "last_name": "Mar", "therapist_ids": [therapist_id]},
                                 headers=org.headers)).json()
    note = await client.post(
        f"/api/v1/orgs/{org.slug}/patients/{patient['id']}/journal",
        json={"kind": "note", "visibility": "shared", "html": "<p>Quiero suicidarme, tengo un plan para esta noche.</p>"},
        headers=bearer(therapist["access_token"]),
    )
    assert note.status_code == 201, note.text
    async with pipeline(db) as (svc, relay):
        items = await relay_until(client, org, relay, tid, lambda rs: rs and rs[0]["status"] == "SUCCEEDED")
        run = items[0]
        assert run["event_type"] == "RISK_DETECTED_IN_NOTE"
        outcomes = {e["kind"]: e["outcome"] for e in run["effects"]}
        assert outcomes == {"block_patient": "done" if blocks else "skipped", "alert_staff": "done"}
        # the same event's job runs again (at-least-once delivery): nothing is done twice
        event_id = run["event_id"]
        again = await svc.queue.enqueue("handle_event", key=f"again-{event_id}", tenant_id=tid, event_id=event_id, **job_options(svc.settings))
        await eventually(lambda: _done(svc.queue, again.key))
    alerts = (await client.get(f"/api/v1/orgs/{org.slug}/alerts", headers=bearer(therapist["access_token"]))).json()
    assert alerts["total"] == 1 and alerts["items"][0]["severity"] == "critical"
    assert "Luz Mar" in alerts["items"][0]["message"] and "suicid" not in alerts["items"][0]["message"]
    assert alerts["items"][0]["source_kind"] == "note" and alerts["items"][0]["source_id"] == note.json()["id"]
    # the core risk alert reaches the owners too, on every tier; Escudo's own alert adds no second one
    owner_alerts = (await client.get(f"/api/v1/orgs/{org.slug}/alerts", headers=org.headers)).json()
    assert owner_alerts["total"] == 1 and owner_alerts["items"][0]["source_id"] == note.json()["id"]
    assert len(await runs(client, org)) == 1
    service = await client.post(
        f"/api/v1/orgs/{org.slug}/services",
        json={"name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 5000,
              "currency": "EUR", "location": "ONLINE", "therapist_ids": [therapist_id]}, headers=org.headers,
    )
    booking = await client.post(
        f"/api/v1/orgs/{org.slug}/bookings",
        json={"patient_id": patient["id"], "service_id": service.json()["id"], "starts_at": clock.iso(days=30)}, headers=org.headers,
    )
    assert booking.status_code == (409 if blocks else 201), booking.text


async def _done(queue, key):
    job = await queue.job(key)
    return job if job is not None and job.status == "complete" else None


async def _make_due(db, slug):
    await in_tenant(db, slug, "UPDATE automation_delays SET due_at = now() - interval '1 second' WHERE fired_at IS NULL")


async def _tick(svc, tid):
    job = await svc.queue.enqueue("tenant_tick", key=f"test-tick-{tid}-{datetime.datetime.now().timestamp()}", tenant_id=tid, **job_options(svc.settings))
    await eventually(lambda: _done(svc.queue, job.key))


async def test_cobrador_reminds_a_payment_still_pending_after_48_hours(client, db):
    org = await signup(client, tier="PRO")
    tid = await tenant_id_of(db, org.slug)
    await install(client, org, "cobrador-automatico")
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Rosa", "email": "rosa@example.org"},
                                 headers=org.headers)).json()
    pending = (await client.post(f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": 4500, "currency": "eur"},
                                 headers=org.headers)).json()
    paid = (await client.post(f"/api/v1/orgs/{org.slug}/payments", json={"patient_id": patient["id"], "amount_minor": 900, "currency": "EUR"},
                              headers=org.headers)).json()
    assert pending["currency"] == "EUR" and pending["status"] == "PENDING"
    async with pipeline(db) as (svc, relay):
        items = await relay_until(client, org, relay, tid, lambda rs: len(rs) == 2 and all(r["status"] == "WAITING" for r in rs))
        wait = datetime.datetime.fromisoformat(items[0]["waiting_until"]) - datetime.datetime.now(datetime.UTC)
        assert datetime.timedelta(hours=47, minutes=59) < wait <= datetime.timedelta(hours=48)
        settled = await client.post(f"/api/v1/orgs/{org.slug}/payments/{paid['id']}/succeed", headers=org.headers)
        assert settled.status_code == 200
        await _tick(svc, tid)
        assert {r["status"] for r in await runs(client, org)} == {"WAITING"}  # not due yet: nothing fired
        await _make_due(db, org.slug)
        await _tick(svc, tid)
        await _tick(svc, tid)  # a second tick finds nothing left to do
    done = await runs(client, org)
    assert {r["status"] for r in done} == {"SUCCEEDED"}
    emails = await in_tenant(db, org.slug, "SELECT template, subject, body FROM outbound_emails")
    assert len(emails) == 1 and emails[0][0] == "payment_reminder" and "€45.00" in emails[0][2]
    outcomes = sorted(e["outcome"] for r in done for e in r["effects"] if e["kind"] == "send_email")
    assert outcomes == ["done", "skipped"]


async def test_fidelizacion_surveys_seven_days_after_a_retreat_only(client, db):
    org = await signup(client, tier="CENTER")
    tid = await tenant_id_of(db, org.slug)
    await install(client, org, "fidelizacion-post-retiro")
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Sol", "email": "sol@example.org"},
                                 headers=org.headers)).json()
    services = {}
    for scheduling, kind in (("FIXED_DATE", "GROUP"), ("CALENDAR", "ONE_ON_ONE")):
        body = {"name": f"{scheduling} service", "kind": kind, "scheduling": scheduling, "duration_minutes": 90, "price_minor": 1000,
                "currency": "EUR", "location": "IN_PERSON", **({"capacity": 10} if kind == "GROUP" else {})}
        created = await client.post(f"/api/v1/orgs/{org.slug}/services", json=body, headers=org.headers)
        assert created.status_code == 201, created.text
        services[scheduling] = created.json()["id"]
    for scheduling in services:
        booking = await client.post(f"/api/v1/orgs/{org.slug}/bookings",
                                    json={"patient_id": patient["id"], "service_id": services[scheduling], "starts_at": clock.iso(days=-2, tz=CET)},
                                    headers=org.headers)
        assert booking.status_code == 201, booking.text
        assert booking.json()["retreat"] is (scheduling == "FIXED_DATE")
        done = await client.post(f"/api/v1/orgs/{org.slug}/bookings/{booking.json()['id']}/complete", headers=org.headers)
        assert done.status_code == 200 and done.json()["status"] == "COMPLETED"
    async with pipeline(db) as (svc, relay):
        items = await relay_until(client, org, relay, tid, lambda rs: len(rs) == 2)
        assert sorted(r["status"] for r in items) == ["SKIPPED", "WAITING"]
        waiting = next(r for r in items if r["status"] == "WAITING")
        wait = datetime.datetime.fromisoformat(waiting["waiting_until"]) - datetime.datetime.now(datetime.UTC)
        assert datetime.timedelta(days=6, hours=23) < wait <= datetime.timedelta(days=7)
        await _make_due(db, org.slug)
        await _tick(svc, tid)
    emails = await in_tenant(db, org.slug, "SELECT template FROM outbound_emails")
    assert emails == [("retreat_survey",)]
    statuses = sorted(r["status"] for r in await runs(client, org))
    assert statuses == ["SKIPPED", "SUCCEEDED"]
