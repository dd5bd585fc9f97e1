"""The worker schedules the grace-period expiry (hourly cron) and runs it: a tenant whose grace
ended falls to BUILDER without anyone running ``anima billing expire-grace``.

A real SAQ worker on PostgreSQL; the subscription lapses through signed Stripe webhooks (the real
SDK against the stub), and its grace end is then moved into the past, as time would.
"""

from __future__ import annotations

import secrets
import time

from croniter import croniter
from sqlalchemy import text

from anima.jobs import billing as billing_jobs
from anima.jobs.queue import job_options
from anima.jobs.worker import build_worker
from tests.conftest import signup
from tests.integration.billing_support import (  # noqa: F401 - fixtures
    now,
    paid_client,
    post_event,
    scalar,
    stripe_settings,
    stripe_stub,
    tenant_row,
)
from tests.integration.events_support import eventually, queue_settings, running_worker, services_for
from tests.stripe_stub import PRICE_CENTER, checkout_completed_object, event, invoice_object, subscription_object


def test_the_worker_registers_the_hourly_grace_cron(db):
    worker = build_worker(_runtime_for_build(db), handle_signals=False)
    crons = {c.function.__qualname__: c for c in worker.cron_jobs}
    assert "expire_grace" in crons and "expire_grace" in worker.functions
    grace = crons["expire_grace"]
    assert grace.unique and grace.cron == billing_jobs.GRACE_CRON
    fires = croniter(grace.cron, 0)
    first, second = fires.get_next(), fires.get_next()
    assert second - first == 3600  # hourly


def _runtime_for_build(db):
    from anima.runtime import build_runtime

    return build_runtime(queue_settings("postgres"), db)


async def _complete(queue, key):
    job = await queue.job(key)
    return job if job is not None and job.status == "complete" else None


async def test_the_worker_schedules_and_runs_the_grace_expiry(paid_client, db):
    org = await signup(paid_client)
    tenant = await tenant_row(db, org.slug)
    await paid_client.post(f"/api/v1/orgs/{org.slug}/billing/checkout", json={"tier": "CENTER"}, headers=org.headers)
    customer = await scalar(db, "SELECT stripe_customer_id FROM platform.billing_accounts WHERE tenant_id = :t", t=tenant.id)
    sub, t0 = "sub_" + secrets.token_hex(8), now() - 3600
    for kind, obj, created in (
        ("checkout.session.completed", checkout_completed_object(customer, sub, tenant_id=tenant.id, tier="CENTER", created=t0), t0),
        ("customer.subscription.created", subscription_object(sub, customer, "active", PRICE_CENTER, created=t0, tenant_id=tenant.id), t0),
        ("invoice.payment_failed", invoice_object(sub, customer, PRICE_CENTER, paid=False, created=t0 + 60), t0 + 60),
    ):
        assert (await post_event(paid_client, event(kind, obj, created=created))).status_code == 200
    assert (await tenant_row(db, org.slug)).tier == "CENTER"  # in grace
    async with db.admin.begin() as conn:  # the grace period runs out
        await conn.execute(text("UPDATE platform.subscriptions SET grace_until = now() - interval '1 minute' WHERE stripe_subscription_id = :s"), {"s": sub})

    async with db.admin.begin() as conn:
        # SAQ keys cron jobs by function alone ("cron:expire_grace") and its job table is shared by
        # every queue name in the database: a worker of an earlier test (another queue) holds the
        # key, and this queue's cron would not be enqueued. One queue name per deployment, as in
        # production, never meets this.
        if await conn.scalar(text("SELECT to_regclass('saq.saq_jobs')")) is not None:
            await conn.execute(text("DELETE FROM saq.saq_jobs WHERE key = 'cron:expire_grace'"))
    async with services_for(queue_settings("postgres"), db) as svc, running_worker(svc) as worker:
        # the worker puts its cron jobs on the queue (its upkeep does it every second; done here at
        # once so a loaded machine's timer cannot make the test late): the next full hour, minute 7
        await worker.schedule()
        scheduled = await eventually(lambda: svc.queue.job("cron:expire_grace"))
        assert 0 < scheduled.scheduled - time.time() <= 3600
        # run it now, as the cron will at that time
        job = await svc.queue.enqueue("expire_grace", key=f"grace-now-{secrets.token_hex(4)}", **job_options(svc.settings))
        done = await eventually(lambda: _complete(svc.queue, job.key))
    assert {"tenant_id": tenant.id, "from": "CENTER", "to": "BUILDER"} in done.result["changed"]
    assert (await tenant_row(db, org.slug)).tier == "BUILDER"
    source = await scalar(db, "SELECT source FROM platform.tier_changes WHERE tenant_id = :t ORDER BY created_at DESC LIMIT 1", t=tenant.id)
    assert source == "grace"
