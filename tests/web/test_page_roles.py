"""Workspace pages are authorized by their declared roles, exactly like the API.

For every GET page under ``/o/{org_slug}`` of the real application, the expectation is derived from
the page's own declaration: a role outside it gets 403, a role inside it gets the page (never 401
or 403), a signed-in non-member gets 404 and a signed-out browser is sent to the login page.
"""

from __future__ import annotations

from tests.conftest import add_member, signup
from tests.integration.test_declared_roles import ROLES, _concrete, org_operations
from tests.web.conftest import Browser


async def test_each_role_sees_the_pages_its_role_may_use(client, app, db, browser: Browser, other_browser: Browser):
    org = await signup(client, tier="CENTER")
    outsider = await signup(client, tier="PRO")
    accounts = {"OWNER": org.owner_email}
    for role in ("THERAPIST", "ASSISTANT"):
        email, _, _ = await add_member(client, db, org, role)
        accounts[role] = email
    pages = [(m, p, r) for m, p, r in org_operations(app, prefix="/o/{org_slug") if m == "GET"]
    assert pages, "the workspace has pages"
    failures = []
    for role in ROLES:
        http = browser.http
        http.cookies.clear()
        await browser.login(accounts[role])
        for _, path, roles in pages:
            url = _concrete(path, org.slug)
            status = (await browser.get(url)).status_code
            if role in roles and status in (401, 403, 303):
                failures.append(f"{path}: {role} is declared but got {status}")
            if role not in roles and status != 403:
                failures.append(f"{path}: {role} is not declared but got {status}")
    await other_browser.login(outsider.owner_email)
    for _, path, _ in pages:
        url = _concrete(path, org.slug)
        if (status := (await other_browser.get(url)).status_code) != 404:
            failures.append(f"{path}: a non-member got {status}")
        other_browser.http.cookies.clear()
        anonymous = await other_browser.get(url)
        if anonymous.status_code != 303 or not anonymous.headers["location"].startswith("/login?next="):
            failures.append(f"{path}: signed out got {anonymous.status_code}")
        await other_browser.login(outsider.owner_email)
    assert not failures, "\n".join(failures)
