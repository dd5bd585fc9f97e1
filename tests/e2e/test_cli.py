"""The `anima tenants …` commands as an operator runs them, against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import Deployment

pytestmark = pytest.mark.e2e


async def test_tenant_lifecycle_commands(deployment: Deployment, tmp_path: Path):
    deployment.run("migrate")
    created = deployment.run("tenants", "create", "lotus-clinic", "--name", "Lotus Clinic", "--tier", "PRO",
                             "--owner-email", "owner@lotus.example")
    assert "lotus-clinic" in created.stdout and "active" in created.stdout
    again = deployment.run("tenants", "create", "lotus-clinic", check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    bad = deployment.run("tenants", "create", "Bad Slug!", check=False)
    assert bad.returncode != 0 and "slug" in bad.stderr

    rows = json.loads(deployment.run("tenants", "list", "--json").stdout)
    assert [(r["slug"], r["tier"], r["state"]) for r in rows] == [("lotus-clinic", "PRO", "active")]
    shown = json.loads(deployment.run("tenants", "show", "lotus-clinic").stdout)
    assert shown["usage"]["services"] == 0 and shown["events"][0]["action"] in ("provisioned", "created")

    deployment.run("tenants", "suspend", "lotus-clinic", "--reason", "unpaid")
    assert json.loads(deployment.run("tenants", "list", "--json").stdout)[0]["state"] == "suspended"
    deployment.run("tenants", "resume", "lotus-clinic", "--reason", "paid")
    migrated = deployment.run("tenants", "migrate")
    assert "'skipped': 1" in migrated.stdout

    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "lotus.toml").write_text('slug = "lotus-clinic"\nname = "Lotus Clinic Barcelona"\ntier = "CENTER"\nowner_email = "owner@lotus.example"\n')
    (manifests / "oak.toml").write_text('slug = "oak-therapy"\nname = "Oak Therapy"\ntier = "BUILDER"\nowner_email = "oak@oak.example"\n')
    applied = deployment.run("tenants", "apply", str(manifests))
    assert "created: ['oak-therapy']" in applied.stdout and "updated: ['lotus-clinic']" in applied.stdout
    again = deployment.run("tenants", "apply", str(manifests))
    assert "unchanged: ['lotus-clinic', 'oak-therapy']" in again.stdout
    (manifests / "broken.toml").write_text('slug = "x"\n')
    broken = deployment.run("tenants", "apply", str(manifests), check=False)
    assert broken.returncode != 0 and "broken.toml" in broken.stderr
    (manifests / "broken.toml").unlink()
    (manifests / "oak.toml").unlink()  # apply deletes nothing
    deployment.run("tenants", "apply", str(manifests))
    slugs = {r["slug"]: r for r in json.loads(deployment.run("tenants", "list", "--json").stdout)}
    assert set(slugs) == {"lotus-clinic", "oak-therapy"} and slugs["lotus-clinic"]["tier"] == "CENTER"

    refused = deployment.run("tenants", "delete", "oak-therapy", check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    deployment.run("tenants", "delete", "oak-therapy", "--yes")
    assert [r["slug"] for r in json.loads(deployment.run("tenants", "list", "--json").stdout)] == ["lotus-clinic"]
    async with deployment.admin.connect() as conn:
        schemas = (await conn.execute(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'"))).scalars().all()
        invited = await conn.scalar(sa.text("SELECT count(*) FROM platform.email_outbox WHERE recipient = 'owner@lotus.example'"))
    assert len(schemas) == 1 and invited == 1


async def test_bad_settings_stop_the_command_with_one_line_per_problem(deployment: Deployment):
    env = dict(deployment.env, ANIMA_ENV="production", ANIMA_MASTER_KEY="not-base64!", ANIMA_PORT="99999")
    env.pop("ANIMA_SECRET_KEY")
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run([sys.executable, "-m", "anima", "tenants", "list"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "ANIMA_SECRET_KEY must be set in production" in result.stderr
    assert "ANIMA_MASTER_KEY must be base64" in result.stderr
    assert "ANIMA_PORT=99999" in result.stderr
