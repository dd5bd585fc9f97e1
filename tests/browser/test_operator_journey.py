"""An operator's journey in a real browser: the console, provisioning a tenant, suspending it — its
owner (who accepted the emailed invitation) meets the clear suspended page, in their browser's
language — and resuming it, after which the owner's workspace opens again."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.browser.conftest import Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser

#: the operator login `anima demo` creates (and prints)
OPERATOR = ("operator@anima.example", "Watchtower-demo-2026")


def _login(page, email: str, password: str) -> None:
    page.goto("/login")
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()


def test_operator_provisions_suspends_and_resumes_a_tenant(page, new_page, server: Server, request):
    _login(page, *OPERATOR)
    page.wait_for_url(re.compile(r"/workspaces$"))
    visit_check(page, "workspaces-operator", request=request)
    page.get_by_role("link", name="Operator console").click()
    page.wait_for_url(re.compile(r"/operator/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Tenants"
    visit_check(page, "tenants", request=request)

    page.get_by_role("link", name="Provision a tenant").first.click()
    page.wait_for_url(re.compile(r"/operator/tenants/new$"))
    slug, owner = unique_slug("tidal"), unique_email("tidal-owner")
    page.get_by_label("Address (slug)").fill("Not A Slug")
    page.get_by_label("Organization name").fill("Tidal Wellness")
    page.get_by_label("Tier").select_option("PRO")
    page.get_by_label("Owner's email").fill(owner)
    page.get_by_role("button", name="Provision and invite the owner").click()
    assert page.locator("#e-slug").is_visible()  # the error beside the field
    assert page.get_by_label("Organization name").input_value() == "Tidal Wellness"  # nothing typed is lost
    visit_check(page, "provision-error", request=request)
    page.get_by_label("Address (slug)").fill(slug)
    page.get_by_role("button", name="Provision and invite the owner").click()
    page.wait_for_url(re.compile(rf"/operator/tenants/{slug}"))
    assert "invited by email" in page.locator("main").inner_text()
    visit_check(page, "tenant-provisioned", request=request)

    # the owner accepts the emailed invitation (through the JSON API, as setup) and opens the workspace
    link = server.link_in_latest_email(owner, "/invitations/")
    accepted = httpx.post(f"{server.base}/api/v1/invitations/accept", timeout=30,
                          json={"token": link.rstrip("/").rsplit("/", 1)[1], "password": PASSWORD, "display_name": "Tess Marlow"})
    assert accepted.status_code == 200, accepted.text
    member = new_page(locale="ca-ES")
    _login(member, owner, PASSWORD)
    member.wait_for_url(re.compile(rf"/o/{slug}/?$"))

    page.get_by_label("Reason (recorded)").fill("Unpaid invoices since March")
    page.get_by_role("button", name="Suspend this tenant").click()
    page.wait_for_url(re.compile(r"done=suspended"))
    assert "Resume this tenant" in page.locator("main").inner_text()
    visit_check(page, "tenant-suspended", request=request)

    member.goto(f"/o/{slug}/")
    heading = member.get_by_role("heading", level=1).inner_text()
    assert heading == "Aquesta organització està suspesa"
    assert "No s'ha eliminat res." in member.locator("main").inner_text()
    visit_check(member, "member-sees-suspended-ca", request=request)

    page.get_by_label("Reason (recorded)").fill("Paid in full")
    page.get_by_role("button", name="Resume this tenant").click()
    page.wait_for_url(re.compile(r"done=resumed"))
    member.goto(f"/o/{slug}/")
    assert member.get_by_role("heading", level=1).is_visible()
    assert "suspesa" not in member.locator("main").inner_text()
    visit_check(member, "member-workspace-again", request=request)

    # the owner's playbooks and alerts: a high-risk note is screened by the demo's worker and alerts them
    member.goto(f"/o/{slug}/playbooks")
    visit_check(member, "playbooks", request=request)
    member.get_by_role("button", name="Install Escudo de Seguridad").click()
    member.wait_for_url(re.compile(r"done=installed"))
    assert member.get_by_role("button", name="Switch off Escudo de Seguridad").is_visible()
    visit_check(member, "playbooks-installed", request=request)
    token = httpx.post(f"{server.base}/api/v1/auth/login", json={"email": owner, "password": PASSWORD}, timeout=30).json()["access_token"]
    auth = {"authorization": f"Bearer {token}"}
    patient = httpx.post(f"{server.base}/api/v1/orgs/{slug}/patients", headers=auth, timeout=30,
                         json={"first_name": "Iris", "last_name": "Vale"}).json()
    note = httpx.post(f"{server.base}/api/v1/orgs/{slug}/patients/{patient['id']}/journal", headers=auth, timeout=30,
                      json={"kind": "note", "html": "<p>She said: I want to kill myself, I have a plan for tonight.</p>"})
    assert note.status_code == 201, note.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if httpx.get(f"{server.base}/api/v1/orgs/{slug}/alerts", headers=auth, timeout=30).json()["total"]:
            break
        time.sleep(0.5)
    member.goto(f"/o/{slug}/alerts")
    row = member.locator("li.alert-high").first
    assert "High risk" in row.inner_text() and "a journal note" in row.inner_text()
    assert row.get_by_role("link", name="Open the record").get_attribute("href") == f"/o/{slug}/people/{patient['id']}"
    visit_check(member, "alerts-unread", request=request)
    row.get_by_role("button", name="Mark as read").click()  # HTMX swaps the row in place
    member.locator("li.alert-high.alert-read").first.wait_for()
    assert "/alerts" in member.url and member.get_by_role("button", name="Mark as read").count() == 0
    visit_check(member, "alerts-read", request=request)

    page.get_by_label("Tier", exact=True).select_option("CENTER")
    page.get_by_label("Reason for the comp (recorded)").fill("Pilot partner for retreats")
    page.get_by_role("button", name="Record the comp").click()
    page.wait_for_url(re.compile(r"done=tier"))
    assert "Pilot partner for retreats" in page.locator("main").inner_text()
    visit_check(page, "tenant-comped", request=request)

    page.get_by_role("link", name="Failed jobs").first.click()
    page.wait_for_url(re.compile(r"/operator/jobs"))
    visit_check(page, "failed-jobs", request=request)
    assert not server.notes, server.notes
