"""The settings page over HTTP: owners only, the practice settings, journey stages and the clinical policy."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import add_member, signup
from tests.web.conftest import Browser


async def _row(db, slug: str, statement: str) -> tuple:
    async with db.admin.connect() as conn:
        schema = (await conn.execute(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": slug})).scalar_one()
        return (await conn.execute(sa.text(statement.replace("{schema}", f'"{schema}"')))).one()


async def test_only_owners_open_and_change_the_settings(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    therapist, _, _ = await add_member(client, db, org, "THERAPIST")
    await browser.login(therapist)
    assert (await browser.get(f"/o/{org.slug}/settings")).status_code == 403
    token = await browser.csrf(f"/o/{org.slug}/team")
    refused = await browser.http.post(f"/o/{org.slug}/settings", data={"people_label": "Client", "_csrf_token": token})
    assert refused.status_code == 403
    assert await _row(db, org.slug, "SELECT people_label FROM {schema}.practice_settings") == ("Patient",)


async def test_owner_changes_label_language_and_zone(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/settings")
    assert page.status_code == 200 and "<h1>Settings</h1>" in page.text
    assert '<option value="Europe/Madrid">Europe/Madrid</option>' in page.text and "<optgroup" in page.text
    assert ">català</option>" in page.text
    saved = await browser.submit(f"/o/{org.slug}/settings", {"people_label": "Client", "locale": "es", "timezone": "America/Mexico_City"})
    assert saved.status_code == 303
    assert await _row(db, org.slug, "SELECT people_label, locale, timezone FROM {schema}.practice_settings") == ("Client", "es", "America/Mexico_City")
    spanish = await browser.get(f"/o/{org.slug}/settings")
    assert '<html lang="es">' in spanish.text and "<h1>Ajustes</h1>" in spanish.text and "Clientes" in spanish.text


async def test_settings_validation_and_hostile_input(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    path = f"/o/{org.slug}/settings"
    bad = await browser.submit(path, {"people_label": "Client", "locale": "en", "timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and 'id="e-timezone"' in bad.text
    for data in ({"people_label": "Client\x00"}, {"people_label": "x" * 10_000}, {"timezone": "x" * 10_000},
                 {"locale": "klingon"}, {"people_label": "Client", "unexpected": "1"}):
        response = await browser.submit(path, data)
        assert 400 <= response.status_code < 500, (response.status_code, data)
    assert await _row(db, org.slug, "SELECT people_label, locale, timezone FROM {schema}.practice_settings") == ("Patient", "en", "UTC")


async def test_stages_are_renamed_with_a_timeout_and_errors_stay_in_their_row(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    await browser.get(f"/o/{org.slug}/settings")  # the pipeline exists once read
    path = f"/o/{org.slug}/settings/stages/intake"
    ok = await browser.submit(path, {"label": "First talk", "timeout_days": "14"}, form_page=f"/o/{org.slug}/settings")
    assert ok.status_code == 303
    assert await _row(db, org.slug, "SELECT label, timeout_days FROM {schema}.journey_stages WHERE key = 'intake'") == ("First talk", 14)
    for data, field in (({"label": "Intake", "timeout_days": "abc"}, "timeout"), ({"label": "Intake", "timeout_days": "0"}, "timeout"),
                        ({"label": "", "timeout_days": ""}, "label"), ({"label": "x" * 10_000, "timeout_days": ""}, "label"),
                        ({"label": "Bad\x00", "timeout_days": ""}, None)):
        response = await browser.submit(path, data, form_page=f"/o/{org.slug}/settings")
        assert 400 <= response.status_code < 500, (response.status_code, data)
        if field:
            assert f'id="stage-intake-{field}-error"' in response.text, data
    cleared = await browser.submit(path, {"label": "First talk", "timeout_days": ""}, form_page=f"/o/{org.slug}/settings")
    assert cleared.status_code == 303
    assert await _row(db, org.slug, "SELECT label, timeout_days FROM {schema}.journey_stages WHERE key = 'intake'") == ("First talk", None)
    unknown = await browser.submit(f"/o/{org.slug}/settings/stages/nope", {"label": "X"}, form_page=f"/o/{org.slug}/settings")
    assert unknown.status_code == 404


async def test_the_clinical_policy_is_set_and_cleared(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    path = f"/o/{org.slug}/settings/clinical-policy"
    on = await browser.submit(path, {"restrict_therapists_to_assigned": "on"}, form_page=f"/o/{org.slug}/settings")
    assert on.status_code == 303
    assert await _row(db, org.slug, "SELECT restrict_therapists_to_assigned FROM {schema}.clinical_policy") == (True,)
    assert 'name="restrict_therapists_to_assigned" value="on" aria-describedby="policy-help" checked' in (await browser.get(f"/o/{org.slug}/settings")).text
    off = await browser.submit(path, {}, form_page=f"/o/{org.slug}/settings")
    assert off.status_code == 303
    assert await _row(db, org.slug, "SELECT restrict_therapists_to_assigned FROM {schema}.clinical_policy") == (False,)
    hostile = await browser.submit(path, {"restrict_therapists_to_assigned": "on\x00"}, form_page=f"/o/{org.slug}/settings")
    assert hostile.status_code == 422


async def test_owner_sets_the_sending_address_on_the_settings_page(client, db, browser: Browser):
    from anima.identity.operators import ensure_operator
    from anima.mail import domains
    from tests.conftest import PASSWORD, unique_email

    org = await signup(client, tier="PRO")
    domain = f"{org.slug}.example"
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/settings")
    assert 'id="sending-heading"' in page.text and "Your emails are sent from no-reply@anima.example in your practice's name." in page.text
    bad = await browser.submit(f"/o/{org.slug}/settings/mail-from", {"address": "not an address"}, form_page=f"/o/{org.slug}/settings")
    assert bad.status_code == 422 and 'id="e-address"' in bad.text and 'value="not an address"' in bad.text
    saved = await browser.submit(f"/o/{org.slug}/settings/mail-from", {"address": f"Hola@{domain}"}, form_page=f"/o/{org.slug}/settings")
    assert saved.status_code == 303 and saved.headers["location"].endswith("saved=mail#sending")
    shown = (await browser.get(f"/o/{org.slug}/settings?saved=mail")).text
    assert f"The domain of hola@{domain} is not verified on this platform yet" in shown and f'value="hola@{domain}"' in shown
    async with db.sessionmaker()() as session:
        async with session.begin():
            await domains.add_domain(session, domain)
            await domains.verify_domain(session, domain)
    assert f"Your emails are sent from hola@{domain}." in (await browser.get(f"/o/{org.slug}/settings")).text
    cleared = await browser.submit(f"/o/{org.slug}/settings/mail-from", {"address": ""}, form_page=f"/o/{org.slug}/settings")
    assert cleared.status_code == 303
    async with db.admin.connect() as conn:
        assert (await conn.execute(sa.text("SELECT mail_from_address FROM platform.tenants WHERE slug = :s"), {"s": org.slug})).scalar() is None

    operator = unique_email("op")
    await ensure_operator(db, email=operator, password=PASSWORD, display_name="Mail Operator")
    await browser.login(operator)
    console = await browser.get("/operator/mail")
    assert console.status_code == 200 and 'id="domains"' in console.text and f"<code>{domain}</code>" in console.text
