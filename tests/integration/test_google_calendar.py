"""Google Calendar through authlib's real httpx client against a local stub of Google's OAuth and
Calendar endpoints (tests/google_stub.py): connect with PKCE, encrypted tokens, refresh, FreeBusy
blocking slots, events created once / updated / deleted by the follow-up job, Google down,
revoked tokens, disconnect, hostile callbacks, and the feature off without settings."""

from __future__ import annotations

import datetime
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest

from anima.app import create_app
from anima.domains.gcal import google
from anima.domains.gcal.sync import event_id, sync_google_event
from anima.identity.rate_limit import RateLimits
from anima.jobs.handlers import FOLLOW_UPS
from anima.jobs.worker import worker_functions
from tests import google_stub
from tests.conftest import add_member, bearer, signup
from tests.integration.booking_support import patient
from tests.integration.events_support import in_tenant, tenant_id_of
from tests.web.conftest import Browser

MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture
def stub():
    server = google_stub.GoogleStub().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gsettings(settings, stub):
    return msgspec.structs.replace(settings, google_client_id=google_stub.CLIENT_ID, google_client_secret=google_stub.CLIENT_SECRET,
                                   google_oauth_base=stub.url, google_api_base=stub.url)


@pytest.fixture
async def gapp(gsettings, db):
    return create_app(gsettings, database=db, rate_limits=RateLimits().scaled(1000))


@pytest.fixture
async def api(gapp):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gapp), base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def gbrowser(gapp):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gapp), base_url="http://testserver", follow_redirects=False) as http:
        yield Browser(http)


class Setup(msgspec.Struct):
    slug: str
    base: str
    owner: dict
    owner_email: str
    therapist_email: str
    therapist: dict
    therapist_id: str
    service_id: str
    patient_id: str
    tenant_id: int
    org: Any


async def _setup(client, db) -> Setup:
    """A practice in Madrid whose therapist works 09:00-17:00 every day on a 50-minute service."""
    org = await signup(client, tier="CENTER")
    base = f"/api/v1/orgs/{org.slug}"
    email, tokens, therapist_id = await add_member(client, db, org, "THERAPIST")
    created = await client.post(f"{base}/services", json={
        "name": "Terapia individual", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
        "currency": "EUR", "location": "ONLINE", "therapist_ids": [therapist_id], "min_notice_minutes": 60, "horizon_days": 200,
        "slot_step_minutes": 60}, headers=org.headers)
    assert created.status_code == 201, created.text
    assert (await client.patch(f"{base}/settings", json={"timezone": "Europe/Madrid"}, headers=org.headers)).status_code == 200
    for weekday in range(7):
        rule = await client.post(f"{base}/availability/rules", json={"therapist_id": therapist_id, "weekday": weekday,
                                                                     "start_time": "09:00", "end_time": "17:00"}, headers=org.headers)
        assert rule.status_code == 201, rule.text
    pid = await patient(client, org, "Secretname")
    return Setup(org.slug, base, org.headers, org.owner_email, email, bearer(tokens["access_token"]), therapist_id, created.json()["id"], pid,
                 await tenant_id_of(db, org.slug), org)


async def _connect(browser: Browser, stub, s: Setup) -> str:
    """The therapist clicks Connect, consents at the stub, and comes back; returns the callback URL used."""
    await browser.login(s.therapist_email)
    page = await browser.get(f"/o/{s.slug}/google-calendar")
    assert page.status_code == 200 and "Connect Google Calendar" in page.text
    started = await browser.submit(f"/o/{s.slug}/google-calendar/connect", {}, form_page=f"/o/{s.slug}/google-calendar")
    assert started.status_code == 303, started.text
    consent = started.headers["location"]
    query = parse_qs(urlsplit(consent).query)
    assert consent.startswith(stub.url + "/o/oauth2/v2/auth")
    assert query["code_challenge_method"] == ["S256"] and query["access_type"] == ["offline"]
    assert "https://www.googleapis.com/auth/calendar.events" in query["scope"][0]
    async with httpx.AsyncClient() as google_browser:  # the consent happens at "Google"
        back = await google_browser.get(consent)
    assert back.status_code == 302
    callback = urlsplit(back.headers["location"])
    assert callback.path == "/google-calendar/callback"
    forwarded = await browser.get(f"{callback.path}?{callback.query}")
    assert forwarded.status_code == 303 and forwarded.headers["location"].startswith(f"/o/{s.slug}/google-calendar/callback?")
    done = await browser.get(forwarded.headers["location"])
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/o/{s.slug}/google-calendar?connected=true"
    return forwarded.headers["location"]


def _day(days: int = 3) -> datetime.date:
    return (datetime.datetime.now(MADRID) + datetime.timedelta(days=days)).date()


async def _slots(api, s: Setup, day: datetime.date) -> list[str]:
    response = await api.get(f"{s.base}/slots", params={"service_id": s.service_id, "from": day.isoformat(), "to": day.isoformat(),
                                                        "zone": "Europe/Madrid", "therapist_id": s.therapist_id}, headers=s.therapist)
    assert response.status_code == 200, response.text
    return [slot["local_starts_at"][11:16] for slot in response.json()]


def _at(day: datetime.date, hhmm: str) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.fromisoformat(hhmm), tzinfo=MADRID)


async def _book(api, s: Setup, day: datetime.date, hhmm: str) -> str:
    created = await api.post(f"{s.base}/bookings", json={"patient_id": s.patient_id, "service_id": s.service_id,
                                                        "therapist_id": s.therapist_id, "starts_at": _at(day, hhmm).isoformat()},
                             headers=s.owner)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def _status(api, s: Setup) -> dict:
    response = await api.get(f"{s.base}/google-calendar", headers=s.therapist)
    assert response.status_code == 200, response.text
    return response.json()


async def test_connect_with_pkce_stores_tokens_encrypted_and_a_state_works_once(client, db, stub, api, gbrowser):
    s = await _setup(client, db)
    assert (await _status(api, s)) == {"configured": True, "connection": None}
    callback = await _connect(gbrowser, stub, s)
    assert stub.verifier_failures == 0 and stub.count("POST", "/token") == 1  # the verifier matched the S256 challenge
    status = await _status(api, s)
    assert status["connection"]["calendar_id"] == "primary" and status["connection"]["needs_reconnect"] is False
    assert "token" not in str(status).replace("needs_reconnect", "")

    rows = await in_tenant(db, s.slug, "SELECT access_token_enc, refresh_token_enc FROM google_calendar_connections")
    assert len(rows) == 1
    access = next(iter(stub.access_tokens))
    refresh = next(iter(stub.refresh_tokens))
    for blob in rows[0]:
        assert access.encode() not in bytes(blob) and refresh.encode() not in bytes(blob) and b"ya29." not in bytes(blob)
    states = await in_tenant(db, s.slug, "SELECT count(*) FROM google_oauth_states")
    assert states == [(0,)]  # used once, gone

    replayed = await gbrowser.get(callback)  # the same state again
    assert replayed.status_code == 422 and stub.count("POST", "/token") == 1
    page = await gbrowser.get(f"/o/{s.slug}/google-calendar?connected=true")
    assert "Your Google account is connected." in page.text and "Disconnect Google Calendar" in page.text
    owners_view = await api.get(f"{s.base}/google-calendar/connections", headers=s.owner)
    assert owners_view.status_code == 200 and [c["therapist_id"] for c in owners_view.json()] == [s.therapist_id]
    assert (await api.get(f"{s.base}/google-calendar/connections", headers=s.therapist)).status_code == 403


async def test_hostile_callbacks_store_nothing(client, db, stub, api, gbrowser, gapp):
    s = await _setup(client, db)
    await gbrowser.login(s.therapist_email)
    for query in ("", "?state=", "?code=x", "?state=%00&code=x", "?state=" + "a" * 5000 + "&code=x", "?state=no-dot-here&code=x"):
        answer = await gbrowser.get(f"/google-calendar/callback{query}")
        assert answer.status_code == 422, query
    bad_state = await gbrowser.get(f"/o/{s.slug}/google-calendar/callback?state={s.slug}.{'x' * 43}&code=abc")
    assert bad_state.status_code == 422 and "already used" in bad_state.text
    # a real state without a code (consent refused) is refused and stores nothing
    started = await gbrowser.submit(f"/o/{s.slug}/google-calendar/connect", {}, form_page=f"/o/{s.slug}/google-calendar")
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    no_code = await gbrowser.get(f"/o/{s.slug}/google-calendar/callback?state={state}&error=access_denied")
    assert no_code.status_code == 422 and "consent refused" in no_code.text
    # another member (the owner) cannot use this member's state
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gapp), base_url="http://testserver") as http:
        owner_browser = Browser(http)
        await owner_browser.login(s.owner_email)
        foreign = await owner_browser.get(f"/o/{s.slug}/google-calendar/callback?state={state}&code=stolen")
        assert foreign.status_code == 422 and "someone else" in foreign.text
    assert stub.count("POST", "/token") == 0
    assert await in_tenant(db, s.slug, "SELECT count(*) FROM google_calendar_connections") == [(0,)]


async def test_busy_times_hide_slots_are_cached_and_google_failing_leaves_the_slots(client, db, stub, api, gbrowser):
    s = await _setup(client, db)
    day = _day()
    before = await _slots(api, s, day)
    assert before == [f"{h:02d}:00" for h in range(9, 17)]
    await _connect(gbrowser, stub, s)
    stub.busy = [{"start": _at(day, "10:30").astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
                  "end": _at(day, "12:00").isoformat()}]
    assert await _slots(api, s, day) == ["09:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    assert stub.count("POST", "/freeBusy") == 1
    await _slots(api, s, day)
    assert stub.count("POST", "/freeBusy") == 1  # cached
    stub.busy = []
    refreshed = await api.post(f"{s.base}/google-calendar/refresh", headers=s.therapist)
    assert refreshed.status_code == 200
    assert await _slots(api, s, day) == before and stub.count("POST", "/freeBusy") == 2

    stub.down = True
    await api.post(f"{s.base}/google-calendar/refresh", headers=s.therapist)
    assert await _slots(api, s, day) == before  # Google down: Anima's own slots still answer
    status = await _status(api, s)
    assert "FreeBusy" in status["connection"]["last_error"] and "503" in status["connection"]["last_error"]
    card = await gbrowser.get(f"/o/{s.slug}/google-calendar/card")
    assert card.status_code == 200 and "Last error" in card.text


async def test_a_booking_becomes_one_event_moved_on_reschedule_and_deleted_on_cancel(client, db, stub, api, gbrowser, gapp):
    s = await _setup(client, db)
    await _connect(gbrowser, stub, s)
    day = _day(4)
    booking_id = await _book(api, s, day, "10:00")
    ctx = {"anima": gapp.state["anima"]}
    first = await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id)
    again = await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id)  # a retried job
    assert first == {"outcome": "created"} and again == {"outcome": "updated"}
    live = stub.live_events()
    assert list(live) == [("primary", event_id(uuid.UUID(booking_id)))] and stub.count("POST", "/events") == 1
    event = live[("primary", event_id(uuid.UUID(booking_id)))]
    assert event["summary"] == "Terapia individual"
    assert datetime.datetime.fromisoformat(event["start"]["dateTime"]) == _at(day, "10:00")
    assert "Secretname" not in str(event)  # never the patient's name

    moved = await api.post(f"{s.base}/bookings/{booking_id}/reschedule", json={"starts_at": _at(day, "14:00").isoformat()},
                           headers=s.owner)
    assert moved.status_code == 200, moved.text
    assert await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id) == {"outcome": "updated"}
    event = stub.live_events()[("primary", event_id(uuid.UUID(booking_id)))]
    assert datetime.datetime.fromisoformat(event["start"]["dateTime"]) == _at(day, "14:00")
    assert len(stub.live_events()) == 1

    cancelled = await api.post(f"{s.base}/bookings/{booking_id}/cancel", headers=s.owner)
    assert cancelled.status_code == 200, cancelled.text
    assert await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id) == {"outcome": "deleted"}
    assert stub.live_events() == {}
    assert await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id) == {"outcome": "nothing"}


async def test_google_down_the_booking_still_works_and_the_sync_is_retried(client, db, stub, api, gbrowser, gapp):
    s = await _setup(client, db)
    await _connect(gbrowser, stub, s)
    stub.down = True
    booking_id = await _book(api, s, _day(5), "11:00")  # the booking itself never waits for Google
    ctx = {"anima": gapp.state["anima"]}
    with pytest.raises(google.GoogleError):
        await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id)
    rows = await in_tenant(db, s.slug, "SELECT attempts, last_error, present FROM google_event_syncs")
    assert rows == [(1, "Google Calendar answered 503", False)]
    assert "Event sync" in (await _status(api, s))["connection"]["last_error"]
    stub.down = False
    assert await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id) == {"outcome": "created"}
    assert len(stub.live_events()) == 1 and (await _status(api, s))["connection"]["last_error"] is None


async def test_tokens_are_refreshed_and_a_revoked_one_asks_to_reconnect(client, db, stub, api, gbrowser, gapp):
    s = await _setup(client, db)
    stub.access_ttl = 30  # expires within the minute: every use refreshes it
    await _connect(gbrowser, stub, s)
    day = _day(6)
    await _slots(api, s, day)
    assert stub.count("POST", "/token") == 2 and stub.count("POST", "/freeBusy") == 1  # code exchange, then a refresh
    for token in stub.refresh_tokens:
        stub.refresh_tokens[token] = False  # the person revoked Anima at Google
    booking_id = await _book(api, s, day, "09:00")
    ctx = {"anima": gapp.state["anima"]}
    assert await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id) == {"outcome": "failed"}  # not retried
    status = await _status(api, s)
    assert status["connection"]["needs_reconnect"] is True
    page = await gbrowser.get(f"/o/{s.slug}/google-calendar")
    assert "Reconnect your Google account" in page.text and "Connect Google Calendar" in page.text
    await api.post(f"{s.base}/google-calendar/refresh", headers=s.therapist)
    assert "09:00" not in await _slots(api, s, day)  # slots still computed from Anima's own bookings


async def test_disconnect_revokes_at_google_and_deletes_the_tokens(client, db, stub, api, gbrowser):
    s = await _setup(client, db)
    await _connect(gbrowser, stub, s)
    refresh = next(iter(stub.refresh_tokens))
    refused = await api.delete(f"{s.base}/google-calendar", headers=s.owner)  # the owner has no connection of their own
    assert refused.status_code == 404
    done = await gbrowser.submit(f"/o/{s.slug}/google-calendar/disconnect", {}, form_page=f"/o/{s.slug}/google-calendar")
    assert done.status_code == 303
    assert refresh in stub.revoked and stub.refresh_tokens[refresh] is False
    assert await in_tenant(db, s.slug, "SELECT count(*) FROM google_calendar_connections") == [(0,)]
    assert (await _status(api, s))["connection"] is None
    again = await api.delete(f"{s.base}/google-calendar", headers=s.therapist)
    assert again.status_code == 404


async def test_without_settings_google_calendar_is_off_and_says_so(client, db, app):
    s = await _setup(client, db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        browser = Browser(http)
        await browser.login(s.therapist_email)
        card = await browser.get(f"/o/{s.slug}/google-calendar/card")
        assert card.status_code == 200 and "not configured on this server" in card.text and "Connect Google Calendar" not in card.text
        started = await http.post(f"/o/{s.slug}/google-calendar/connect", data={"_csrf_token": await browser.csrf(f"/o/{s.slug}/google-calendar")})
        assert started.status_code == 409
    status = await client.get(f"{s.base}/google-calendar", headers=s.therapist)
    assert status.json() == {"configured": False, "connection": None}
    refused = await client.post(f"{s.base}/google-calendar/authorization", headers=s.therapist)
    assert refused.status_code == 409 and refused.json()["reason"] == "google-calendar-off"
    assert await _slots(client, s, _day()) == [f"{h:02d}:00" for h in range(9, 17)]


def test_booking_events_hand_the_sync_job_on():
    for event in ("BOOKING_CONFIRMED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED"):
        [sync] = [f for f in FOLLOW_UPS[event] if f.function == "sync_google_event"]
        assert sync.kwargs == {"booking_id": "booking_id"}
    assert sync_google_event in worker_functions(msgspec.structs.replace(load_settings_for_test(), worker_extra_functions=None))


def load_settings_for_test():
    from anima.config import load_settings
    from tests.conftest import test_environ

    return load_settings(test_environ())


async def test_the_chosen_calendar_receives_the_events_and_hostile_choices_are_refused(client, db, stub, api, gbrowser, gapp):
    s = await _setup(client, db)
    _, assistant, _ = await add_member(client, db, s.org, "ASSISTANT")
    refused = await api.post(f"{s.base}/google-calendar/authorization", headers=bearer(assistant["access_token"]))
    assert refused.status_code == 403  # assistants connect nothing
    assert (await api.put(f"{s.base}/google-calendar/calendar", json={"calendar_id": "work"}, headers=s.therapist)).status_code == 404
    await _connect(gbrowser, stub, s)
    for bad in ({"calendar_id": ""}, {"calendar_id": "a\x00b"}, {"calendar_id": "x" * 256}, {"calendar_id": 7}, {"calendar": "work"}):
        answer = await api.put(f"{s.base}/google-calendar/calendar", json=bad, headers=s.therapist)
        assert answer.status_code in (400, 422), bad
    chosen = await api.put(f"{s.base}/google-calendar/calendar", json={"calendar_id": "team@group.calendar.google.com"}, headers=s.therapist)
    assert chosen.status_code == 200 and chosen.json()["calendar_id"] == "team@group.calendar.google.com"
    booking_id = await _book(api, s, _day(7), "15:00")
    ctx = {"anima": gapp.state["anima"]}
    assert await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id) == {"outcome": "created"}
    assert list(stub.live_events()) == [("team@group.calendar.google.com", event_id(uuid.UUID(booking_id)))]



async def test_through_the_real_queue_a_confirmed_booking_reaches_google_after_google_recovers(client, db, stub, api, gbrowser):
    from anima.jobs.relay import Relay
    from tests.integration.events_support import eventually, queue_settings, running_worker, services_for

    s = await _setup(client, db)
    await _connect(gbrowser, stub, s)
    stub.down = True
    booking_id = await _book(api, s, _day(8), "16:00")
    worker_settings = queue_settings("postgres", GOOGLE_CLIENT_ID=google_stub.CLIENT_ID, GOOGLE_CLIENT_SECRET=google_stub.CLIENT_SECRET,
                                     GOOGLE_OAUTH_BASE=stub.url, GOOGLE_API_BASE=stub.url)
    async with services_for(worker_settings, db) as svc, running_worker(svc):
        await Relay(svc).relay_tenant(s.tenant_id)

        async def attempted() -> bool:
            return stub.count("POST", "/events") >= 1

        await eventually(attempted)  # the follow-up job ran and met a Google that is down
        assert stub.live_events() == {}
        stub.down = False

        async def synced() -> bool:
            return len(stub.live_events()) == 1

        await eventually(synced, timeout=30)  # retried with backoff
    assert list(stub.live_events()) == [("primary", event_id(uuid.UUID(booking_id)))]
    rows = await in_tenant(db, s.slug, "SELECT present, last_error FROM google_event_syncs")
    assert rows == [(True, None)]


async def test_key_rotation_reseals_the_tokens_and_they_still_work(client, db, stub, api, gbrowser, settings):
    from anima.crypto.keyring import Keyring
    from anima.crypto.rotation import rotate_data_keys

    s = await _setup(client, db)
    await _connect(gbrowser, stub, s)
    before = await in_tenant(db, s.slug, "SELECT access_token_enc FROM google_calendar_connections")
    [report] = await rotate_data_keys(db.admin, Keyring(settings.master_key, db.admin), slugs=(s.slug,))
    assert report.error is None and report.reencrypted["google_calendar_connections"] == 1
    after = await in_tenant(db, s.slug, "SELECT access_token_enc FROM google_calendar_connections")
    assert bytes(after[0][0]) != bytes(before[0][0])
    day = _day(9)
    stub.busy = [{"start": _at(day, "09:00").isoformat(), "end": _at(day, "10:00").isoformat()}]
    assert "09:00" not in await _slots(api, s, day)  # the re-sealed token still opens Google


async def test_a_booking_moved_to_another_therapist_moves_between_their_calendars(client, db, stub, api, gbrowser, gapp):
    s = await _setup(client, db)
    await _connect(gbrowser, stub, s)
    email2, tokens2, therapist2 = await add_member(client, db, s.org, "THERAPIST")
    assigned = await client.put(f"{s.base}/services/{s.service_id}/therapists", json={"therapist_ids": [s.therapist_id, therapist2]},
                                headers=s.owner)
    assert assigned.status_code == 200, assigned.text
    for weekday in range(7):
        await client.post(f"{s.base}/availability/rules", json={"therapist_id": therapist2, "weekday": weekday, "start_time": "09:00",
                                                                "end_time": "17:00"}, headers=s.owner)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gapp), base_url="http://testserver") as http:
        second = msgspec.structs.replace(s, therapist_email=email2, therapist=bearer(tokens2["access_token"]), therapist_id=therapist2)
        await _connect(Browser(http), stub, second)
    second_calendar = "second.therapist@example.org"  # the stub does not tell accounts apart: another calendar id does
    chosen = await api.put(f"{s.base}/google-calendar/calendar", json={"calendar_id": second_calendar}, headers=second.therapist)
    assert chosen.status_code == 200
    booking_id = await _book(api, s, _day(10), "10:00")
    ctx = {"anima": gapp.state["anima"]}
    assert await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id) == {"outcome": "created"}
    moved = await api.post(f"{s.base}/bookings/{booking_id}/reschedule",
                           json={"starts_at": _at(_day(10), "11:00").isoformat(), "therapist_id": therapist2}, headers=s.owner)
    assert moved.status_code == 200, moved.text
    assert await sync_google_event(ctx, tenant_id=s.tenant_id, booking_id=booking_id) == {"outcome": "created"}
    assert stub.count("DELETE", "/events/") == 1 and stub.count("POST", "/events") == 2
    assert list(stub.live_events()) == [(second_calendar, event_id(uuid.UUID(booking_id)))]
    rows = await in_tenant(db, s.slug, "SELECT therapist_id::text FROM google_event_syncs")
    assert rows == [(therapist2,)]


async def test_the_public_wizard_hides_google_busy_times_too(client, db, stub, api, gbrowser):
    s = await _setup(client, db)
    day = _day()
    await _connect(gbrowser, stub, s)
    busy_start, busy_end = _at(day, "10:30"), _at(day, "12:00")
    stub.busy = [{"start": busy_start.isoformat(), "end": busy_end.isoformat()}]

    def _starts(text: str) -> set[datetime.datetime]:
        import re
        found = set()
        for raw in re.findall(r"start=([0-9T:%A-Za-z.+-]+)", text):
            from urllib.parse import unquote
            try:
                found.add(datetime.datetime.fromisoformat(unquote(raw).replace("Z", "+00:00")))
            except ValueError:
                continue
        return found

    hidden = {_at(day, "10:00"), _at(day, "11:00")}  # both overlap 10:30-12:00
    kept = {_at(day, "09:00"), _at(day, "12:00")}
    async with httpx.AsyncClient(transport=api._transport, base_url="http://testserver") as public:
        week = await public.get(f"/p/{s.slug}/book", params={"service": s.service_id, "therapist": s.therapist_id,
                                                            "zone": "Europe/Madrid", "from": day.isoformat()})
    assert week.status_code == 200, week.text
    offered = _starts(week.text)
    assert kept <= offered and not (hidden & offered), sorted(offered)
