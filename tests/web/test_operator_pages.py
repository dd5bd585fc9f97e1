"""The operator console over HTTP: operators only; provision, suspend, resume and comp; no clinical content.

Also the page a member of a suspended organization meets: what happened, that the data is kept,
whom to contact, in the browser's language.
"""

from __future__ import annotations

import sqlalchemy as sa

from anima.identity.operators import ensure_operator
from tests.conftest import PASSWORD, add_member, signup, unique_email, unique_slug
from tests.web.conftest import Browser


async def _operator(db, browser: Browser) -> str:
    email = unique_email("op")
    await ensure_operator(db, email=email, password=PASSWORD, display_name="Console Operator")
    await browser.login(email)
    return email


async def test_only_operators_reach_the_console(client, db, browser: Browser, other_browser: Browser):
    org = await signup(client)
    for path in ("/operator/", "/operator/tenants/new", f"/operator/tenants/{org.slug}", "/operator/jobs"):
        signed_out = await browser.get(path)
        assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login?next=")
    await other_browser.login(org.owner_email)
    for path in ("/operator/", "/operator/tenants/new", f"/operator/tenants/{org.slug}", "/operator/jobs"):
        refused = await other_browser.get(path)
        assert refused.status_code == 403, (path, refused.status_code)
        assert org.slug not in refused.text or path.endswith(org.slug) and "Practice" not in refused.text
    token = await other_browser.csrf("/login")
    for path, data in ((f"/operator/tenants/{org.slug}/suspend", {"reason": "testing"}),
                       (f"/operator/tenants/{org.slug}/tier", {"tier": "CENTER", "reason": "testing"}),
                       ("/operator/tenants", {"slug": unique_slug(), "name": "X", "owner_email": unique_email(), "tier": "PRO"})):
        refused = await other_browser.http.post(path, data={**data, "_csrf_token": token})
        assert refused.status_code == 403, path
    async with db.admin.connect() as conn:
        state, tier = (await conn.execute(sa.text("SELECT state, tier FROM platform.tenants WHERE slug = :s"), {"s": org.slug})).one()
    assert (state, tier) == ("active", "BUILDER")
    # the operator flag is checked live: a demoted operator is refused at once
    op = await _operator(db, browser)
    assert (await browser.get("/operator/")).status_code == 200
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("UPDATE platform.users SET is_operator = false WHERE email = :e"), {"e": op})
    assert (await browser.get("/operator/")).status_code == 403


async def test_tenants_list_filters_and_pages(client, db, browser: Browser):
    orgs = [await signup(client) for _ in range(2)]
    await _operator(db, browser)
    page = await browser.get("/operator/")
    assert page.status_code == 200 and "<th scope=\"col\">" in page.text and 'href="/workspaces"' in page.text
    for org in orgs:  # other tests' tenants share the database: find each by its slug
        found = await browser.get("/operator/", params={"q": org.slug})
        assert org.slug in found.text and "1 tenant" in found.text
    async with db.admin.connect() as conn:
        total = (await conn.execute(sa.text("SELECT count(*) FROM platform.tenants"))).scalar_one()
    if total > 25:
        assert 'rel="next"' in page.text and "of " in page.text
    filtered = await browser.get("/operator/", params={"q": orgs[0].slug})
    assert orgs[0].slug in filtered.text and orgs[1].slug not in filtered.text
    suspended = await browser.get("/operator/", params={"state": "suspended", "q": orgs[0].slug})
    assert orgs[0].slug not in suspended.text.split("<h1>")[1] or "No tenant matches" in suspended.text
    second = await browser.get("/operator/", params={"offset": "25"})
    assert second.status_code == 200
    for params in ({"state": "bogus"}, {"offset": "abc"}, {"offset": "-1"}, {"q": "x" * 10_000}, {"q": "a\x00b"}):
        answer = await browser.get("/operator/", params=params)
        assert 400 <= answer.status_code < 500 or answer.status_code == 200, (params, answer.status_code)
        assert answer.status_code != 500
    assert (await browser.get("/operator/tenants/no-such-tenant-here")).status_code == 404
    jobs = await browser.get("/operator/jobs")
    assert jobs.status_code == 200 and "Failed jobs" in jobs.text
    assert (await browser.get("/operator/jobs", params={"tenant_id": "abc"})).status_code in (400, 422)


async def test_provision_suspend_resume_and_comp(client, db, browser: Browser, other_browser: Browser):
    operator = await _operator(db, browser)
    slug, owner = unique_slug("prov"), unique_email("newowner")
    form = await browser.get("/operator/tenants/new")
    assert form.status_code == 200 and 'name="slug"' in form.text and 'name="owner_email"' in form.text
    made = await browser.submit("/operator/tenants", {"slug": slug, "name": "Lighthouse Therapy", "tier": "PRO", "owner_email": owner},
                                form_page="/operator/tenants/new")
    assert made.status_code == 303 and made.headers["location"].startswith(f"/operator/tenants/{slug}")
    detail = await browser.get(made.headers["location"])
    assert detail.status_code == 200 and "Lighthouse Therapy" in detail.text and "invited by email" in detail.text
    async with db.admin.connect() as conn:
        row = (await conn.execute(sa.text("SELECT state, tier FROM platform.tenants WHERE slug = :s"), {"s": slug})).one()
        invited = (await conn.execute(sa.text("SELECT count(*) FROM platform.email_outbox WHERE recipient = :r"), {"r": owner})).scalar_one()
    assert tuple(row) == ("active", "PRO") and invited == 1

    # the same slug again: the error beside the field, the typed values kept
    again = await browser.submit("/operator/tenants", {"slug": slug, "name": "Second Try", "tier": "PRO", "owner_email": owner},
                                 form_page="/operator/tenants/new")
    assert again.status_code == 409
    assert 'id="e-slug"' in again.text and 'value="Second Try"' in again.text

    # a member of the tenant (signed up through the API elsewhere) will see it suspended
    org = await signup(client)
    await other_browser.login(org.owner_email)
    assert (await other_browser.get(f"/o/{org.slug}/")).status_code == 200

    short = await browser.submit(f"/operator/tenants/{org.slug}/suspend", {"reason": "x"}, form_page=f"/operator/tenants/{org.slug}")
    assert short.status_code == 422 and 'id="e-reason"' in short.text and 'value="x"' in short.text
    suspended = await browser.submit(f"/operator/tenants/{org.slug}/suspend", {"reason": "unpaid invoices"},
                                     form_page=f"/operator/tenants/{org.slug}")
    assert suspended.status_code == 303
    shown = await browser.get(suspended.headers["location"])
    assert "Resume this tenant" in shown.text and "unpaid invoices" in shown.text

    blocked = await other_browser.get(f"/o/{org.slug}/")
    assert blocked.status_code == 403
    assert "This organization is suspended" in blocked.text and "Nothing has been deleted" in blocked.text
    assert "contact Anima support" in blocked.text
    catalan = await other_browser.get(f"/o/{org.slug}/", headers={"accept-language": "ca"})
    assert "Aquesta organització està suspesa" in catalan.text and 'lang="ca"' in catalan.text
    # suspending twice is a no-op; resuming an active tenant is refused beside the field... of state: 409
    resumed = await browser.submit(f"/operator/tenants/{org.slug}/resume", {"reason": "paid in full"}, form_page=f"/operator/tenants/{org.slug}")
    assert resumed.status_code == 303
    assert (await other_browser.get(f"/o/{org.slug}/")).status_code == 200

    comp = await browser.submit(f"/operator/tenants/{org.slug}/tier", {"tier": "CENTER", "reason": "pilot partner"},
                                form_page=f"/operator/tenants/{org.slug}")
    assert comp.status_code == 303
    async with db.admin.connect() as conn:
        tier = (await conn.execute(sa.text("SELECT tier FROM platform.tenants WHERE slug = :s"), {"s": org.slug})).scalar_one()
        change = (await conn.execute(sa.text(
            "SELECT actor, reason FROM platform.tier_changes c JOIN platform.tenants t ON t.id = c.tenant_id "
            "WHERE t.slug = :s ORDER BY c.created_at DESC LIMIT 1"), {"s": org.slug})).one()
    assert tier == "CENTER" and change.actor == operator and "pilot partner" in change.reason
    history = await browser.get(f"/operator/tenants/{org.slug}")
    assert "pilot partner" in history.text and "comped: CENTER" in history.text
    bad_tier = await browser.submit(f"/operator/tenants/{org.slug}/tier", {"tier": "GOLD", "reason": "x"}, form_page=f"/operator/tenants/{org.slug}")
    assert bad_tier.status_code == 422 and 'id="e-tier"' in bad_tier.text and 'id="e-comp-reason"' in bad_tier.text


async def test_hostile_inputs_are_refused_and_nothing_is_half_written(db, browser: Browser):
    await _operator(db, browser)
    cases = [
        {"slug": "ok-slug\x00", "name": "N", "tier": "PRO", "owner_email": unique_email()},
        {"slug": unique_slug(), "name": "N" * 10_000, "tier": "PRO", "owner_email": unique_email()},
        {"slug": unique_slug(), "name": "N", "tier": "PRO", "owner_email": "x" * 10_000 + "@a.example"},
        {"slug": unique_slug(), "name": "N", "tier": 12, "owner_email": unique_email()},
        {"slug": "Not A Slug", "name": "N", "tier": "PRO", "owner_email": unique_email()},
        {"slug": unique_slug(), "name": "N", "tier": "PRO", "owner_email": "not-an-email"},
        {"slug": unique_slug(), "name": "N", "tier": "PRO", "owner_email": unique_email(), "extra": "field"},
    ]
    async with db.admin.connect() as conn:
        before = (await conn.execute(sa.text("SELECT count(*) FROM platform.tenants"))).scalar_one()
    for data in cases:
        answer = await browser.submit("/operator/tenants", data, form_page="/operator/tenants/new")
        assert 400 <= answer.status_code < 500, (data, answer.status_code)
    for path in ("/operator/tenants/whatever/suspend", "/operator/tenants/whatever/tier"):
        for data in ({"reason": "r\x00r"}, {"reason": "r" * 10_000}, {"tier": "PRO", "reason": "a" * 10_000}):
            answer = await browser.submit(path, data, form_page="/operator/tenants/new")
            assert 400 <= answer.status_code < 500, (path, data, answer.status_code)
    async with db.admin.connect() as conn:
        after = (await conn.execute(sa.text("SELECT count(*) FROM platform.tenants"))).scalar_one()
    assert after == before


async def test_operator_pages_never_show_clinical_content(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    secret_name, secret_note = "Zephyrine", "Confided-about-the-lighthouse-keeper-9731"
    patient = await client.post(f"/api/v1/orgs/{org.slug}/patients", headers=org.headers, json={
        "first_name": secret_name, "last_name": "Quillfeather", "clinical": {"risk_notes": "Clinical-risk-text-5521"}})
    assert patient.status_code == 201, patient.text
    entry = await client.post(f"/api/v1/orgs/{org.slug}/patients/{patient.json()['id']}/journal", headers=org.headers,
                              json={"kind": "note", "html": f"<p>{secret_note}</p>"})
    assert entry.status_code == 201, entry.text
    await _operator(db, browser)
    texts = []
    for path in ("/operator/", f"/operator/?q={org.slug}", f"/operator/tenants/{org.slug}", "/operator/jobs", "/operator/tenants/new"):
        page = await browser.get(path)
        assert page.status_code == 200, path
        texts.append(page.text)
    everything = "\n".join(texts)
    assert org.slug in everything
    for secret in (secret_name, "Quillfeather", secret_note, "Clinical-risk-text-5521"):
        assert secret not in everything
    # counts only: one patient is counted
    assert "1 of 50" in texts[2]


async def test_an_operator_lands_on_workspaces_with_a_console_link(client, db, browser: Browser):
    await _operator(db, browser)
    landing = await browser.get("/workspaces")
    assert landing.status_code == 200 and 'href="/operator/"' in landing.text
    org = await signup(client)
    email, _, _ = await add_member(client, db, org, "THERAPIST")
    await browser.http.post("/logout", data={"_csrf_token": await browser.csrf("/login")})
    browser.http.cookies.clear()
    await browser.login(email)
    assert (await browser.get("/operator/")).status_code == 403
