"""Organization routes are authorized by their declared roles, and by nothing else.

For every route of the real application under ``/api/v1/orgs/{org_slug}``, the expectation is
derived from the route's own declaration (``opt["roles"]``), never restated here: each member
role outside the declaration gets 403 ``forbidden`` naming the allowed roles, each role inside it
gets past authorization (any answer but 401/403 ``forbidden``), a signed-in non-member gets 404 and
an anonymous caller 401. A route that authorized some other way — a role check of its own, a
forgotten declaration, a platform lookup instead of the scoping statement — fails here; and
``create_app`` refuses a route that declares no roles or asks for neither ``tenant`` nor ``member``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from litestar import Controller, Litestar, get

from anima.http.access import EVERY_MEMBER, ROLES_OPT, MemberContext, TenantContext, check_org_routes
from tests.conftest import add_member, signup

ROLES = ("OWNER", "THERAPIST", "ASSISTANT")
_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def _concrete(path: str, slug: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if name == "org_slug":
            return slug
        if kind == "uuid":
            return str(uuid.uuid4())
        if kind == "int":
            return "1"
        return "unknown-key"

    return _PARAM.sub(fill, path)


def org_operations(app: Litestar, prefix: str = "/api/v1/orgs/{org_slug") -> list[tuple[str, str, frozenset[str]]]:
    """``(method, path template, declared roles)`` of every organization route of ``app`` under ``prefix``."""
    out = []
    for route in app.routes:
        if not route.path.startswith(prefix):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods):
                if method in ("OPTIONS", "HEAD"):
                    continue
                out.append((method, route.path, handler.opt[ROLES_OPT]))
    return sorted(out)


@pytest.fixture(scope="module")
async def members(client, db) -> dict[str, Any]:
    org = await signup(client, tier="CENTER")
    headers = {"OWNER": org.headers}
    for role in ("THERAPIST", "ASSISTANT"):
        _, tokens, _ = await add_member(client, db, org, role)
        headers[role] = {"Authorization": f"Bearer {tokens['access_token']}"}
    outsider = await signup(client, tier="PRO")
    return {"slug": org.slug, "headers": headers, "outsider": outsider.headers}


def test_every_org_route_declares_roles(app) -> None:
    operations = org_operations(app)
    assert len(operations) > 40, "expected the whole organization API"
    for method, path, roles in operations:
        assert roles and roles <= set(ROLES), (method, path, roles)


async def test_each_role_is_answered_as_the_route_declares(client, app, members) -> None:
    failures = []
    for method, path, roles in org_operations(app):
        url = _concrete(path, members["slug"])
        body = {} if method in ("POST", "PUT", "PATCH") else None
        for role in ROLES:
            response = await client.request(method, url, json=body, headers=members["headers"][role])
            forbidden = response.status_code == 403 and response.json().get("type", "").endswith("/forbidden")
            if role in roles and (forbidden or response.status_code == 401):
                failures.append(f"{method} {path}: {role} is declared but got {response.status_code}")
            if role not in roles and not (forbidden and sorted(response.json().get("allowed_roles", [])) == sorted(roles)):
                failures.append(f"{method} {path}: {role} is not declared but got {response.status_code}")
        outsider = await client.request(method, url, json=body, headers=members["outsider"])
        if outsider.status_code != 404:
            failures.append(f"{method} {path}: a non-member got {outsider.status_code}")
        anonymous = await client.request(method, url, json=body)
        if anonymous.status_code != 401:
            failures.append(f"{method} {path}: anonymous got {anonymous.status_code}")
    assert not failures, "\n".join(failures)


def test_create_app_refuses_an_org_route_without_declared_roles() -> None:
    class Undeclared(Controller):
        path = "/api/v1/orgs/{org_slug:str}/undeclared"

        @get("/")
        async def read(self, tenant: TenantContext) -> dict[str, str]:
            return {}

    class SelfAuthorized(Controller):
        path = "/api/v1/orgs/{org_slug:str}/self-authorized"

        @get("/", opt=EVERY_MEMBER)
        async def read(self, org_slug: str) -> dict[str, str]:
            return {}

    class TwiceAuthorized(Controller):
        path = "/o/{org_slug:str}/twice"

        @get("/", opt=EVERY_MEMBER)
        async def read(self, tenant: TenantContext, member: MemberContext) -> dict[str, str]:
            return {}

    from anima.providers import application_dependencies

    for controller, complaint in (
        (Undeclared, "declares no roles"),
        (SelfAuthorized, "neither tenant nor member"),
        (TwiceAuthorized, "both tenant and member"),
    ):
        app = Litestar([controller], dependencies=application_dependencies())
        with pytest.raises(RuntimeError, match=complaint):
            check_org_routes(app.routes)
