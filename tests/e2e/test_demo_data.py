"""`anima demo` fills its tenants from the manifests' declarative demo data, through the domain
services, and a re-run adds nothing twice; it prints the workspace address first, then the logins.

Also the shipped tenants/*.toml: valid, and a believable practice (every role, a dozen patients
across the journey stages, signed and amended entries, an analysis, playbooks, a high-risk note).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

import pytest
import sqlalchemy as sa

from anima.tenancy.manifests import ManifestError, load_manifests
from tests.conftest import ROOT
from tests.e2e.conftest import Deployment, free_port, wait_ready

pytestmark = pytest.mark.e2e


async def _tenant_counts(deployment: Deployment, slug: str) -> dict[str, int]:
    async with deployment.admin.connect() as conn:
        schema = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": slug})
        q = lambda sql: conn.scalar(sa.text(sql.replace("S.", f'"{schema}".')))  # noqa: E731
        return {
            "members": await conn.scalar(sa.text(
                "SELECT count(*) FROM platform.memberships m JOIN platform.tenants t ON t.id = m.tenant_id WHERE t.slug = :s"), {"s": slug}),
            "services": await q("SELECT count(*) FROM S.services"),
            "patients": await q("SELECT count(*) FROM S.patients"),
            "leads": await q("SELECT count(*) FROM S.leads"),
            "lead_stages": await q("SELECT count(DISTINCT stage) FROM S.leads"),
            "ghosts": await q("SELECT count(*) FROM S.leads WHERE stage IN ('NEW','CONTACTED','QUALIFIED') "
                              "AND coalesce(last_contacted_at, created_at) < now() - interval '7 days'"),
            "stages": await q("SELECT count(DISTINCT journey_stage) FROM S.patients"),
            "entries": await q("SELECT count(*) FROM S.journal_entries WHERE kind IN ('note', 'form_submission')"),
            "signed": await q("SELECT count(*) FROM S.journal_entries WHERE signed_at IS NOT NULL"),
            "amendments": await q("SELECT count(*) FROM S.journal_amendments"),
            "analyses": await q("SELECT count(*) FROM S.journal_entries WHERE kind = 'ai_analysis'"),
            "rules": await q("SELECT count(*) FROM S.automation_rules"),
            "public_forms": await q("SELECT count(*) FROM S.forms WHERE public_token IS NOT NULL"),
            "intake_submissions": await q("SELECT count(*) FROM S.form_submissions WHERE patient_id IS NULL"),
            "form_leads": await q("SELECT count(*) FROM S.leads WHERE source = 'PUBLIC_FORM' AND submission_id IS NOT NULL"),
            "phq9_points": await q("SELECT count(*) FROM S.form_submissions WHERE measure = 'phq9' AND patient_id IS NOT NULL"),
            "phq9_days": await q("SELECT count(DISTINCT submitted_at::date) FROM S.form_submissions WHERE measure = 'phq9'"),
            "weekly_hours": await q("SELECT count(*) FROM S.availability_rules"),
            "packages": await q("SELECT count(*) FROM S.packages"),
            "sales": await q("SELECT count(*) FROM S.package_sales"),
            "credits_left": await q("SELECT coalesce(sum(delta), 0) FROM S.credit_entries"),
            "credit_bookings": await q("SELECT count(*) FROM S.bookings b JOIN S.credit_entries e ON e.booking_id = b.id "
                                       "WHERE e.kind = 'use' AND b.status = 'COMPLETED'"),
            "invoices_issued": await q("SELECT count(*) FROM S.invoices WHERE status = 'ISSUED' AND number IS NOT NULL"),
            "invoices_paid": await q("SELECT count(*) FROM S.invoices WHERE status = 'PAID'"),
            "risk_alerts": await q("SELECT count(*) FROM S.staff_alerts WHERE kind = 'risk'"),
            # the services' own audit lines: written by them, never by raw SQL
            "audited_patients": await q("SELECT count(*) FROM S.audit_events WHERE action = 'patient.created'"),
            "audited_signed": await q("SELECT count(*) FROM S.audit_events WHERE action = 'journal.signed'"),
            "audited_amended": await q("SELECT count(*) FROM S.audit_events WHERE action = 'journal.amended'"),
        }


async def test_demo_data_is_applied_through_the_services_and_only_once(deployment: Deployment, tmp_path: Path):
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    shutil.copy(ROOT / "tenants" / "serenity.toml", tenants / "serenity.toml")
    first = deployment.run("demo", "--no-serve", "--tenants-dir", str(tenants), "--port", "8123", timeout=300)
    lines = [line for line in first.stdout.splitlines() if line.strip()]
    assert lines[0] == "Anima is ready: open http://127.0.0.1:8123/login"
    assert lines[1].startswith("  Workspace  http://127.0.0.1:8123/")
    logins = "\n".join(lines[2:10])
    for role, email, password in (("OPERATOR", "operator@anima.example", "Watchtower-demo-2026"),
                                  ("OWNER", "ana@serenity.example", "Serenity-demo-2026"),
                                  ("THERAPIST", "leo@serenity.example", "Serenity-therapist-2026"),
                                  ("ASSISTANT", "sofia@serenity.example", "Serenity-assistant-2026")):
        assert f"{role:<9} {email} / {password}" in logins
    assert first.stdout.index("Workspace") < first.stdout.index("Demo logins") < first.stdout.index("API")
    assert "  Book       http://127.0.0.1:8123/p/serenity/book  (" in first.stdout  # the public booking wizard of each demo tenant
    counts = await _tenant_counts(deployment, "serenity")
    assert counts["members"] == 3 and counts["services"] == 3 and counts["patients"] == 12 and counts["stages"] == 5
    assert counts["entries"] == 13 and counts["signed"] == 5 and counts["amendments"] == 1
    assert counts["analyses"] == 1 and counts["rules"] == 2
    assert counts["weekly_hours"] > 0 and counts["weekly_hours"] % 10 == 0  # 2 spans x 5 weekdays per therapist
    assert counts["public_forms"] == 1 and counts["intake_submissions"] == 3 and counts["form_leads"] == 1
    assert counts["phq9_points"] == 4 and counts["phq9_days"] == 4  # Clara's chart: four results, two weeks apart
    assert counts["leads"] == 6 and counts["lead_stages"] == 4 and counts["ghosts"] == 1
    assert counts["packages"] == 2 and counts["sales"] == 1 and counts["credits_left"] == 8 and counts["credit_bookings"] == 2
    assert counts["invoices_issued"] == 1 and counts["invoices_paid"] == 1
    assert counts["risk_alerts"] >= 1  # the high-risk note alerted the care team and the owner
    assert counts["audited_patients"] == 12 and counts["audited_signed"] == 5 and counts["audited_amended"] == 1

    again = deployment.run("demo", "--no-serve", "--tenants-dir", str(tenants), timeout=300)
    assert "serenity: nothing new" in again.stdout
    assert await _tenant_counts(deployment, "serenity") == counts


async def test_the_demo_wizard_books_the_deposit_service_as_pay_later_without_stripe(deployment: Deployment, tmp_path: Path):
    """The demo's "Online session" asks a 30 % deposit online; the demo has no Stripe settings, so
    the wizard says the session is paid later and books it at once, confirmed."""
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    shutil.copy(ROOT / "tenants" / "serenity.toml", tenants / "serenity.toml")
    port, log_path = free_port(), tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "anima", "demo", "--port", str(port), "--tenants-dir", str(tenants)],
                            env=deployment.env, cwd=ROOT, stdout=log_path.open("w"), stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, log_path, timeout=240)
        async with deployment.admin.connect() as conn:
            schema = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = 'serenity'"))
            service_id, pay, share = (await conn.execute(sa.text(
                f'SELECT id, pay_online, deposit_share_bp FROM "{schema}".services WHERE name = \'Online session\''))).one()
        assert (pay, share) == ("DEPOSIT", 3000)
        async with httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False) as http:
            slots = await http.get(f"/p/serenity/book?service={service_id}&therapist=any")
            assert slots.status_code == 200, slots.text
            start = re.search(r"start=([0-9TZ:%A-F-]+)", slots.text)
            assert start is not None, "the demo's therapist has free times"
            details = await http.get(f"/p/serenity/book?service={service_id}&therapist=any&zone=Europe%2FMadrid&start={start.group(1)}")
            assert details.status_code == 200 and "You pay later, at the practice" in details.text and "Deposit to pay now" not in details.text
            csrf = re.search(r'name="(_csrf[a-z_]*)" value="([^"]+)"', details.text)
            assert csrf is not None
            booked = await http.post("/p/serenity/book", data={
                csrf.group(1): csrf.group(2), "service": str(service_id), "therapist": "any", "zone": "Europe/Madrid",
                "start": httpx.QueryParams(f"s={start.group(1)}")["s"], "first_name": "Nil", "email": "nil@demo.example",
                "time_zone": "Europe/Madrid", "consent": "1"})
            assert booked.status_code == 303 and "/p/serenity/b/" in booked.headers["location"], booked.text
        async with deployment.admin.connect() as conn:
            statuses = (await conn.execute(sa.text(
                f'SELECT status, payment_id FROM "{schema}".bookings WHERE service_id = :s'), {"s": service_id})).all()
        assert [tuple(r) for r in statuses] == [("CONFIRMED", None)]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_shipped_demo_tenants_hold_a_believable_practice():
    manifests = {m.slug: m for m in load_manifests(ROOT / "tenants")}
    assert manifests, "tenants/ has demo tenants"
    for manifest in manifests.values():
        demo = manifest.demo
        assert demo is not None
        assert {role for role, _, _ in manifest.demo_logins()} == {"OWNER", "THERAPIST", "ASSISTANT"}
        assert demo.services and demo.playbooks
        entries = [e for p in demo.patients for e in p.journal]
        assert any(e.signed for e in entries) and any(e.amended for e in entries)
        assert any(p.analysis and p.ai_consent for p in demo.patients)
    serenity = manifests["serenity"].demo
    assert len(serenity.patients) >= 12
    assert serenity.forms is not None and any(i.lead for i in serenity.forms.intake) and len(serenity.forms.phq9[0].levels) >= 3
    assert {p.stage for p in serenity.patients} == {"inquiry", "intake", "active", "integration", "completed"}


@pytest.mark.parametrize(("demo", "message"), [
    ('[[demo.services]]\nname = "X"\nkind = "SOLO"\nscheduling = "CALENDAR"\nduration_minutes = 50\n'
     'price_minor = 1\ncurrency = "EUR"\nlocation = "ONLINE"\n', "demo.services[0]"),
    ('[[demo.staff]]\nemail = "t@x.example"\nname = "T"\nrole = "BOSS"\npassword = "long-enough-1"\n', "demo"),
    ('[[demo.patients]]\nfirst_name = "A"\ntherapist = "nobody@x.example"\n', "not the owner or a demo staff member"),
    ('[[demo.patients]]\nfirst_name = "A"\n[[demo.patients.journal]]\nauthor = "o@x.example"\ntext = "t"\namended = "u"\n',
     "only a signed entry can be amended"),
    ('[[demo.patients]]\nfirst_name = "A"\n[[demo.patients]]\nfirst_name = "A"\n', "share a name"),
    ('[[demo.patients]]\nfirst_name = "A"\nfavourite = "tea"\n', "demo"),
])
def test_bad_demo_data_names_the_file_and_the_field(tmp_path: Path, demo: str, message: str):
    (tmp_path / "x.toml").write_text(f'slug = "xclinic"\nname = "X"\ntier = "PRO"\nowner_email = "o@x.example"\n\n{demo}')
    with pytest.raises(ManifestError) as caught:
        load_manifests(tmp_path)
    assert str(caught.value).startswith("x.toml: ") and message in str(caught.value)
