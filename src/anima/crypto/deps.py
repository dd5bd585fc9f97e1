"""Litestar dependency ``cipher``: a :class:`FieldCipher` for the request's tenant.

The process keeps one :class:`~anima.crypto.keyring.Keyring` (master key, admin engine, cache) in
``app.state["anima_keyring"]``, made on first use from the settings and engines in
``app.state["anima"]``.
"""

from __future__ import annotations

from litestar.datastructures import State

from anima.crypto.cipher import FieldCipher
from anima.crypto.keyring import Keyring
from anima.http.deps import TenantContext, services_from

STATE_KEY = "anima_keyring"


def keyring_from(state: State) -> Keyring:
    """The process keyring (created on first use)."""
    ring = state.get(STATE_KEY) if hasattr(state, "get") else None
    if ring is None:
        services = services_from(state)
        ring = Keyring(services.settings.master_key, services.db.admin)
        state[STATE_KEY] = ring
    return ring


async def provide_cipher(state: State, tenant: TenantContext) -> FieldCipher:
    """The request's field cipher, bound to its tenant and tenant-scoped session."""
    return FieldCipher(keyring_from(state), tenant.session, tenant.tenant.id)
