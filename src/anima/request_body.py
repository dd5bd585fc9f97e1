"""The base of every request body: a msgspec structure that refuses fields it does not declare.

A client that misspells a field (``"restrict_therapist_to_assigned"``) or smuggles one in
(``"tenant_id"``) gets a 422 naming it with rule ``unknown-field`` instead of having it silently
ignored. Request bodies subclass :class:`RequestBody`; responses stay plain ``msgspec.Struct``.
A contract test fails on a route whose ``data`` structure (or one nested in it) is not a
:class:`RequestBody`.
"""

from __future__ import annotations

import msgspec


class RequestBody(msgspec.Struct, forbid_unknown_fields=True):
    """Base class of request bodies (``forbid_unknown_fields`` is inherited by every subclass)."""
