from tests.conftest import add_member, signup


async def test_signup_invite_and_service(client, db):
    org = await signup(client)
    me = await client.get("/api/v1/me", headers=org.headers)
    assert me.status_code == 200
    assert me.json()["memberships"][0]["organization_slug"] == org.slug
    _, tokens, therapist_id = await add_member(client, db, org, "THERAPIST")
    created = await client.post(
        f"/api/v1/orgs/{org.slug}/services",
        json={"name": "Therapy", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50,
              "price_minor": 6000, "currency": "EUR", "location": "ONLINE", "therapist_ids": [therapist_id]},
        headers=org.headers,
    )
    assert created.status_code == 201, created.text
    assert [t["id"] for t in created.json()["therapists"]] == [therapist_id]
