"""A second browser-test server with payments configured: Stripe's SDK aimed at the stub, which
hosts Checkout itself (:meth:`tests.stripe_stub.StripeStub.serve_checkout`).

The shared ``server`` fixture stays without Stripe settings (its signups get the picked tier as a
development comp); journeys that pay use ``paid_server`` instead. Import the fixture into a test
module to use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from anima.db.engine import Database
from tests.browser.conftest import Server, running_server
from tests.stripe_stub import StripeStub, stripe_environ


@dataclass
class PaidServer:
    """The server with payments configured and the stub it pays through."""

    server: Server
    stripe: StripeStub

    @property
    def base(self) -> str:
        return self.server.base


@pytest.fixture(scope="session")
def paid_server(db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaidServer]:
    stub = StripeStub().start()
    try:
        with running_server(db, tmp_path_factory.mktemp("paid-server"), **stripe_environ(), STRIPE_API_BASE=stub.url) as running:
            stub.serve_checkout(f"{running.base}/api/v1/billing/webhooks/stripe", f"{running.base}/api/v1/payments/webhooks/stripe")
            yield PaidServer(running, stub)
    finally:
        stub.stop()
