"""Fixtures of the page tests: a browser-like HTTP client that keeps cookies and sends the CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from tests.conftest import PASSWORD

_CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')


class Browser:
    """An HTTP client with its own cookie jar, like one browser: GET a page, POST its form."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def get(self, path: str, **kw) -> httpx.Response:
        return await self.http.get(path, **kw)

    async def csrf(self, path: str = "/login") -> str:
        """The CSRF token a form on ``path`` carries."""
        page = await self.http.get(path)
        match = _CSRF_INPUT.search(page.text)
        assert match, f"no CSRF field on {path}"
        return match.group(1)

    async def submit(self, path: str, data: dict, *, form_page: str | None = None, **kw) -> httpx.Response:
        """POST ``data`` to ``path`` with the CSRF token of ``form_page`` (default: ``path``)."""
        token = await self.csrf(form_page or path)
        return await self.http.post(path, data={**data, "_csrf_token": token}, **kw)

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = await self.submit("/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text
        return response


@pytest.fixture
async def browser(app: Litestar) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", follow_redirects=False) as http:
        yield Browser(http)


@pytest.fixture
async def other_browser(app: Litestar) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", follow_redirects=False) as http:
        yield Browser(http)
