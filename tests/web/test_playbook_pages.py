"""The playbooks page: the marketplace by plan, install, switch on and off, runs; owners only."""

from __future__ import annotations

from tests.conftest import add_member, signup
from tests.web.conftest import Browser


async def test_marketplace_install_and_toggle(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/playbooks")
    assert page.status_code == 200
    text = page.text
    assert "Escudo de Seguridad" in text and "Cobrador Automático" in text and "Fidelización Post-Retiro" in text
    # Fidelización needs retreats: locked on PRO, naming the tier that unlocks it
    assert "Locked on your PRO plan." in text and "Available on CENTER." in text
    assert "No playbook installed yet" in text and "No runs yet" in text

    installed = await browser.submit(f"/o/{org.slug}/playbooks/escudo-de-seguridad/install", {}, form_page=f"/o/{org.slug}/playbooks")
    assert installed.status_code == 303 and installed.headers["location"].endswith("/playbooks?done=installed")
    after = await browser.get(installed.headers["location"])
    assert "The playbook is installed and switched on." in after.text and "Switch off Escudo de Seguridad" in after.text
    rules = (await client.get(f"/api/v1/orgs/{org.slug}/playbooks", headers=org.headers)).json()
    assert [(r["template_key"], r["enabled"]) for r in rules] == [("escudo-de-seguridad", True)]

    again = await browser.submit(f"/o/{org.slug}/playbooks/escudo-de-seguridad/install", {}, form_page=f"/o/{org.slug}/playbooks")
    assert again.status_code == 409 and "already installed" in again.text
    locked = await browser.submit(f"/o/{org.slug}/playbooks/fidelizacion-post-retiro/install", {}, form_page=f"/o/{org.slug}/playbooks")
    assert locked.status_code == 403 and "CENTER" in locked.text
    unknown = await browser.submit(f"/o/{org.slug}/playbooks/no-such-playbook/install", {}, form_page=f"/o/{org.slug}/playbooks")
    assert unknown.status_code == 404

    rule_id = rules[0]["id"]
    off = await browser.submit(f"/o/{org.slug}/playbooks/rules/{rule_id}", {"enabled": "off"}, form_page=f"/o/{org.slug}/playbooks")
    assert off.status_code == 303
    assert "Switch on Escudo de Seguridad" in (await browser.get(off.headers["location"])).text
    assert (await client.get(f"/api/v1/orgs/{org.slug}/playbooks", headers=org.headers)).json()[0]["enabled"] is False
    on = await browser.submit(f"/o/{org.slug}/playbooks/rules/{rule_id}", {"enabled": "on"}, form_page=f"/o/{org.slug}/playbooks")
    assert on.status_code == 303
    assert (await client.get(f"/api/v1/orgs/{org.slug}/playbooks", headers=org.headers)).json()[0]["enabled"] is True


async def test_hostile_inputs_and_paging(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    base = f"/o/{org.slug}/playbooks"
    await browser.submit(f"{base}/escudo-de-seguridad/install", {}, form_page=base)
    rule_id = (await client.get(f"/api/v1/orgs/{org.slug}/playbooks", headers=org.headers)).json()[0]["id"]
    for data in ({"enabled": "maybe"}, {"enabled": "\x00"}, {"enabled": "on" * 5000}, {}, {"enabled": "on", "extra": "x"}):
        answer = await browser.submit(f"{base}/rules/{rule_id}", data, form_page=base)
        assert 400 <= answer.status_code < 500, (data, answer.status_code)
    assert (await client.get(f"/api/v1/orgs/{org.slug}/playbooks", headers=org.headers)).json()[0]["enabled"] is True
    missing = await browser.submit(f"{base}/rules/00000000-0000-0000-0000-000000000000", {"enabled": "off"}, form_page=base)
    assert missing.status_code == 404
    assert (await browser.submit(f"{base}/rules/not-a-uuid", {"enabled": "off"}, form_page=base)).status_code == 404
    bad_key = await browser.submit(f"{base}/{'x' * 200}/install", {}, form_page=base)
    assert 400 <= bad_key.status_code < 500
    for offset in ("abc", "-5", "99999999999"):
        assert 400 <= (await browser.get(base, params={"offset": offset})).status_code < 500
    assert (await browser.get(base, params={"offset": "50"})).status_code == 200


async def test_only_owners_see_playbooks(client, db, browser: Browser, other_browser: Browser):
    org = await signup(client, tier="PRO")
    therapist, _, _ = await add_member(client, db, org, "THERAPIST")
    assistant, _, _ = await add_member(client, db, org, "ASSISTANT")
    for email in (therapist, assistant):
        browser.http.cookies.clear()
        await browser.login(email)
        page = await browser.get(f"/o/{org.slug}/playbooks")
        assert page.status_code == 403
        dashboard = await browser.get(f"/o/{org.slug}/")
        assert f'href="/o/{org.slug}/playbooks"' not in dashboard.text
        refused = await browser.submit(f"/o/{org.slug}/playbooks/escudo-de-seguridad/install", {}, form_page=f"/o/{org.slug}/")
        assert refused.status_code == 403
    assert (await client.get(f"/api/v1/orgs/{org.slug}/playbooks", headers=org.headers)).json() == []


async def test_the_page_speaks_the_organizations_language(client, db, browser: Browser):
    org = await signup(client, tier="BUILDER")
    changed = await client.patch(f"/api/v1/orgs/{org.slug}/settings", headers=org.headers, json={"locale": "ca"})
    assert changed.status_code == 200, changed.text
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/playbooks")
    assert 'lang="ca"' in page.text and "Catàleg" in page.text and "Bloquejat al teu pla BUILDER." in page.text
    assert "Marketplace" not in page.text
