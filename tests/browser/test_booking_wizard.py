"""Public self-booking in a real browser on a phone-sized viewport: a new client books an online
first session through the wizard, the slot disappears for the next visitor, and the client cancels
from the manage link inside the policy's window — the fee shown first and recorded once. Then the
Madrid practice's wizard books a New York client for 20 March 2027, 15:00 Madrid time (between the
US and EU clock changes): the wizard, the manage page and the .ics file all say 15:00 Madrid /
10:00 New York. Screenshots at phone and desktop width, light and dark, and axe-core on each page."""

from __future__ import annotations

import datetime
import re
from urllib.parse import quote

import httpx
import pytest

from tests.browser.conftest import Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _practice(server: Server, owner: str | None = None) -> tuple[str, str]:
    """A Madrid practice (Spanish) whose owner gives a 50-minute online first session every day
    09:00–17:00 Madrid time; late cancellations (within 8 days) cost 20 EUR."""
    slug = unique_slug("book")
    signed = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Centre Serenitat", "slug": slug, "email": owner or unique_email("owner"), "password": PASSWORD,
        "display_name": "Marta Vidal", "tier": "PRO"}, timeout=30)
    assert signed.status_code == 201, signed.text
    owner_id = signed.json()["user_id"]
    headers = {"Authorization": f"Bearer {signed.json()['tokens']['access_token']}"}
    base = f"{server.base}/api/v1/orgs/{slug}"
    assert httpx.patch(f"{base}/settings", json={"timezone": "Europe/Madrid", "locale": "es"}, headers=headers, timeout=30).status_code == 200
    service = httpx.post(f"{base}/services", json={
        "name": "Primera sesión online", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
        "currency": "EUR", "location": "ONLINE", "therapist_ids": [owner_id], "min_notice_minutes": 60, "horizon_days": 200,
        "slot_step_minutes": 60}, headers=headers, timeout=30)
    assert service.status_code == 201, service.text
    for weekday in range(7):
        rule = httpx.post(f"{base}/availability/rules", json={"therapist_id": owner_id, "weekday": weekday, "start_time": "09:00",
                                                              "end_time": "17:00"}, headers=headers, timeout=30)
        assert rule.status_code == 201, rule.text
    policy = httpx.put(f"{base}/cancellation-policies/organization", json={
        "window_hours": 192, "late_cancel_kind": "FIXED", "late_cancel_value": 2000, "no_show_kind": "NONE", "no_show_value": 0},
        headers=headers, timeout=30)
    assert policy.status_code == 200, policy.text
    return slug, server.sql("SELECT schema_name FROM platform.tenants WHERE slug = %(s)s", {"s": slug})[0][0]


def _details(page, name: str, email: str, zone: str) -> None:
    page.locator('input[name="first_name"]').fill(name)
    page.locator('input[name="email"]').fill(email)
    page.locator('select[name="time_zone"]').select_option(zone)
    page.locator('input[name="consent"]').check()


def test_a_new_client_books_on_a_phone_and_cancels_by_link(new_page, server: Server, request):
    slug, schema = _practice(server)
    page = new_page(locale="es-ES")
    page.set_viewport_size(PHONE)
    page.goto(f"/p/{slug}/book")
    assert "Elige un servicio" in page.content()
    visit_check(page, "services", request=request)
    page.get_by_role("link", name=re.compile("Primera sesión online")).click()
    page.get_by_role("link", name=re.compile("Cualquier terapeuta disponible")).click()
    page.locator(".slot").first.wait_for()
    visit_check(page, "times", request=request)
    first = page.locator(".slot").first
    href = first.get_attribute("href")
    start = re.search(r"start=([^&]+)", href).group(1)
    first.click()
    page.locator('input[name="first_name"]').wait_for()
    _details(page, "Lía", unique_email("lia"), "Europe/Madrid")
    visit_check(page, "details", request=request)
    page.get_by_role("button", name="Confirmar la reserva").click()
    page.wait_for_url(re.compile(rf"/p/{slug}/b/[A-Za-z0-9_-]{{54}}"))
    manage_url = page.url.split("?")[0]
    text = page.content()
    assert "Tu reserva está confirmada" in text and "20,00" in text and "si cancelas ahora se registra este cargo" in text
    visit_check(page, "manage", request=request)
    assert server.sql(f"SELECT status FROM {schema}.bookings") == [("CONFIRMED",)]
    assert server.sql(f"SELECT source, stage FROM {schema}.leads") == [("BOOKING", "CONVERTED")]

    # the next visitor does not see the slot
    other = new_page(locale="es-ES")
    other.set_viewport_size(PHONE)
    other.goto(href.replace(f"&start={start}", "").replace(f"&amp;start={start}", ""))
    other.locator(".slot").first.wait_for()
    assert f"start={start}" not in other.content()

    # the client cancels from the link: the fee was shown first, it is recorded once
    page.goto(manage_url)
    page.get_by_role("button", name="Cancelar esta reserva").click()
    page.wait_for_url(re.compile(r"/b/"))
    assert "Cancelada" in page.content() and "Cancelar esta reserva" not in page.content()
    assert server.sql(f"SELECT status, cancelled_by_kind FROM {schema}.bookings") == [("CANCELLED", "client")]
    assert server.sql(f"SELECT reason, amount_minor, currency FROM {schema}.booking_charges") == [("LATE_CANCEL", 2000, "EUR")]
    page.goto(manage_url)  # seen again: nothing more to do, nothing charged twice
    assert server.sql(f"SELECT count(*) FROM {schema}.booking_charges") == [(1,)]


def test_madrid_practice_books_a_new_york_client_at_15_madrid(new_page, server: Server, request):
    slug, schema = _practice(server)
    page = new_page(locale="es-ES")
    page.set_viewport_size(PHONE)
    service_id = server.sql(f"SELECT id FROM {schema}.services")[0][0]
    page.goto(f"/p/{slug}/book?service={service_id}&therapist=any&zone={quote('America/New_York')}&from=2027-03-20")
    assert "America/New York" in page.content()
    slot = page.locator('a.slot[href*="start=2027-03-20T14%3A00%3A00Z"]')
    assert slot.inner_text().strip() == "10:00"
    visit_check(page, "new-york-times", request=request)
    slot.click()
    page.locator('input[name="first_name"]').wait_for()
    text = page.content()
    assert "sábado, 20 de marzo de 2027, 10:00 EDT (America/New York)" in text
    assert "sábado, 20 de marzo de 2027, 15:00 CET (Europe/Madrid)" in text
    _details(page, "Ann", unique_email("ann"), "America/New_York")
    visit_check(page, "new-york-details", request=request)
    page.get_by_role("button", name="Confirmar la reserva").click()
    page.wait_for_url(re.compile(rf"/p/{slug}/b/"))
    text = page.content()
    assert "10:00 EDT (America/New York)" in text and "15:00 CET (Europe/Madrid)" in text
    visit_check(page, "new-york-manage", request=request)
    ics = httpx.get(page.url.split("?")[0] + "/booking.ics", timeout=30)
    assert ics.status_code == 200 and "DTSTART:20270320T140000Z" in ics.text and "DTEND:20270320T145000Z" in ics.text
    # a client who comes back without the zone in the address still reads New York time (their profile's zone)
    page.goto(page.url.split("?")[0])
    assert "10:00 EDT (America/New York)" in page.content()


def test_the_owner_works_the_week_calendar(new_page, server: Server, request):
    owner = unique_email("owner")
    slug, schema = _practice(server, owner)
    page = new_page(locale="es-ES")
    page.goto(f"/p/{slug}/book")  # a client books first
    page.get_by_role("link", name=re.compile("Primera sesión online")).click()
    page.get_by_role("link", name=re.compile("Cualquier terapeuta disponible")).click()
    page.locator(".slot").first.click()
    _details(page, "Lía", unique_email("lia"), "Europe/Madrid")
    page.get_by_role("button", name="Confirmar la reserva").click()
    page.wait_for_url(re.compile(r"/b/"))
    page.goto("/login")
    page.locator('input[name="email"]').fill(owner)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[action="/login"] button[type="submit"]').click()
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    page.get_by_role("link", name="Calendario", exact=True).click()
    page.wait_for_url(re.compile(rf"/o/{slug}/calendar"))
    assert page.locator(".booking").count() == 1 and "Lía" in page.locator(".booking").inner_text()
    visit_check(page, "week", request=request)
    page.get_by_role("link", name="Reservar para un paciente").click()
    page.get_by_role("button", name="Ver horas libres").click()
    page.locator(".slot").first.wait_for()
    visit_check(page, "book-for-a-patient", request=request)
    page.locator(".slot").nth(3).click()
    page.get_by_role("button", name="Reservar", exact=True).click()
    page.wait_for_url(re.compile(rf"/o/{slug}/calendar\?week="))
    assert page.locator(".booking").count() >= 1
    page.goto(f"/o/{slug}/calendar/availability")
    assert page.locator(".availability-rules li").count() == 7
    visit_check(page, "availability", request=request)
    page.goto(f"/o/{slug}/calendar/feed")
    page.get_by_role("button", name=re.compile("Crear mi dirección")).click()
    url = page.locator(".feed-url").inner_text()
    visit_check(page, "feed", request=request)
    feed = httpx.get(url.replace(url.split("/p/")[0], server.base), timeout=30)
    assert feed.status_code == 200 and "Lía" not in feed.text and "SUMMARY:Primera sesión online" in feed.text
    # a new date of a group retreat, typed in Madrid time, then a seat for the client
    token = httpx.post(f"{server.base}/api/v1/auth/login", json={"email": owner, "password": PASSWORD}, timeout=30).json()["access_token"]
    retreat = httpx.post(f"{server.base}/api/v1/orgs/{slug}/services", json={
        "name": "Retiro", "kind": "GROUP", "scheduling": "FIXED_DATE", "duration_minutes": 480, "price_minor": 30000, "currency": "EUR",
        "location": "IN_PERSON", "capacity": 8}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert retreat.status_code == 201, retreat.text
    page.goto(f"/o/{slug}/calendar/occurrences")
    page.locator('select[name="service_id"]').select_option(retreat.json()["id"])
    day = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=60)).date().isoformat()
    page.locator('input[name="starts_at"]').fill(f"{day}T09:00")
    page.locator('input[name="ends_at"]').fill(f"{day}T17:00")
    page.locator('input[name="price"]').fill("250,50")
    page.get_by_role("button", name="Añadir fecha").click()
    page.locator(".occurrences .card").first.wait_for()
    assert "0 de 8" in page.locator(".occurrences .card").first.inner_text()
    page.get_by_role("button", name="Reservar plaza").first.click()
    page.locator(".occurrences .card").first.wait_for()
    assert "1 de 8" in page.locator(".occurrences .card").first.inner_text()
    visit_check(page, "occurrences", request=request)
