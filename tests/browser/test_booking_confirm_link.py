"""The confirm link a reminder carries, in a real browser on a phone: the page shows the booking
and one button; pressing it confirms once (the client's confirmation is recorded, the button goes).
Screenshots at phone and desktop width, light and dark, and axe-core on each state."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import Server, visit_check
from tests.browser.test_booking_wizard import PHONE, _details, _practice
from tests.conftest import unique_email

pytestmark = pytest.mark.browser


def test_a_client_confirms_from_the_reminder_link_once(new_page, server: Server, request):
    slug, schema = _practice(server)
    page = new_page(locale="es-ES")
    page.set_viewport_size(PHONE)
    page.goto(f"/p/{slug}/book")
    page.get_by_role("link", name=re.compile("Primera sesión online")).click()
    page.get_by_role("link", name=re.compile("Cualquier terapeuta disponible")).click()
    page.locator(".slot").first.click()
    page.locator('input[name="first_name"]').wait_for()
    _details(page, "Lía", unique_email("lia"), "America/New_York")
    page.get_by_role("button", name="Confirmar la reserva").click()
    page.wait_for_url(re.compile(rf"/p/{slug}/b/[A-Za-z0-9_-]{{54}}"))
    confirm_url = page.url.split("?")[0] + "/confirm"

    page.goto(confirm_url)
    assert "Confirma tu reserva" in page.content() and "Vendré" in page.content() and "America/New York" in page.content()
    visit_check(page, "confirm", request=request)
    assert server.sql(f"SELECT client_confirmed_at IS NULL FROM {schema}.bookings") == [(True,)]  # seeing it confirms nothing
    page.get_by_role("button", name="Vendré").click()
    page.get_by_text("Gracias: has confirmado que vendrás.").wait_for()
    visit_check(page, "confirmed", request=request)
    assert server.sql(f"SELECT status, client_confirmed_at IS NOT NULL FROM {schema}.bookings") == [("CONFIRMED", True)]
    page.goto(confirm_url)
    assert "Ya habías confirmado que vendrás." in page.content()
    assert page.get_by_role("button", name="Vendré").count() == 0
