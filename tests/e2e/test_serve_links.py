"""End to end: ``anima serve --port N`` sends invitation links with the port it serves on (not
``ANIMA_PORT``), and the link answers in a browser. Also the first signup of a freshly started
``anima serve`` (which never ran migrations itself) provisions its tenant completely."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, ROOT, unique_email, unique_slug
from tests.e2e.conftest import Deployment, free_port
from tests.e2e.conftest import wait_ready

pytestmark = pytest.mark.e2e


async def test_serve_port_reaches_the_invitation_link(deployment: Deployment, tmp_path: Path):
    deployment.run("migrate")
    port = free_port()
    env = {**deployment.env, "ANIMA_PORT": "8000"}  # the environment says 8000; the command line wins
    env.pop("ANIMA_PUBLIC_URL", None)
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "anima", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, log_path)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            slug, email = unique_slug("links"), unique_email("owner")
            signed = await http.post("/api/v1/signup", json={
                "organization_name": "Links", "slug": slug, "email": email, "password": PASSWORD, "display_name": "O", "tier": "PRO",
            })
            assert signed.status_code == 201, signed.text + log_path.read_text()
            owner = {"Authorization": "Bearer " + signed.json()["tokens"]["access_token"]}
            invitee = unique_email("therapist")
            assert (await http.post(f"/api/v1/orgs/{slug}/invitations", json={"email": invitee, "role": "THERAPIST"}, headers=owner)).status_code == 201
            async with deployment.admin.connect() as conn:
                body = await conn.scalar(sa.text("SELECT body FROM platform.email_outbox WHERE recipient = :r"), {"r": invitee})
            link = re.search(r"(http://\S+/invitations/\S+)", body).group(1)
            assert link.startswith(f"{base}/invitations/"), link
            page = httpx.get(link, timeout=10)
            # the page that accepts it: its form posts the token back to the same address
            assert page.status_code == 200 and f'action="/invitations/{link.rsplit("/", 1)[1]}"' in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
