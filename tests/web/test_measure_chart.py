"""The person's page draws the PHQ-9 series as a server-rendered SVG chart with its table, for
clinicians only; no inline style or script is added (the CSP forbids them)."""

from __future__ import annotations

import re

import httpx

from tests.conftest import add_member, signup
from tests.web.conftest import Browser
from tests.web.test_form_pages import PHQ9_ANSWERS, assign, new_patient, path_of, system_form


async def test_the_phq9_series_is_a_chart_and_a_table_for_clinicians_and_absent_for_assistants(client, browser: Browser, other_browser: Browser, db):
    org = await signup(client)
    assistant_email, _, _ = await add_member(client, db, org, "ASSISTANT")
    pid = await new_patient(client, org)
    await browser.login(org.owner_email)
    empty = await browser.get(f"/o/{org.slug}/people/{pid}")
    assert empty.status_code == 200 and 'id="measures"' in empty.text and "<polyline" not in empty.text
    phq9 = await system_form(client, org, "phq9", "en")
    totals = []
    async with httpx.AsyncClient(transport=browser.http._transport, base_url="http://testserver") as http:
        for level in ("3", "1", "0"):  # 24 (severe), 8 (mild), 0 (minimal)
            link = await assign(client, org, phq9["id"], pid)
            answers = {k: level for k in PHQ9_ANSWERS} | {"item_9": "0"}
            sent = await Browser(http).submit(path_of(link["url"]), answers)
            assert sent.status_code == 200, sent.text
            totals.append(int(level) * 8)
    page = await browser.get(f"/o/{org.slug}/people/{pid}")
    assert page.status_code == 200
    chart = page.text[page.text.index('id="measure-phq9"'):]
    chart = chart[: chart.index("</figure>")]
    assert chart.count('<circle class="chart-dot') == 3 and "<polyline" in chart
    assert all(f'band-{b}' in chart for b in ("minimal", "mild", "moderate", "moderately_severe", "severe"))
    rows = re.findall(r"<tr><td>[^<]+</td><td>(\d+) / 27</td>", chart)
    assert rows == [str(t) for t in reversed(totals)]  # newest first in the table
    assert "Latest: 0 of 27, Minimal" in chart and 'role="img"' in chart and "<desc" in chart
    assert "style=" not in chart and "<script" not in chart
    assert 'id="measure-gad7"' not in page.text  # no GAD-7 results: no empty chart
    await other_browser.login(assistant_email)
    as_assistant = await other_browser.get(f"/o/{org.slug}/people/{pid}")
    assert as_assistant.status_code == 200 and 'id="measures"' not in as_assistant.text and "chart-dot" not in as_assistant.text
