"""Property tests of who may be told what by a staff notification email, and the role defaults."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from anima.domains.preferences.emails import may_see_booking, may_see_lead_name
from anima.domains.preferences.services import KINDS, defaults_for

ROLES = st.sampled_from(["OWNER", "THERAPIST", "ASSISTANT", "OPERATOR", ""])
IDS = st.uuids()


@given(ROLES, IDS, st.one_of(st.none(), IDS))
def test_a_therapist_is_told_only_of_their_own_bookings(role, member, therapist):
    seen = may_see_booking(role, member, therapist)
    if role in ("OWNER", "ASSISTANT"):
        assert seen
    else:
        assert seen == (role == "THERAPIST" and therapist is not None and member == therapist)


@given(ROLES, IDS)
def test_a_booking_of_another_therapist_is_never_seen_by_a_therapist(role, member):
    assert not may_see_booking("THERAPIST", member, uuid.uuid4())
    assert may_see_lead_name(role) == (role in ("OWNER", "ASSISTANT"))


@given(ROLES)
def test_defaults_are_the_roles_and_every_switch_is_a_bool(role):
    prefs = defaults_for(role)
    on = {k for k in KINDS if getattr(prefs, k)}
    assert all(isinstance(getattr(prefs, k), bool) for k in KINDS) and prefs.is_default
    assert on == {"OWNER": {"risk_alert", "new_lead"}, "THERAPIST": {"new_booking", "cancellation", "risk_alert"},
                  "ASSISTANT": {"new_booking", "cancellation", "new_lead"}}.get(role, set())
