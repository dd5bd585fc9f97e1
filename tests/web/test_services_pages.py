"""The services pages over HTTP: who sees what, the form into the API's schema, prices in minor units."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from anima.domains.catalog.pages import minor_to_price, price_to_minor
from tests.conftest import add_member, signup
from tests.web.conftest import Browser


def _form(**overrides) -> dict:
    data = {"name": "Individual session", "description": "", "kind": "ONE_ON_ONE", "capacity": "", "scheduling": "CALENDAR",
            "duration_minutes": "50", "price": "60.00", "currency": "EUR", "location": "ONLINE", "location_detail": "", "active": "on"}
    data.update(overrides)
    return data


async def _services(db, slug: str) -> list[tuple]:
    async with db.admin.connect() as conn:
        schema = (await conn.execute(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": slug})).scalar_one()
        return (await conn.execute(sa.text(f'SELECT name, price_minor, currency, active, capacity FROM "{schema}".services ORDER BY name'))).all()


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("60.00", "EUR", 6000), ("60", "EUR", 6000), ("60,5", "EUR", 6050), ("0", "EUR", 0), ("0.10", "EUR", 10),
    ("1500", "JPY", 1500), ("1.250", "BHD", 1250), ("19.990", "EUR", 1999), ("1000000", "EUR", 100_000_000),
])
def test_prices_convert_exactly_into_minor_units(text, currency, minor):
    assert price_to_minor(text, currency, "en") == (minor, None)


@pytest.mark.parametrize(("text", "currency", "says"), [
    ("abc", "EUR", "Enter an amount such as 60.00"), ("12.345", "EUR", "EUR has 2 decimals"), ("-5", "EUR", "Enter an amount"),
    ("1,000.00", "EUR", "Enter an amount"), ("1.5", "JPY", "JPY has no cents"), ("1e3", "EUR", "Enter an amount"),
    ("1000000.01", "EUR", "Enter at most 1000000.00"), ("9" * 20, "EUR", "Enter an amount"),
])
def test_prices_that_are_not_exact_amounts_are_refused_with_a_reason(text, currency, says):
    minor, error = price_to_minor(text, currency, "en")
    assert minor is None and says in error


def test_minor_units_shown_back_as_the_form_writes_them():
    assert minor_to_price(6000, "EUR") == "60.00" and minor_to_price(1500, "JPY") == "1500" and minor_to_price(1250, "BHD") == "1.250"


async def test_owner_creates_edits_assigns_and_deletes_a_service(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    therapist, _, therapist_id = await add_member(client, db, org, "THERAPIST")
    await browser.login(org.owner_email)
    empty = await browser.get(f"/o/{org.slug}/services")
    assert empty.status_code == 200 and "No services yet" in empty.text
    new = await browser.get(f"/o/{org.slug}/services/new")
    assert new.status_code == 200 and 'value="therapist_ids"' not in new.text and therapist_id in new.text
    created = await browser.submit(f"/o/{org.slug}/services/new", {**_form(), "therapist_ids": therapist_id})
    assert created.status_code == 303, created.text
    assert await _services(db, org.slug) == [("Individual session", 6000, "EUR", True, None)]
    listing = await browser.get(f"/o/{org.slug}/services")
    assert "Individual session" in listing.text and "€60.00" in listing.text and "Therapist" in listing.text
    service_id = re.search(r"/services/([0-9a-f-]{36})/edit", listing.text).group(1)
    edit = f"/o/{org.slug}/services/{service_id}/edit"
    form = await browser.get(edit)
    assert 'value="60.00"' in form.text and f'value="{therapist_id}" checked' in form.text
    changed = await browser.submit(edit, _form(name="Group circle", kind="GROUP", capacity="8", price="25,50", active=""))
    assert changed.status_code == 303, changed.text
    assert await _services(db, org.slug) == [("Group circle", 2550, "EUR", False, 8)]
    assert f'value="{therapist_id}" checked' not in (await browser.get(edit)).text  # unassigned: no box ticked
    deleted = await browser.submit(f"/o/{org.slug}/services/{service_id}/delete", {}, form_page=edit)
    assert deleted.status_code == 303 and await _services(db, org.slug) == []
    assert (await browser.get(edit)).status_code == 404
    assert (await browser.get(f"/o/{org.slug}/services/{uuid.uuid4()}/edit")).status_code == 404


async def test_validation_errors_stay_beside_the_fields_with_the_typed_values(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    path = f"/o/{org.slug}/services/new"
    cases = [
        (_form(price="abc"), "price", "Enter an amount such as 60.00"),
        (_form(price="12.345"), "price", "EUR has 2 decimals"),
        (_form(duration_minutes="abc"), "duration_minutes", "whole number"),
        (_form(duration_minutes="2"), "duration_minutes", "at least 5"),
        (_form(kind="GROUP", capacity=""), "capacity", "capacity"),
        (_form(currency="XXX"), "currency", "ISO 4217"),
        (_form(name=""), "name", "required"),
    ]
    for data, field, says in cases:
        response = await browser.submit(path, data)
        assert response.status_code == 422, (field, response.status_code)
        error = re.search(rf'<p class="error" id="e-{field}"[^>]*>([^<]*)</p>', response.text)
        assert error and says.lower() in error.group(1).lower(), (field, error and error.group(1))
        assert f'value="{data["price"]}"' in response.text  # what was typed is kept
    assert await _services(db, org.slug) == []


async def test_hostile_input_is_refused_and_nothing_is_written(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    path = f"/o/{org.slug}/services/new"
    for data in (_form(name="Bad\x00name"), _form(name="x" * 10_000), _form(description="d" * 10_000), _form(price="9" * 10_000),
                 _form(duration_minutes="9" * 10_000), {**_form(), "therapist_ids": "abc"}, {**_form(), "therapist_ids": str(uuid.uuid4())},
                 {**_form(), "kind": "x" * 10_000}, {**_form(), "unexpected": "1"}):
        response = await browser.submit(path, data)
        assert 400 <= response.status_code < 500, (response.status_code, list(data))
    assert await _services(db, org.slug) == []


async def test_roles_see_what_the_api_shows_them(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    therapist, _, therapist_id = await add_member(client, db, org, "THERAPIST")
    assistant, _, _ = await add_member(client, db, org, "ASSISTANT")
    await browser.login(org.owner_email)
    await browser.submit(f"/o/{org.slug}/services/new", {**_form(name="Assigned one"), "therapist_ids": therapist_id})
    await browser.submit(f"/o/{org.slug}/services/new", _form(name="Someone else's"))
    browser.http.cookies.clear()
    await browser.login(therapist)
    mine = await browser.get(f"/o/{org.slug}/services")
    assert "Assigned one" in mine.text and "Someone else" not in mine.text and "New service" not in mine.text
    assert (await browser.get(f"/o/{org.slug}/services/new")).status_code == 403
    refused = await browser.http.post(f"/o/{org.slug}/services/new", data={**_form(), "_csrf_token": await browser.csrf(f"/o/{org.slug}/services")})
    assert refused.status_code == 403
    browser.http.cookies.clear()
    await browser.login(assistant)
    every = await browser.get(f"/o/{org.slug}/services")
    assert "Assigned one" in every.text and "Someone else" in every.text and "/edit" not in every.text


async def test_the_active_services_limit_names_the_tier_that_lifts_it(client, db, browser: Browser):
    org = await signup(client, tier="BUILDER")  # 3 active services
    await browser.login(org.owner_email)
    for n in range(3):
        assert (await browser.submit(f"/o/{org.slug}/services/new", _form(name=f"Service {n}"))).status_code == 303
    refused = await browser.submit(f"/o/{org.slug}/services/new", _form(name="Fourth"))
    assert refused.status_code == 403
    assert "Active services" in refused.text and "3 of 3 in use on the BUILDER plan" in refused.text
    assert "The PRO plan allows more." in refused.text and f'href="/o/{org.slug}/billing"' in refused.text
    assert 'value="Fourth"' in refused.text
    inactive = await browser.submit(f"/o/{org.slug}/services/new", _form(name="Fourth", active=""))
    assert inactive.status_code == 303  # an inactive service does not count
    assert len(await _services(db, org.slug)) == 4
