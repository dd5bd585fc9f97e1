"""Multipart bodies reach pages like URL-encoded ones: invalid UTF-8 is a 4xx naming the body,
a NUL character is refused beside its field, and nothing is stored."""

from __future__ import annotations

from tests.conftest import signup
from tests.integration.events_support import in_tenant
from tests.web.conftest import Browser
from tests.web.test_form_pages import api, path_of

BOUNDARY = "anima-test-boundary"


def multipart(parts: list[tuple[str, bytes]], charset: str | None = None) -> bytes:
    out = b""
    for name, value in parts:
        kind = f"Content-Type: text/plain; charset={charset}\r\n" if charset else ""
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n{kind}\r\n'.encode() + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


HEADERS = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


async def _public_intake(client, org) -> str:
    form = await client.post(api(org, "/forms/system"), json={"template": "intake", "language": "es"}, headers=org.headers)
    linked = await client.post(api(org, f"/forms/{form.json()['id']}/public-link"), headers=org.headers)
    return path_of(linked.json()["public_url"])


async def test_multipart_on_the_public_form_is_checked_like_url_encoded(client, browser: Browser, db):
    org = await signup(client)
    path = await _public_intake(client, org)
    token = await browser.csrf(path)
    garbled = await browser.http.post(path, content=multipart([
        ("first_name", b"\xff\xfe\xfa"), ("email", b"ana@example.org"), ("_csrf_token", token.encode()),
    ]), headers=HEADERS)
    assert garbled.status_code == 422, garbled.text
    assert "not valid UTF-8" in garbled.text
    nul = await browser.http.post(path, content=multipart([
        ("first_name", b"Ana\x00"), ("email", b"ana@example.org"), ("_csrf_token", token.encode()),
    ]), headers=HEADERS)
    assert nul.status_code == 422 and 'id="e-first_name"' in nul.text and "\x00" not in nul.text
    assert await in_tenant(db, org.slug, "SELECT id FROM form_submissions") == []
    good = await browser.http.post(path, content=multipart([
        ("first_name", "Ánà".encode()), ("email", b"ana@example.org"), ("_csrf_token", token.encode()),
    ]), headers=HEADERS)
    assert good.status_code == 200 and len(await in_tenant(db, org.slug, "SELECT id FROM form_submissions")) == 1


async def test_multipart_on_a_workspace_page_is_a_4xx_naming_the_rule(client, browser: Browser, db):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    url = f"/o/{org.slug}/forms/new"
    token = await browser.csrf(url)
    garbled = await browser.http.post(url, content=multipart([
        ("title", b"\xc3\x28"), ("language", b"es"), ("f0.key", b"q1"), ("f0.type", b"short_text"), ("f0.label", b"x"),
        ("action", b"save"), ("_csrf_token", token.encode()),
    ]), headers=HEADERS)
    assert garbled.status_code == 422 and "not valid UTF-8" in garbled.text, garbled.text
    nul = await browser.http.post(url, content=multipart([
        ("title", b"Bien\x00estar"), ("language", b"es"), ("f0.key", b"q1"), ("f0.type", b"short_text"), ("f0.label", b"x"),
        ("action", b"save"), ("_csrf_token", token.encode()),
    ]), headers=HEADERS)
    assert nul.status_code == 422 and 'id="e-title"' in nul.text
    assert await in_tenant(db, org.slug, "SELECT id FROM forms") == []
    saved = await browser.http.post(url, content=multipart([
        ("title", "Bienestar".encode()), ("language", b"es"), ("f0.key", b"q1"), ("f0.type", b"short_text"), ("f0.label", b"x"),
        ("action", b"save"), ("_csrf_token", token.encode()),
    ]), headers=HEADERS)
    assert saved.status_code == 303, saved.text
