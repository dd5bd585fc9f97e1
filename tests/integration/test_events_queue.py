"""Events and the queue , on PostgreSQL always and on Redis where it runs.

* a change and its event commit together (a refused change leaves no event);
* the relay enqueues an event keyed by it: relaying twice enqueues once;
* a worker runs the job in the event's tenant; the event log is for owners;
* a worker killed (SIGKILL) mid-job: the job is retried by another worker, its effect exists once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid

import pytest
from saq.job import Status

from anima.jobs.queue import job_options
from anima.jobs.relay import Relay, event_job_key
from tests.conftest import ROOT, add_member, bearer, signup
from tests.conftest import test_environ as environ_for_tests
from tests.redis_support import needs_redis
from tests.integration.events_support import (
    BACKENDS,
    eventually,
    in_tenant,
    queue_settings,
    running_worker,
    services_for,
    tenant_id_of,
)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_event_commits_with_its_change_and_is_enqueued_once(client, db, backend):
    org = await signup(client)
    tid = await tenant_id_of(db, org.slug)
    bad = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Ana", "birth_date": "1800-01-01"}, headers=org.headers)
    assert bad.status_code == 422
    assert await in_tenant(db, org.slug, "SELECT count(*) FROM outbox_events") == [(0,)]

    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Ana"}, headers=org.headers)
    assert created.status_code == 201, created.text
    log = (await client.get(f"/api/v1/orgs/{org.slug}/events", headers=org.headers)).json()
    assert [e["type"] for e in log["items"]] == ["PATIENT_CREATED"]
    event = log["items"][0]
    assert event["payload"] == {"patient_id": created.json()["id"]} and event["relayed_at"] is None

    # a generous heartbeat: on a loaded 2-core machine a 2 s heartbeat can lapse and the sweep
    # would (correctly) retry the job, which is not what this test is about
    settings = queue_settings(backend, ANIMA_JOB_HEARTBEAT="30")
    async with services_for(settings, db) as svc:
        relay = Relay(svc)
        assert await relay.relay_tenant(tid) == 1
        assert await relay.relay_tenant(tid) == 0  # marked relayed
        # a relay that died after enqueueing and before marking: the event is relayed again ...
        await in_tenant(db, org.slug, "UPDATE outbox_events SET relayed_at = NULL")
        assert await relay.relay_tenant(tid) == 1
        # ... and still enqueued once
        assert await svc.queue.count("incomplete") == 1
        key = event_job_key(tid, event["id"])
        async with running_worker(svc):
            job = await eventually(lambda: _finished(svc.queue, key))
        assert job.status == Status.COMPLETE and job.result["type"] == "PATIENT_CREATED"
        assert job.attempts == 1

    relayed = (await client.get(f"/api/v1/orgs/{org.slug}/events", headers=org.headers)).json()["items"][0]
    assert relayed["relayed_at"] is not None


async def _finished(queue, key):
    job = await queue.job(key)
    return job if job is not None and job.status in (Status.COMPLETE, Status.FAILED) else None


async def test_event_log_is_for_owners_only(client, db):
    org = await signup(client)
    _, tokens, _ = await add_member(client, db, org, "THERAPIST")
    response = await client.get(f"/api/v1/orgs/{org.slug}/events", headers=bearer(tokens["access_token"]))
    assert response.status_code == 403
    bad_type = await client.get(f"/api/v1/orgs/{org.slug}/events?type=NOPE", headers=org.headers)
    assert bad_type.status_code == 422


def _worker_env(db, settings) -> dict[str, str]:
    url = db.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    env = {**os.environ, **environ_for_tests(
        DATABASE_URL=url, ANIMA_QUEUE_NAME=settings.queue_name, ANIMA_WORKER_SWEEP="1", ANIMA_JOB_HEARTBEAT="2",
        ANIMA_AUTOMATION_TICK=settings.automation_tick, ANIMA_WORKER_EXTRA_FUNCTIONS="tests.worker_jobs:FUNCTIONS",
        ANIMA_LOG_LEVEL="warning",
        # at the production niceness (5) the worker yields to the suite's own busy processes, and a
        # kill-and-retry bound would measure the suite's load, not the recovery
        ANIMA_WORKER_NICE="0",
    ), "PYTHONPATH": str(ROOT)}
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def _start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "anima", "worker"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_worker_killed_mid_job_is_retried_and_its_effect_happens_once(client, db, backend):
    org = await signup(client)
    tid = await tenant_id_of(db, org.slug)
    # 6 s: long enough that a loaded machine does not miss a beat of the live worker, short enough
    # that the sweep retries the killed worker's job quickly
    settings = queue_settings(backend, ANIMA_JOB_HEARTBEAT="6")
    key = f"kill-{uuid.uuid4().hex[:8]}"
    env = _worker_env(db, settings)
    async with services_for(settings, db) as svc:
        first = _start_worker(env)
        second = None
        try:
            # the job's own kwarg is named "key" too, so the SAQ key and kwargs are given explicitly
            await svc.queue.enqueue(
                "slow_email", key=f"job-{key}", kwargs={"tenant_id": tid, "key": key, "seconds": 60}, **job_options(settings)
            )
            # the first attempt has committed its email and is now blocked inside the job
            await eventually(lambda: _emails(db, org.slug, key), timeout=40)
            job = await svc.queue.job(f"job-{key}")
            assert job.status == Status.ACTIVE and job.attempts == 1
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            second = _start_worker(env)
            done = await eventually(lambda: _finished(svc.queue, f"job-{key}"), timeout=60)
            assert done.status == Status.COMPLETE, done.error
            assert done.attempts == 2 and done.result == "done on attempt 2"
            assert await _emails(db, org.slug, key) == 1
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            await asyncio.sleep(0)


async def _emails(db, slug, key) -> int:
    return (await in_tenant(db, slug, "SELECT count(*) FROM outbound_emails WHERE idempotency_key = :k", {"k": key}))[0][0]


@needs_redis
async def test_on_redis_the_sweep_runs_as_often_as_the_worker_sweep_setting(db):
    # SAQ's Redis sweep is rate-limited by a key living `lock` seconds (60 unless told); the queue
    # must pass ANIMA_WORKER_SWEEP, or a dead worker's job waits a minute before any retry
    settings = queue_settings("redis", ANIMA_WORKER_SWEEP="1")
    async with services_for(settings, db) as svc:
        queue = svc.queue
        assert queue.sweep_every == 1
        await queue.sweep()
        ttl = await queue.redis.ttl(queue._sweep)
        assert 0 < ttl <= 1  # the key that holds back the next sweep lives one second, not sixty
        stuck = await queue.enqueue("slow_email", key=f"stuck-{uuid.uuid4().hex[:8]}",
                                    kwargs={"tenant_id": 0, "key": "x", "seconds": 0}, heartbeat=1, retries=1)
        # the job as a worker that died right after taking it leaves it: active, and then silent
        await queue.redis.lrem(queue._queued, 0, stuck.id)
        await queue.redis.lpush(queue._active, stuck.id)
        await queue.update(stuck, status=Status.ACTIVE)
        await asyncio.sleep(1.5)  # past its heartbeat and past the sweep key's second
        assert stuck.id in await queue.sweep()  # swept now, not a minute after the first sweep
