"""The platform's emails rendered from templates: both parts, the recipient's language, the
organization's name, and links that open the right page.

Each message is queued through the real service, sent by the real sender to an in-process SMTP
server (aiosmtpd) and parsed back as a mail client would.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import re

import pytest
import sqlalchemy as sa

from anima.identity import email_verification, password_reset
from anima.identity.models import User
from anima.mail import compose
from anima.mail.sender import send_due_emails
from tests.conftest import signup, unique_email
from tests.integration.test_mail_sender import RecordingHandler, smtp, smtp_settings  # noqa: F401 - fixtures


def _parts(message: email.message.EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML parts of a multipart/alternative message (plain first)."""
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]  # RFC 2046: the richest last
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def _links(text: str, html: str, path: str) -> set[str]:
    found = set(re.findall(rf"https?://[^\s\"<>]+{re.escape(path)}[A-Za-z0-9_-]+", text))
    assert found and found == set(re.findall(rf'href="(https?://[^"]+{re.escape(path)}[A-Za-z0-9_-]+)"', html))
    return found


async def _set_language(db, email_address: str, language: str) -> None:
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("UPDATE platform.users SET language = :l WHERE email = :e"), {"l": language, "e": email_address})


async def test_an_invitation_is_in_the_inviters_language_from_the_organization_with_a_link_that_opens(
        client, db, smtp, smtp_settings):  # noqa: F811
    org = await signup(client)
    await _set_language(db, org.owner_email, "es")
    invitee = unique_email("invitada")
    response = await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": invitee, "role": "THERAPIST"}, headers=org.headers)
    assert response.status_code == 201, response.text
    await send_due_emails(db, settings=smtp_settings, limit=500)

    [message] = smtp.to(invitee)
    assert message["Subject"] == f"Te invitan a unirte a Practice {org.slug} en Anima"
    sender = message["From"].addresses[0]
    assert sender.display_name == f"Practice {org.slug}" and sender.addr_spec == "no-reply@anima.example"
    assert message.get("List-Unsubscribe") is None  # transactional
    text, html = _parts(message)
    assert f"Te han invitado a unirte a Practice {org.slug} como terapeuta." in text
    assert '<html lang="es">' in html and f"Practice {org.slug}" in html and "Aceptar la invitación" in html
    [link] = _links(text, html, "/invitations/")
    page = await client.get(link.removeprefix(smtp_settings.public_url), headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'name="password"' in page.text


async def test_an_invitee_with_an_account_reads_it_in_their_own_language(client, db, smtp, smtp_settings):  # noqa: F811
    org = await signup(client)
    other = await signup(client)
    await _set_language(db, org.owner_email, "es")
    await _set_language(db, other.owner_email, "it")
    response = await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": other.owner_email, "role": "ASSISTANT"},
                                 headers=org.headers)
    assert response.status_code == 201, response.text
    await send_due_emails(db, settings=smtp_settings, limit=500)
    [message] = [m for m in smtp.to(other.owner_email) if m["X-Anima-Kind"] == "invitation"]
    assert message["Subject"] == f"Sei invitato a unirti a Practice {org.slug} su Anima"
    assert "come assistente" in _parts(message)[0]


@pytest.mark.parametrize(("language", "subject", "greeting"), [
    ("ca", "Restableix la teva contrasenya d'Anima", "Hola, "),
    ("it", "Reimposta la tua password di Anima", "Ciao "),
    ("en", "Reset your Anima password", "Hello "),
])
async def test_a_password_reset_is_in_the_users_language_with_a_live_link(
        client, db, smtp, smtp_settings, language, subject, greeting):  # noqa: F811
    org = await signup(client)
    await _set_language(db, org.owner_email, language)
    async with db.sessionmaker()() as session:
        async with session.begin():
            await password_reset.request_reset(session, org.owner_email, public_url=smtp_settings.public_url)
    await send_due_emails(db, settings=smtp_settings, limit=500)

    [message] = [m for m in smtp.to(org.owner_email) if m["X-Anima-Kind"] == "password-reset"]
    assert message["Subject"] == subject
    assert message["From"] == smtp_settings.mail_from  # no organization: the platform's own sender
    text, html = _parts(message)
    assert text.startswith(f"{greeting}Owner {org.slug}") and f'<html lang="{language}">' in html
    [link] = _links(text, html, "/password/reset/")
    page = await client.get(link.removeprefix(smtp_settings.public_url))
    assert page.status_code == 200 and 'type="password"' in page.text


async def test_a_verification_link_in_the_email_verifies_the_address(client, db, smtp, smtp_settings):  # noqa: F811
    org = await signup(client)
    await _set_language(db, org.owner_email, "ca")
    async with db.sessionmaker()() as session:
        async with session.begin():
            user = (await session.execute(sa.select(User).where(User.email == org.owner_email))).scalar_one()
            await email_verification.send_verification(session, user, public_url=smtp_settings.public_url)
    await send_due_emails(db, settings=smtp_settings, limit=500)

    message = [m for m in smtp.to(org.owner_email) if m["X-Anima-Kind"] == "verify-email"][-1]
    assert message["Subject"] == "Confirma la teva adreça de correu a Anima"
    text, html = _parts(message)
    [link] = _links(text, html, "/verify-email/")
    assert (await client.get(link.removeprefix(smtp_settings.public_url))).status_code == 200
    async with db.admin.connect() as conn:
        verified = await conn.scalar(sa.text("SELECT email_verified_at FROM platform.users WHERE email = :e"), {"e": org.owner_email})
    assert verified is not None


def test_the_plain_text_part_is_not_html_escaped_and_the_html_part_is():
    composed = compose.render("invitation", "en", org_name="Tom & <Jerry>", role="OWNER", link="https://x.example/i/a&b", token="t")
    assert "Tom & <Jerry>" in composed.text and "https://x.example/i/a&b" in composed.text
    assert "Tom &amp; &lt;Jerry&gt;" in composed.html and "<Jerry>" not in composed.html
    assert composed.subject == "You are invited to join Tom & <Jerry> on Anima"


def test_an_unknown_language_falls_back_to_english():
    assert compose.render("verify_email", "xx", name="A", link="https://x").language == "en"
    assert compose.render("verify_email", "es-ES", name="A", link="https://x").subject == "Confirma tu dirección de correo en Anima"


def test_the_from_header_names_the_organization_and_its_own_address_when_set():
    assert compose.from_header("Anima <no-reply@anima.example>") == "Anima <no-reply@anima.example>"
    assert compose.from_header("Anima <no-reply@anima.example>", "Calm Minds") == "Calm Minds <no-reply@anima.example>"
    assert compose.from_header("no-reply@anima.example", "Calm, Minds", "hola@calm.example") == '"Calm, Minds" <hola@calm.example>'


async def test_an_organization_sending_address_is_its_from_only_on_a_verified_domain(client, db, smtp, smtp_settings):  # noqa: F811
    from click.testing import CliRunner

    from anima.cli import main
    from tests.conftest import test_environ

    org = await signup(client, tier="CENTER")  # room for the five invitations
    domain = f"calm-{org.slug}.example"
    env = test_environ(DATABASE_URL=db.admin_url.render_as_string(hide_password=False))
    runner = CliRunner()

    async def cli(*args: str):
        return await asyncio.to_thread(runner.invoke, main, list(args), env=env)

    async def invite() -> email.message.EmailMessage:
        invitee = unique_email("from")
        response = await client.post(f"/api/v1/orgs/{org.slug}/invitations", json={"email": invitee, "role": "THERAPIST"},
                                     headers=org.headers)
        assert response.status_code == 201, response.text
        await send_due_emails(db, settings=smtp_settings, limit=500)
        [message] = smtp.to(invitee)
        return message

    refused = await cli("mail", "from", org.slug, "not an address")
    assert refused.exit_code == 2 and "ADDRESS" in refused.output
    done = await cli("mail", "from", org.slug, f"Hola@{domain.upper()}")
    assert done.exit_code == 0, done.output
    # the domain is not verified: the platform's address in the practice's name, replies to the practice
    first = await invite()
    [sender] = first["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (f"Practice {org.slug}", "no-reply@anima.example")
    assert first["Reply-To"] == f"hola@{domain}"
    added = await cli("mail", "domains", "add", f" {domain.upper()}. ")
    assert added.exit_code == 0 and f"{domain}  not verified" in added.output, added.output
    assert (await invite())["From"].addresses[0].addr_spec == "no-reply@anima.example"  # added is not verified
    verified = await cli("mail", "domains", "verify", domain)
    assert verified.exit_code == 0 and f"{domain}  verified" in verified.output
    second = await invite()
    assert second["From"].addresses[0].addr_spec == f"hola@{domain}" and second["Reply-To"] is None
    listed = await cli("mail", "domains", "list")
    assert f"{domain}  verified" in listed.output
    assert (await cli("mail", "domains", "unverify", domain)).exit_code == 0
    assert (await invite())["From"].addresses[0].addr_spec == "no-reply@anima.example"
    for bad in ("not a domain", "x", "a..b", "-a.example", "a\x00.example"):
        assert (await cli("mail", "domains", "add", bad)).exit_code != 0, bad  # refused (or not even an argument)
    assert (await cli("mail", "domains", "add", "a..b")).output.strip() == "Error: 'a..b' is not a domain name"
    assert "add it first" in (await cli("mail", "domains", "verify", f"other-{domain}")).output
    unknown = await cli("mail", "from", "no-such-org-here")
    assert unknown.exit_code == 1 and "no organization" in unknown.output
