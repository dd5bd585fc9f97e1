"""The AI observatory through HTTP, with the real google-genai SDK talking to our local Gemini stub.

Covers: the structured result stored encrypted as an ``ai_analysis`` journal entry; the prompt
without names; the one-hour cache (a hit makes no second call, new content does); retries on
429/500 and the fallback to the local detector; not configured -> the local detector says so;
assistants 403; another tenant's patient 404; the worker job functions.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
import structlog
import structlog.testing
from litestar import Litestar

from anima.app import create_app
from anima.config import load_settings
from anima.identity.rate_limit import RateLimits
from anima.ai import jobs
from anima.ai.cache import MemoryCache, RedisCache
from anima.ai.gemini import GeminiAnalyst
from anima.ai.observatory import LOCAL_MODEL, NOT_CONFIGURED_NOTE
from anima.runtime import RUNTIME_KEY
from tests.conftest import add_member, bearer, signup
from tests.conftest import test_environ as environ_for_tests
from tests.redis_support import REDIS_URL, needs_redis
from tests.gemini_stub import DEFAULT_ANALYSIS, GeminiStub
from tests.integration.test_patients_encryption import scan
from tests.integration.forms_support import form_entry

MODEL = "gemini-2.5-flash"


@pytest.fixture(scope="module")
def stub() -> AsyncIterator[GeminiStub]:
    running = GeminiStub().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gemini_app(db, stub) -> Litestar:
    settings = load_settings(environ_for_tests(GEMINI_API_KEY="test-gemini-key", GEMINI_API_BASE=stub.base_url, GEMINI_MODEL=MODEL))
    # the real analyst against the stub, with short back-off so the retry tests stay fast
    analyst = GeminiAnalyst(api_key="test-gemini-key", model=MODEL, base_url=stub.base_url, retry_initial_delay=0.01)
    return create_app(
        settings, database=db, rate_limits=RateLimits().scaled(1000), analyst=analyst, analysis_cache=MemoryCache()
    )


@pytest.fixture(scope="module")
async def gclient(gemini_app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gemini_app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def purl(org, pid: str, rest: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/patients/{pid}{rest}"


async def patient_with_notes(
    client, org, headers=None, notes=("<p>Marta diu: tinc ganes de morir.</p>",), consent: bool = True, **fields
) -> str:
    """A patient with ``notes``; consent to AI processing recorded (written) unless ``consent`` is false."""
    headers = headers or org.headers
    body = {"first_name": "Marta", "last_name": "Puigdomènech", "language": "ca", **fields}
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json=body, headers=headers)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    if consent:
        given = await client.put(purl(org, pid, "/ai-consent"), json={"given": True, "method": "written"}, headers=headers)
        assert given.status_code == 200, given.text
    for html in notes:
        r = await client.post(purl(org, pid, "/journal"), json={"kind": "note", "html": html, "visibility": "shared"}, headers=headers)
        assert r.status_code == 201, r.text
    return pid


async def schema_and_id(db, slug: str) -> tuple[str, int]:
    async with db.admin.connect() as conn:
        row = (await conn.execute(sa.text("SELECT schema_name, id FROM platform.tenants WHERE slug = :s"), {"s": slug})).one()
    return row[0], row[1]


async def test_gemini_result_is_structured_encrypted_and_cached(gclient, gemini_app, stub, db):
    stub.reset()
    org = await signup(gclient, tier="PRO")
    pid = await patient_with_notes(
        gclient, org, notes=("<p>Marta diu: tinc ganes de morir. Truca al 600 123 456.</p>", "<p>Setmana més tranquil·la.</p>")
    )
    await form_entry(gemini_app.state[RUNTIME_KEY], db, org.slug, pid, org.owner_id, {"mood": "baix", "sleep_hours": 4})

    first = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["source"] == "gemini" and body["model"] == MODEL and body["gemini_configured"] is True
    assert body["cached"] is False and body["entries_analysed"] == 3 and body["language"] == "ca"
    assert body["synthesis"] == DEFAULT_ANALYSIS["synthesis"]
    assert body["risk_level"] == "HIGH" and [f["flag"] for f in body["risk_flags"]] == ["SUICIDAL_IDEATION"]
    assert body["key_moments"][0]["date"] == "2025-01-03"

    # what went to Gemini: the key, the schema, the text — no names, no phone number
    (call,) = stub.calls
    assert call.model == MODEL and call.api_key == "test-gemini-key"
    config = call.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert set(config["responseSchema"]["required"]) == {"synthesis", "key_moments", "risk_level", "risk_flags"}
    assert "ganes de morir" in call.prompt and "mood: baix" in call.prompt and "Answer language: Catalan" in call.prompt
    for identifier in ("Marta", "Puigdomènech", "600 123 456"):
        assert identifier not in call.prompt
    assert "[patient]" in call.prompt and "[phone]" in call.prompt

    # stored as an ai_analysis journal entry, encrypted at rest, visible through the journal
    entries = await gclient.get(purl(org, pid, "/journal?kind=ai_analysis"), headers=org.headers)
    (entry,) = entries.json()["items"]
    assert entry["id"] == body["id"] and entry["visibility"] == "private"
    assert entry["data"]["source"] == "gemini" and entry["data"]["usage"] == {"prompt_tokens": 321, "output_tokens": 54}
    schema, _ = await schema_and_id(db, org.slug)
    assert await scan(db, schema, "explicit wish to die") == set()

    # the cache holds ciphertext only
    runtime = gemini_app.state[RUNTIME_KEY]
    assert runtime.analysis_cache._data and all(b"wish to die" not in v for _, v in runtime.analysis_cache._data.values())

    # same input within the hour: no second call, the same entry
    again = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert again.status_code == 200, again.text
    assert again.json()["cached"] is True and again.json()["id"] == body["id"]
    assert len(stub.calls) == 1

    # new content: a new call
    await gclient.post(purl(org, pid, "/journal"), json={"kind": "note", "html": "<p>Nova sessió.</p>"}, headers=org.headers)
    third = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert third.status_code == 201 and third.json()["cached"] is False
    assert len(stub.calls) == 2

    listed = await gclient.get(purl(org, pid, "/analyses"), headers=org.headers)
    assert listed.status_code == 200 and listed.json()["total"] == 2
    assert [a["id"] for a in listed.json()["items"]] == [third.json()["id"], body["id"]]


async def test_cache_hit_for_another_reader_writes_their_own_entry(gclient, stub, db):
    """A cached result made for the owner is not the therapist's to read: they get a new entry, no new call."""
    stub.reset()
    org = await signup(gclient, tier="PRO")
    _, tokens, _ = await add_member(gclient, db, org, "THERAPIST")
    therapist = bearer(tokens["access_token"])
    pid = await patient_with_notes(gclient, org)
    owner_run = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)
    therapist_run = await gclient.post(purl(org, pid, "/analyses"), headers=therapist)
    assert owner_run.status_code == 201 and therapist_run.status_code == 201, therapist_run.text
    assert therapist_run.json()["cached"] is True and therapist_run.json()["id"] != owner_run.json()["id"]
    assert len(stub.calls) == 1


async def test_retries_then_fallback_to_local_detector(gclient, stub):
    stub.reset()
    org = await signup(gclient, tier="PRO")
    pid = await patient_with_notes(gclient, org)

    stub.errors[:] = [429, 500]  # the SDK retries transient errors
    ok = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert ok.status_code == 201 and ok.json()["source"] == "gemini"
    assert stub.attempts == 3 and len(stub.calls) == 1

    await gclient.post(purl(org, pid, "/journal"), json={"kind": "note", "html": "<p>Una altra nota.</p>"}, headers=org.headers)
    stub.errors[:] = [500, 500, 500]  # persistent failure: the local detector answers and says why
    fallback = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert fallback.status_code == 201, fallback.text
    body = fallback.json()
    assert body["source"] == "local" and body["model"] == LOCAL_MODEL and "500" in body["fallback_reason"]
    assert body["risk_level"] == "HIGH" and [f["flag"] for f in body["risk_flags"]] == ["SUICIDAL_IDEATION"]

    retry = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)  # the fallback was not cached
    assert retry.status_code == 201 and retry.json()["source"] == "gemini"

    stub.raw_text = "this is not JSON"  # an answer outside the schema is refused, not parsed
    await gclient.post(purl(org, pid, "/journal"), json={"kind": "note", "html": "<p>Més.</p>"}, headers=org.headers)
    odd = await gclient.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert odd.json()["source"] == "local" and "schema" in odd.json()["fallback_reason"]


async def test_not_configured_answers_with_the_local_detector(client):
    org = await signup(client, tier="PRO")
    pid = await patient_with_notes(
        client, org, notes=("<p>No tinc ganes de morir.</p>", "<p>Ahir em vaig tallar. Vull matar-me.</p>")
    )
    response = await client.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source"] == "local" and body["gemini_configured"] is False and body["model"] == LOCAL_MODEL
    assert body["note"] == NOT_CONFIGURED_NOTE and NOT_CONFIGURED_NOTE in body["synthesis"]
    assert body["risk_level"] == "HIGH"
    assert [f["flag"] for f in body["risk_flags"]] == ["SUICIDAL_IDEATION"]
    assert "matar-me" in body["key_moments"][0]["description"] and "negated" in body["synthesis"]


async def test_roles_and_visibility(client, db):
    org = await signup(client, tier="PRO")
    _, t_tokens, _ = await add_member(client, db, org, "THERAPIST")
    _, a_tokens, _ = await add_member(client, db, org, "ASSISTANT")
    therapist, assistant = bearer(t_tokens["access_token"]), bearer(a_tokens["access_token"])
    pid = await patient_with_notes(client, org, notes=())
    private = await client.post(
        purl(org, pid, "/journal"), json={"kind": "note", "html": "<p>Vull morir.</p>", "visibility": "private"}, headers=org.headers
    )
    assert private.status_code == 201

    for method in ("post", "get"):
        denied = await getattr(client, method)(purl(org, pid, "/analyses"), headers=assistant)
        assert denied.status_code == 403, denied.text

    # the therapist may not read the owner's private note: nothing to analyse for them yet
    nothing = await client.post(purl(org, pid, "/analyses"), headers=therapist)
    assert nothing.status_code == 409, nothing.text
    await client.post(purl(org, pid, "/journal"), json={"kind": "note", "html": "<p>Bona sessió.</p>", "visibility": "shared"}, headers=therapist)
    theirs = await client.post(purl(org, pid, "/analyses"), headers=therapist)
    assert theirs.status_code == 201 and theirs.json()["risk_level"] == "LOW" and theirs.json()["entries_analysed"] == 1
    owners = await client.post(purl(org, pid, "/analyses"), headers=org.headers)
    assert owners.json()["risk_level"] == "HIGH" and owners.json()["entries_analysed"] == 2

    # the therapist lists only what they may read (their own analysis, not the owner's private one)
    listed = await client.get(purl(org, pid, "/analyses"), headers=therapist)
    assert [a["id"] for a in listed.json()["items"]] == [theirs.json()["id"]]


async def test_other_tenants_patient_is_not_found(client):
    a = await signup(client, tier="PRO")
    b = await signup(client, tier="PRO")
    pid = await patient_with_notes(client, a)
    assert (await client.post(purl(b, pid, "/analyses"), headers=b.headers)).status_code == 404
    assert (await client.get(purl(b, pid, "/analyses"), headers=b.headers)).status_code == 404
    assert (await client.post(purl(a, pid, "/analyses"), headers=b.headers)).status_code == 404  # not a member of a
    assert (await client.post(purl(a, str(uuid.uuid4()), "/analyses"), headers=a.headers)).status_code == 404


async def test_job_functions(client, app, db):
    org = await signup(client, tier="PRO")
    pid = await patient_with_notes(client, org, notes=("<p>Tinc ganes de morir.</p>",))
    note = (await client.get(purl(org, pid, "/journal?kind=note"), headers=org.headers)).json()["items"][0]
    form_id = await form_entry(app.state["anima"], db, org.slug, pid, org.owner_id, {"q": "bé"})
    _, tenant_id = await schema_and_id(db, org.slug)
    ctx = {"anima": app.state["anima"]}

    with structlog.testing.capture_logs() as logged:
        screened = await jobs.analyze_journal_entry(ctx, tenant_id=tenant_id, entry_id=note["id"])
    assert any(line["event"] == "journal entry screened" for line in logged)
    assert "ganes" not in repr(logged).lower()  # no clinical text in any log line
    assert screened["status"] == "screened" and screened["level"] == "HIGH" and screened["flags"] == ["SUICIDAL_IDEATION"]
    assert screened["evidence"] == [{"start": 5, "end": 19, "flag": "SUICIDAL_IDEATION", "severity": "high"}]
    assert "ganes" not in repr(screened)  # no text in the result
    assert screened["emitted"] is True
    async with db.admin.connect() as conn:
        schema, _ = await schema_and_id(db, org.slug)
        events = (
            await conn.execute(sa.text(f'SELECT payload FROM "{schema}".outbox_events WHERE type = \'RISK_DETECTED_IN_NOTE\''))
        ).scalars().all()
    # ids and level only: clinical categories (flags) never reach the plaintext outbox
    assert events == [{"entry_id": note["id"], "patient_id": pid, "kind": "note", "level": "HIGH", "evidence_count": 1}]
    low = await jobs.analyze_journal_entry(ctx, tenant_id=tenant_id, entry_id=form_id)
    assert low["level"] == "LOW" and low["emitted"] is False
    missing = await jobs.analyze_journal_entry(ctx, tenant_id=tenant_id, entry_id=str(uuid.uuid4()))
    assert missing["status"] == "skipped"

    analysed = await jobs.analyze_patient(ctx, tenant_id=tenant_id, patient_id=pid, requested_by=org.owner_id)
    assert analysed["status"] == "analysed" and analysed["source"] == "local" and analysed["risk_level"] == "HIGH"
    listed = await client.get(purl(org, pid, "/analyses"), headers=org.headers)
    assert listed.json()["items"][0]["id"] == analysed["entry_id"]

    refused = await jobs.analyze_patient(ctx, tenant_id=tenant_id, patient_id=str(uuid.uuid4()), requested_by=org.owner_id)
    assert refused["status"] == "refused" and refused["reason"] == "not-found"
    skipped = await jobs.analyze_journal_entry(ctx, tenant_id=tenant_id, entry_id=analysed["entry_id"])
    assert skipped["status"] == "skipped"  # an ai_analysis entry is not screened

    trail = await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}/audit?limit=100", headers=org.headers)
    screened_events = [e for e in trail.json()["items"] if e["action"] == "insights.screened"]
    assert len(screened_events) == 2 and {e["actor_role"] for e in screened_events} == {"system"}
    assert {e["detail"]["level"] for e in screened_events} == {"HIGH", "LOW"}


@needs_redis
async def test_redis_cache_is_keyed_by_tenant_and_expires():
    cache = RedisCache(REDIS_URL)
    digest = uuid.uuid4().hex
    try:
        await cache.put(1, digest, b"sealed", ttl=30)
        assert await cache.get(1, digest) == b"sealed"
        assert await cache.get(2, digest) is None  # another tenant never sees it
        ttl = await cache._redis.ttl(cache.key(1, digest))
        assert 0 < ttl <= 30
    finally:
        await cache._redis.delete(cache.key(1, digest))
        await cache.close()


async def test_an_unreachable_redis_cache_is_a_miss_never_an_error():
    digest = uuid.uuid4().hex
    broken = RedisCache("redis://127.0.0.1:1/0")  # nothing listens on port 1
    assert await broken.get(1, digest) is None
    await broken.put(1, digest, b"x")
    await broken.close()


async def test_memory_cache_expires():
    now = [0.0]
    cache = MemoryCache(capacity=2, clock=lambda: now[0])
    await cache.put(1, "a", b"1", ttl=10)
    assert await cache.get(1, "a") == b"1" and await cache.get(2, "a") is None
    now[0] = 11
    assert await cache.get(1, "a") is None
    for k in "xyz":
        await cache.put(1, k, b"v")
    assert await cache.get(1, "x") is None and await cache.get(1, "z") == b"v"  # bounded
