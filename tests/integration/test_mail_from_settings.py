"""An organization's sending address set by its owners (API and settings page): validated, and
its From only on a domain the operator verified (else the Reply-To), sent through real SMTP."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from anima.mail import domains
from anima.mail.sender import send_due_emails
from tests.conftest import add_member, bearer, signup, unique_email
from tests.integration.events_support import in_tenant
from tests.integration.test_mail_sender import RecordingHandler, smtp, smtp_settings  # noqa: F401 - fixtures


def _path(slug: str) -> str:
    return f"/api/v1/orgs/{slug}/settings/mail-from"


async def _verify(db, domain: str) -> None:
    async with db.sessionmaker()() as session:
        async with session.begin():
            await domains.add_domain(session, domain)
            await domains.verify_domain(session, domain)


async def test_owners_set_the_address_and_it_is_the_from_once_its_domain_is_verified(client, db, smtp, smtp_settings):  # noqa: F811
    org = await signup(client)
    domain = f"{org.slug}.example"
    assert (await client.get(_path(org.slug), headers=org.headers)).json() == {
        "address": None, "domain_verified": False, "from_address": "no-reply@anima.example", "reply_to": None}
    saved = await client.put(_path(org.slug), json={"address": f"  Hola@{domain.upper()} "}, headers=org.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"address": f"hola@{domain}", "domain_verified": False, "from_address": "no-reply@anima.example",
                            "reply_to": f"hola@{domain}"}
    audited = await in_tenant(db, org.slug, "SELECT detail FROM audit_events WHERE action = 'settings.mail_from_changed'")
    assert [row[0]["domain"] for row in audited] == [domain]  # the domain, never the address

    invitee = unique_email("sender")
    await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": invitee, "role": "THERAPIST"}, headers=org.headers)
    await send_due_emails(db, settings=smtp_settings, limit=500)
    [unverified] = smtp.to(invitee)
    assert unverified["From"].addresses[0].addr_spec == "no-reply@anima.example" and unverified["Reply-To"] == f"hola@{domain}"

    await _verify(db, domain)
    state = (await client.get(_path(org.slug), headers=org.headers)).json()
    assert state["domain_verified"] is True and state["from_address"] == f"hola@{domain}" and state["reply_to"] is None
    invitee = unique_email("sender")
    await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": invitee, "role": "THERAPIST"}, headers=org.headers)
    await send_due_emails(db, settings=smtp_settings, limit=500)
    [verified] = smtp.to(invitee)
    [sender] = verified["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (f"Practice {org.slug}", f"hola@{domain}") and verified["Reply-To"] is None

    cleared = await client.put(_path(org.slug), json={"address": None}, headers=org.headers)
    assert cleared.json()["address"] is None and cleared.json()["from_address"] == "no-reply@anima.example"


@pytest.mark.parametrize(("body", "field"), [
    ({"address": "not an address"}, "address"),
    ({"address": "hola@calm"}, "address"),
    ({"address": "hóla@calm.example"}, "address"),
    ({"address": "hola@calm.example\x00"}, "address"),
    ({"address": "a" * 250 + "@x.example"}, "address"),
    ({"address": 42}, "address"),
    ({}, "address"),
    ({"address": "hola@calm.example", "extra": 1}, "extra"),
])
async def test_a_bad_address_is_refused_naming_the_field_and_nothing_changes(client, db, body, field):
    org = await signup(client)
    refused = await client.put(_path(org.slug), json=body, headers=org.headers)
    assert refused.status_code in (400, 422), refused.text
    assert field in refused.text
    async with db.admin.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT mail_from_address FROM platform.tenants WHERE slug = :s"), {"s": org.slug})).scalar()
    assert stored is None


async def test_only_owners_see_or_set_it(client, db):
    org = await signup(client)
    _, therapist, _ = await add_member(client, db, org, "THERAPIST")
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    for tokens in (therapist, assistant):
        assert (await client.get(_path(org.slug), headers=bearer(tokens["access_token"]))).status_code == 403
        assert (await client.put(_path(org.slug), json={"address": "x@y.example"},
                                 headers=bearer(tokens["access_token"]))).status_code == 403
    assert (await client.put(_path(org.slug), json={"address": "x@y.example"})).status_code == 401


def test_domain_and_sender_rules():
    assert domains.normalize_domain(" Calm.Example. ") == "calm.example"
    assert domains.normalize_domain("bücher.example") == "xn--bcher-kva.example"
    for bad in ("", "calm", "a..b", "-a.example", "a b.example", "x@y.example", "a" * 64 + ".example"):
        with pytest.raises(ValueError):
            domains.normalize_domain(bad)
    default = "Anima <no-reply@anima.example>"
    assert domains.sender(default, None, False) == domains.Sender("no-reply@anima.example", None)
    assert domains.sender(default, "hola@calm.example", False) == domains.Sender("no-reply@anima.example", "hola@calm.example")
    assert domains.sender(default, "hola@calm.example", True) == domains.Sender("hola@calm.example", None)
