"""Property: every refused request for clinical content leaves exactly one ``clinical.access_denied``
line, and every answered one leaves none.

Random entries (author, visibility, kind), a random policy and random assignments, as in the
visibility property; then every reader calls every clinical route of the patient (the timeline,
each entry, the export, the record). Every thing asked for exists, so each refusal (403, or 404 for
something hidden) is a denial: the lines for the patient must match the refusals one to one, by
reader, status and entry.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.events_support import in_tenant
from tests.integration.test_journal_visibility import READERS, Staff, entries_strategy, staff  # noqa: F401 - fixture


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(entries=entries_strategy, restricted=st.booleans(), assigned=st.sets(st.sampled_from(("t1", "t2"))))
async def test_refusals_and_denial_lines_match_one_to_one(client, db, staff: Staff, entries, restricted, assigned):
    slug, h = staff.org.slug, staff.headers
    base = f"/api/v1/orgs/{slug}"
    await client.put(f"{base}/clinical-policy", json={"restrict_therapists_to_assigned": False}, headers=h["owner"])
    created = await client.post(
        f"{base}/patients",
        json={"first_name": "Prop", "clinical": {"risk_notes": "r"}, "therapist_ids": [staff.ids[t] for t in sorted(assigned)]},
        headers=h["owner"],
    )
    pid = created.json()["id"]
    written = []
    for author, visibility, kind in entries:
        body = {"kind": kind, "visibility": visibility}
        body.update({"html": f"<p>{author}</p>"} if kind == "note" else {"data": {"uri": f"s3://x/{author}", "by": author}})
        response = await client.post(f"{base}/patients/{pid}/journal", json=body, headers=h[author])
        assert response.status_code == 201, response.text
        written.append(response.json()["id"])
    await client.put(f"{base}/clinical-policy", json={"restrict_therapists_to_assigned": restricted}, headers=h["owner"])

    refused: Counter[tuple[str, int, str | None]] = Counter()
    for reader in READERS:
        calls = [(f"{base}/patients/{pid}/journal", None), (f"{base}/patients/{pid}/export", None), (f"{base}/patients/{pid}", None)]
        calls += [(f"{base}/patients/{pid}/journal/{e}", e) for e in written]
        for url, entry in calls:
            answer = await client.get(url, headers=h[reader])
            assert answer.status_code in (200, 403, 404), answer.text
            if answer.status_code != 200:
                refused[(staff.ids[reader], answer.status_code, entry)] += 1

    rows = await in_tenant(
        db, slug,
        "SELECT actor_id::text, (detail->>'status')::int, entry_id::text FROM audit_events "
        "WHERE action = 'clinical.access_denied' AND patient_id = :p",
        {"p": pid},
    )
    lines = Counter((actor, status, entry) for actor, status, entry in rows)
    # an entry route refused before the entry is looked at (a hidden patient, an assistant) still
    # names the entry, from the route's path parameters
    assert lines == refused
