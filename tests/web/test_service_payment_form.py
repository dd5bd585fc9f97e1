"""The services form's online payment: none, the full price, or a deposit typed as an amount or a
percentage (basis points), refused beside the field when it breaks a rule."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from anima.domains.catalog.pages import percent_to_bp
from tests.conftest import signup
from tests.web.conftest import Browser
from tests.web.test_services_pages import _form


@pytest.mark.parametrize(("text", "bp"), [("30", 3000), ("12.5", 1250), ("12,5", 1250), ("0.01", 1), ("100", 10_000),
                                          ("0", None), ("100.01", None), ("abc", None), ("1.234", None), ("-5", None), ("", None)])
def test_percentages_become_basis_points(text, bp):
    assert percent_to_bp(text) == bp


async def _row(db, slug: str) -> tuple:
    async with db.admin.connect() as conn:
        schema = (await conn.execute(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": slug})).scalar_one()
        return (await conn.execute(sa.text(f'SELECT id, pay_online, deposit_minor, deposit_share_bp FROM "{schema}".services'))).one()


async def test_owner_sets_a_deposit_on_the_form(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    await browser.login(org.owner_email)
    new = await browser.get(f"/o/{org.slug}/services/new")
    assert 'name="pay_online"' in new.text and 'name="deposit"' in new.text and 'name="deposit_percent"' in new.text
    too_much = await browser.submit(f"/o/{org.slug}/services/new", _form(pay_online="DEPOSIT", deposit="70.00"))
    assert too_much.status_code == 422 and 'id="e-deposit"' in too_much.text and "at most the price" in too_much.text
    bad_share = await browser.submit(f"/o/{org.slug}/services/new", _form(pay_online="DEPOSIT", deposit_percent="150"))
    assert bad_share.status_code == 422 and 'id="e-deposit_percent"' in bad_share.text
    created = await browser.submit(f"/o/{org.slug}/services/new", _form(name="Online first session", pay_online="DEPOSIT", deposit="20.00"))
    assert created.status_code == 303, created.text
    service_id, pay, deposit, share = await _row(db, org.slug)
    assert (pay, deposit, share) == ("DEPOSIT", 2000, None)
    edit = await browser.get(f"/o/{org.slug}/services/{service_id}/edit")
    assert 'value="20.00"' in edit.text
    share_form = _form(name="Online first session", pay_online="DEPOSIT", deposit="", deposit_percent="25")
    changed = await browser.submit(f"/o/{org.slug}/services/{service_id}/edit", share_form)
    assert changed.status_code == 303, changed.text
    assert (await _row(db, org.slug))[1:] == ("DEPOSIT", None, 2500)
    none = await browser.submit(f"/o/{org.slug}/services/{service_id}/edit", _form(name="Online first session", pay_online="NONE"))
    assert none.status_code == 303 and (await _row(db, org.slug))[1:] == ("NONE", None, None)
