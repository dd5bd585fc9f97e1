"""The team page, the invitation page and the profile page over HTTP: roles, forms, refusals in place."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa

from tests.conftest import PASSWORD, add_member, latest_invitation_token, signup, unique_email
from tests.web.conftest import Browser


async def _invite(browser: Browser, slug: str, email: str, role: str = "THERAPIST"):
    return await browser.submit(f"/o/{slug}/team/invitations", {"email": email, "role": role}, form_page=f"/o/{slug}/team")


async def _count(db, statement: str, **params) -> int:
    async with db.admin.connect() as conn:
        return (await conn.execute(sa.text(statement), params)).scalar_one()


async def test_every_member_sees_the_team_and_only_owners_manage_it(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    therapist, _, _ = await add_member(client, db, org, "THERAPIST")
    await browser.login(therapist)
    page = await browser.get(f"/o/{org.slug}/team")
    assert page.status_code == 200
    assert "<h1>Team</h1>" in page.text and org.owner_email in page.text and therapist in page.text
    assert "Send invitation" not in page.text and "Change role" not in page.text
    assert "Owners invite people and change roles." in page.text
    refused = await browser.submit(f"/o/{org.slug}/team/invitations", {"email": unique_email(), "role": "ASSISTANT"},
                                   form_page=f"/o/{org.slug}/team")
    assert refused.status_code == 403


async def test_an_owner_invites_and_revokes_and_the_invitee_joins_through_the_page(client, db, browser: Browser, other_browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/team")
    assert "The only owner" in page.text  # the last owner's row says why it cannot change
    email = unique_email("therapist")
    sent = await _invite(browser, org.slug, email)
    assert sent.status_code == 303 and sent.headers["location"] == f"/o/{org.slug}/team#invitations"
    listed = await browser.get(f"/o/{org.slug}/team")
    assert email in listed.text and "Pending invitations" in listed.text
    # a second invitation to the same email is refused beside the field, the email kept
    again = await _invite(browser, org.slug, email)
    assert again.status_code == 409
    assert "already pending" in again.text and f'value="{email}"' in again.text

    token = await latest_invitation_token(db, email)
    invitation = await other_browser.get(f"/invitations/{token}")
    assert invitation.status_code == 200
    assert invitation.headers["cache-control"] == "no-store" and invitation.headers["referrer-policy"] == "no-referrer"
    assert f"Practice {org.slug}" in invitation.text and "as therapist" in invitation.text and 'name="display_name"' in invitation.text
    # a weak password is refused beside the field; the name is kept, the password never sent back
    weak = await other_browser.submit(f"/invitations/{token}", {"display_name": "Rosa Vidal", "password": "12345678"})
    assert weak.status_code == 422
    assert 'value="Rosa Vidal"' in weak.text and "12345678" not in weak.text and 'id="e-password"' in weak.text
    joined = await other_browser.submit(f"/invitations/{token}", {"display_name": "Rosa Vidal", "password": PASSWORD})
    assert joined.status_code == 303 and joined.headers["location"] == f"/o/{org.slug}/"
    assert "anima_access" in joined.headers.get("set-cookie", "")
    workspace = await other_browser.get(f"/o/{org.slug}/")
    assert workspace.status_code == 200 and "Rosa Vidal" in workspace.text
    # used once: the link now says it is not valid
    used = await other_browser.get(f"/invitations/{token}")
    assert used.status_code == 404 and "not valid" in used.text

    # revoking a pending invitation makes its link invalid
    second = unique_email("assistant")
    await _invite(browser, org.slug, second, "ASSISTANT")
    invitation_id = (await (await browser.get(f"/o/{org.slug}/team")).aread()).decode()
    match = re.search(r"/team/invitations/([0-9a-f-]{36})/revoke", invitation_id)
    assert match
    revoked = await browser.submit(f"/o/{org.slug}/team/invitations/{match.group(1)}/revoke", {}, form_page=f"/o/{org.slug}/team")
    assert revoked.status_code == 303
    token2 = await latest_invitation_token(db, second)
    assert (await other_browser.get(f"/invitations/{token2}")).status_code == 404


async def test_an_existing_account_joins_with_its_own_password(client, db, browser: Browser, other_browser: Browser):
    first, second = await signup(client, tier="PRO"), await signup(client, tier="PRO")
    await browser.login(first.owner_email)
    await _invite(browser, first.slug, second.owner_email)
    token = await latest_invitation_token(db, second.owner_email)
    page = await other_browser.get(f"/invitations/{token}")
    assert "You already have an Anima account" in page.text and 'name="display_name"' not in page.text
    wrong = await other_browser.submit(f"/invitations/{token}", {"password": "not-the-password-1"})
    assert wrong.status_code == 401 and "does not match your existing Anima account" in wrong.text
    assert await _count(db, "SELECT count(*) FROM platform.memberships m JOIN platform.tenants t ON t.id = m.tenant_id WHERE t.slug = :s", s=first.slug) == 1
    right = await other_browser.submit(f"/invitations/{token}", {"password": PASSWORD})
    assert right.status_code == 303 and right.headers["location"] == f"/o/{first.slug}/"


async def test_the_invitation_page_refuses_hostile_input_without_writing(client, db, browser: Browser, other_browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    email = unique_email("invitee")
    await _invite(browser, org.slug, email)
    token = await latest_invitation_token(db, email)
    await other_browser.get(f"/invitations/{token}")
    for data in ({"display_name": "Bad\x00name", "password": PASSWORD}, {"display_name": "x" * 10_000, "password": PASSWORD},
                 {"display_name": "Rosa", "password": "p" * 10_000}):
        response = await other_browser.submit(f"/invitations/{token}", data)
        assert 400 <= response.status_code < 500, response.status_code
        assert "x" * 10_000 not in response.text or 'value="' + "x" * 10_000 in response.text
    assert await _count(db, "SELECT count(*) FROM platform.users WHERE email = :e", e=email) == 0
    # a token of the wrong shape is never echoed, on GET or POST
    odd = await other_browser.get("/invitations/%3Cb%3Ehello%3C")
    assert odd.status_code == 404 and "<b>hello" not in odd.text and "hello" not in odd.text
    posted = await other_browser.submit("/invitations/%3Cb%3Ehello%3C", {"password": PASSWORD}, form_page=f"/invitations/{token}")
    assert posted.status_code == 404 and "hello" not in posted.text


async def test_the_last_owner_cannot_be_removed_or_demoted_and_the_row_says_why(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    _, _, therapist_id = await add_member(client, db, org, "THERAPIST")
    await browser.login(org.owner_email)
    team = f"/o/{org.slug}/team"
    demote = await browser.submit(f"{team}/members/{org.owner_id}/role", {"role": "THERAPIST"}, form_page=team)
    assert demote.status_code == 409
    row = demote.text.split(f'id="member-{org.owner_id}"', 1)[1].split("</tr>", 1)[0]
    assert "must keep at least one owner" in row and 'role="alert"' in row
    remove = await browser.submit(f"{team}/members/{org.owner_id}/remove", {}, form_page=team)
    assert remove.status_code == 409 and "must keep at least one owner" in remove.text
    # a second owner lifts the rule: the first may then be demoted
    promoted = await browser.submit(f"{team}/members/{therapist_id}/role", {"role": "OWNER"}, form_page=team)
    assert promoted.status_code == 303
    page = await browser.get(team)
    assert "The only owner" not in page.text
    bad_role = await browser.submit(f"{team}/members/{therapist_id}/role", {"role": "KING"}, form_page=team)
    assert bad_role.status_code == 422
    removed = await browser.submit(f"{team}/members/{therapist_id}/remove", {}, form_page=team)
    assert removed.status_code == 303
    assert therapist_id not in (await browser.get(team)).text
    unknown = await browser.submit(f"{team}/members/{uuid.uuid4()}/remove", {}, form_page=team)
    assert unknown.status_code == 404


async def test_staff_seat_limit_names_the_limit_and_the_tier_that_lifts_it(client, db, browser: Browser):
    org = await signup(client, tier="BUILDER")  # 3 seats: the owner and two more
    await browser.login(org.owner_email)
    for _ in range(2):
        assert (await _invite(browser, org.slug, unique_email())).status_code == 303
    email = unique_email("fourth")
    refused = await _invite(browser, org.slug, email)
    assert refused.status_code == 403
    assert "Staff seats" in refused.text and "3 of 3 in use on the BUILDER plan" in refused.text
    assert "The PRO plan allows more." in refused.text and f'href="/o/{org.slug}/billing"' in refused.text
    assert f'value="{email}"' in refused.text


async def test_invite_form_validation_and_hostile_input(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    before = await _count(db, "SELECT count(*) FROM platform.invitations")
    bad = await _invite(browser, org.slug, "not-an-email")
    assert bad.status_code == 422 and 'value="not-an-email"' in bad.text and 'id="e-email"' in bad.text
    for data in ({"email": "a\x00@example.org", "role": "THERAPIST"}, {"email": "a" * 10_000 + "@example.org", "role": "THERAPIST"},
                 {"email": unique_email(), "role": "x" * 10_000}, {"email": unique_email(), "role": "THERAPIST", "extra": "1"}):
        response = await browser.submit(f"/o/{org.slug}/team/invitations", data, form_page=f"/o/{org.slug}/team")
        assert 400 <= response.status_code < 500
    assert await _count(db, "SELECT count(*) FROM platform.invitations") == before


async def test_the_profile_sets_language_and_time_zone_or_the_organization_defaults(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    therapist, _, therapist_id = await add_member(client, db, org, "THERAPIST")
    await browser.login(therapist)
    profile = f"/o/{org.slug}/profile"
    page = await browser.get(profile)
    assert page.status_code == 200 and "Organization default" in page.text and f'href="{profile}"' in page.text
    saved = await browser.submit(profile, {"display_name": "Rosa Vidal", "language": "ca", "time_zone": "Europe/Madrid"})
    assert saved.status_code == 303
    catalan = await browser.get(profile)
    assert '<html lang="ca">' in catalan.text and "El teu perfil" in catalan.text
    assert await _count(db, "SELECT count(*) FROM platform.users WHERE id = :u AND language = 'ca' AND time_zone = 'Europe/Madrid'",
                        u=therapist_id) == 1
    team = await browser.get(f"/o/{org.slug}/team")
    assert "Rosa Vidal" in team.text  # the organization's staff mirror follows the name
    zone = (await client.get(f"/api/v1/orgs/{org.slug}/availability/therapists/{therapist_id}", headers=org.headers)).json()
    assert (zone["time_zone"], zone["own_zone"]) == ("Europe/Madrid", True)  # and the zone bookings read
    bad = await browser.submit(profile, {"display_name": "Rosa", "language": "", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 422 and 'id="e-time_zone"' in bad.text
    for data in ({"display_name": "R\x00", "language": "", "time_zone": ""}, {"display_name": "x" * 10_000, "language": "", "time_zone": ""},
                 {"display_name": "Rosa", "language": "klingon", "time_zone": ""}, {"display_name": "Rosa", "language": "", "time_zone": "x" * 10_000}):
        response = await browser.submit(profile, data)
        assert 400 <= response.status_code < 500
    back = await browser.submit(profile, {"display_name": "Rosa Vidal", "language": "", "time_zone": ""})
    assert back.status_code == 303
    assert await _count(db, "SELECT count(*) FROM platform.users WHERE id = :u AND language IS NULL AND time_zone IS NULL",
                        u=therapist_id) == 1
    zone = (await client.get(f"/api/v1/orgs/{org.slug}/availability/therapists/{therapist_id}", headers=org.headers)).json()
    assert zone["own_zone"] is False
    assert '<html lang="en">' in (await browser.get(profile)).text
