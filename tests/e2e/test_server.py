"""End to end: the real server process started the way the README does (`anima demo`), driven over
HTTP as new users would: two organizations sign up, invite staff, configure services, and every
cross-tenant attempt fails. The server runs in production mode so its log lines are JSON and can be
checked for request id and tenant, and for the absence of secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, ROOT, unique_email, unique_slug
from tests.e2e.conftest import Deployment, free_port, wait_ready

pytestmark = pytest.mark.e2e


def _start(deployment: Deployment, port: int, tenants_dir: Path, log_path: Path) -> subprocess.Popen:
    env = {**deployment.env, "ANIMA_ENV": "production", "ANIMA_LOG_LEVEL": "info"}
    log = log_path.open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "anima", "demo", "--port", str(port), "--tenants-dir", str(tenants_dir)],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
    )


async def _invitation_token(deployment: Deployment, email: str) -> str:
    async with deployment.admin.connect() as conn:
        body = await conn.scalar(
            sa.text("SELECT body FROM platform.email_outbox WHERE recipient = :r ORDER BY created_at DESC LIMIT 1"), {"r": email}
        )
    return body.rsplit(": ", 1)[1].strip()


async def test_two_organizations_through_the_running_server(deployment: Deployment, tmp_path: Path):
    tenants_dir = tmp_path / "tenants"
    tenants_dir.mkdir()
    (tenants_dir / "harbor.toml").write_text(
        'slug = "harbor"\nname = "Harbor Psychology"\ntier = "PRO"\nowner_email = "lea@harbor.example"\n\n'
        '[demo]\nowner_name = "Lea"\nowner_password = "Harbor-demo-2026"\n'
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    proc = _start(deployment, port, tenants_dir, log_path)
    try:
        wait_ready(base, proc, log_path)
        output = log_path.read_text()
        assert f"{base}/docs" in output and "lea@harbor.example / Harbor-demo-2026" in output
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            # the manifest's tenant and demo login work
            demo = await http.post("/api/v1/auth/login", json={"email": "lea@harbor.example", "password": "Harbor-demo-2026"})
            assert demo.status_code == 200
            orgs = {}
            for name in ("north", "south"):
                slug, email = unique_slug(name), unique_email(name)
                r = await http.post("/api/v1/signup", json={
                    "organization_name": f"{name.title()} Wellness", "slug": slug, "email": email,
                    "password": PASSWORD, "display_name": f"{name} owner", "tier": "PRO",
                })
                assert r.status_code == 201, r.text
                orgs[name] = {"slug": slug, "owner": {"Authorization": "Bearer " + r.json()["tokens"]["access_token"]}}
            for name, org in orgs.items():
                therapist = unique_email(f"{name}-therapist")
                r = await http.post(f"/api/v1/orgs/{org['slug']}/invitations", json={"email": therapist, "role": "THERAPIST"}, headers=org["owner"])
                assert r.status_code == 201
                token = await _invitation_token(deployment, therapist)
                accepted = await http.post("/api/v1/invitations/accept", json={"token": token, "password": PASSWORD, "display_name": "T"})
                assert accepted.status_code == 200
                org["therapist_id"] = accepted.json()["user_id"]
                login = await http.post("/api/v1/auth/login", json={"email": therapist, "password": PASSWORD})
                org["therapist"] = {"Authorization": "Bearer " + login.json()["access_token"]}
                r = await http.post(f"/api/v1/orgs/{org['slug']}/services", headers=org["owner"], json={
                    "name": f"{name} session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50,
                    "price_minor": 7000, "currency": "EUR", "location": "ONLINE", "therapist_ids": [org["therapist_id"]],
                })
                assert r.status_code == 201, r.text
                org["service"] = r.json()["id"]
                settings = await http.patch(f"/api/v1/orgs/{org['slug']}/settings", json={"people_label": "Client", "timezone": "Europe/Madrid"}, headers=org["owner"])
                assert settings.status_code == 200
                mine = await http.get(f"/api/v1/orgs/{org['slug']}/services", headers=org["therapist"])
                assert [s["id"] for s in mine.json()["items"]] == [org["service"]]
            north, south = orgs["north"], orgs["south"]
            # every cross-tenant attempt fails, and says nothing about the other tenant
            attempts = [
                ("GET", f"/api/v1/orgs/{south['slug']}/services", north["owner"], None),
                ("GET", f"/api/v1/orgs/{south['slug']}/services/{south['service']}", north["owner"], None),
                ("GET", f"/api/v1/orgs/{north['slug']}/services/{south['service']}", north["owner"], None),
                ("PATCH", f"/api/v1/orgs/{north['slug']}/services/{south['service']}", north["owner"], {"price_minor": 1}),
                ("DELETE", f"/api/v1/orgs/{south['slug']}/services/{south['service']}", north["owner"], None),
                ("GET", f"/api/v1/orgs/{north['slug']}/members", south["therapist"], None),
                ("POST", f"/api/v1/orgs/{north['slug']}/invitations", south["owner"], {"email": unique_email(), "role": "OWNER"}),
                ("PUT", f"/api/v1/orgs/{north['slug']}/services/{north['service']}/therapists", south["owner"], {"therapist_ids": [south["therapist_id"]]}),
                ("PUT", f"/api/v1/orgs/{north['slug']}/services/{north['service']}/therapists", north["owner"], {"therapist_ids": [south["therapist_id"]]}),
                ("GET", f"/api/v1/orgs/{south['slug']}/settings", north["therapist"], None),
                ("GET", "/api/v1/operator/tenants", north["owner"], None),
            ]
            for method, url, headers, body in attempts:
                r = await http.request(method, url, headers=headers, json=body)
                assert r.status_code in (403, 404, 422), (method, url, r.status_code, r.text)
                assert south["slug"] not in r.text or south["slug"] in url
            south_services = await http.get(f"/api/v1/orgs/{south['slug']}/services", headers=south["owner"])
            assert [s["price_minor"] for s in south_services.json()["items"]] == [7000]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("request_id")]
    assert requests, "no JSON log line carried a request id"
    assert any(line.get("tenant") == north["slug"] for line in requests)
    text = log_path.read_text()
    assert PASSWORD not in text and "Harbor-demo-2026" not in text.split("Demo logins")[-1].split("Tenants")[-1]
    assert deployment.env["ANIMA_SECRET_KEY"] not in text
