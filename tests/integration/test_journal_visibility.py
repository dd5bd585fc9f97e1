"""Property: each role reads exactly the journal entries the visibility table allows, on every route.

Random staff of each role (an owner, two therapists, an assistant), a random policy
("restrict therapists to assigned patients"), random assignments and random entries (author,
visibility, kind). Expected, from the README's roles table:

* OWNER: every entry;
* THERAPIST: own entries and shared ones — of patients they may see (assigned, when restricted);
  an entry they may not read is "not found", as is a patient they may not see;
* ASSISTANT: no journal content (403 on every journal route, no clinical part in the record).

Routes returning journal content: the timeline list, the single entry, the record export.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import add_member, bearer, signup

AUTHORS = ("owner", "t1", "t2")
READERS = ("owner", "t1", "t2", "assistant")


@dataclass
class Staff:
    org: object
    headers: dict[str, dict[str, str]]
    ids: dict[str, str]


@pytest.fixture(scope="module")
async def staff(client, db) -> Staff:
    org = await signup(client, tier="CENTER")
    headers, ids = {"owner": org.headers}, {"owner": org.owner_id}
    for name, role in (("t1", "THERAPIST"), ("t2", "THERAPIST"), ("assistant", "ASSISTANT")):
        _, tokens, user_id = await add_member(client, db, org, role)
        headers[name], ids[name] = bearer(tokens["access_token"]), user_id
    return Staff(org, headers, ids)


entries_strategy = st.lists(
    st.tuples(st.sampled_from(AUTHORS), st.sampled_from(("private", "shared")), st.sampled_from(("note", "audio_reference"))),
    min_size=0,
    max_size=6,
)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(entries=entries_strategy, restricted=st.booleans(), assigned=st.sets(st.sampled_from(("t1", "t2"))))
async def test_each_role_reads_exactly_what_it_may(client, staff, entries, restricted, assigned):
    slug, h = staff.org.slug, staff.headers
    base = f"/api/v1/orgs/{slug}"
    await client.put(f"{base}/clinical-policy", json={"restrict_therapists_to_assigned": False}, headers=h["owner"])
    created = await client.post(
        f"{base}/patients",
        json={"first_name": "Prop", "clinical": {"risk_notes": "r"}, "therapist_ids": [staff.ids[t] for t in sorted(assigned)]},
        headers=h["owner"],
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    written: list[tuple[str, str, str]] = []  # (entry id, author, visibility)
    for author, visibility, kind in entries:
        body = {"kind": kind, "visibility": visibility}
        body.update({"html": f"<p>{author}</p>"} if kind == "note" else {"data": {"uri": f"s3://x/{author}", "by": author}})
        response = await client.post(f"{base}/patients/{pid}/journal", json=body, headers=h[author])
        assert response.status_code == 201, response.text
        written.append((response.json()["id"], author, visibility))
    await client.put(f"{base}/clinical-policy", json={"restrict_therapists_to_assigned": restricted}, headers=h["owner"])

    for reader in READERS:
        sees_patient = not (reader in ("t1", "t2") and restricted and reader not in assigned)
        if reader == "owner":
            expected = {e for e, _, _ in written}
        elif reader == "assistant" or not sees_patient:
            expected = set()
        else:
            expected = {e for e, author, vis in written if vis == "shared" or author == reader}

        listed = await client.get(f"{base}/patients/{pid}/journal", params={"limit": 200}, headers=h[reader])
        if reader == "assistant":
            assert listed.status_code == 403
        elif not sees_patient:
            assert listed.status_code == 404
        else:
            assert listed.status_code == 200, listed.text
            assert {e["id"] for e in listed.json()["items"]} == expected
            assert listed.json()["total"] == len(expected)

        for entry_id, _, _ in written:
            one = await client.get(f"{base}/patients/{pid}/journal/{entry_id}", headers=h[reader])
            if reader == "assistant":
                assert one.status_code == 403
            elif entry_id in expected:
                assert one.status_code == 200 and one.json()["id"] == entry_id
            else:
                assert one.status_code == 404, (reader, one.text)

        export = await client.get(f"{base}/patients/{pid}/export", headers=h[reader])
        if reader == "owner":
            assert export.status_code == 200
            assert {e["id"] for e in export.json()["journal"]} == expected
        else:
            assert export.status_code == 403

        record = await client.get(f"{base}/patients/{pid}", headers=h[reader])
        if not sees_patient:
            assert record.status_code == 404
        else:
            assert record.status_code == 200
            assert (record.json()["clinical"] is not None) == (reader != "assistant")
