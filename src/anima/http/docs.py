"""The API documentation pages (Scalar at ``/docs``, Swagger UI at ``/docs/swagger``), served offline.

Litestar's render plugins load ``@latest`` scripts from a CDN and start them with inline scripts.
These render the same pages from files vendored in ``anima/http/docs_assets`` (versions, licences
and hashes in its ``VENDORED.md``) and served under ``/docs/assets/``: no third-party origin, no
inline script, so the documentation's Content-Security-Policy
(:data:`anima.http.security_headers.DOCS_CSP`) can allow this origin only.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

ASSETS_DIR = Path(__file__).parent / "docs_assets"
ASSETS_PATH = "/docs/assets"
SWAGGER_UI = "swagger-ui-5.35.0"
SCALAR = "scalar-api-reference-1.76.0"


def _page(title: str, head: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head>"
        f'<meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/>'
        f"<title>{html.escape(title)}</title>"
        f'<link rel="stylesheet" href="{ASSETS_PATH}/docs.css"/>{head}</head>'
        f"<body>{body}</body></html>"
    ).encode()


#: no fonts from scalar.com, no "open in client" button (both would leave this origin)
_SCALAR_CONFIGURATION = html.escape(json.dumps({"withDefaultFonts": False, "hideClientButton": True}), quote=True)


class ScalarPage(OpenAPIRenderPlugin):
    """Scalar's API reference from the vendored ``standalone.js`` (served at ``/docs`` and ``/docs/scalar``).

    The script mounts itself on ``#api-reference``, reading its ``data-url`` and
    ``data-configuration`` attributes, so the page needs no inline script.
    """

    def __init__(self) -> None:
        super().__init__(path=["/", "/scalar"], favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The HTML page; the OpenAPI document's URL travels in a ``data-url`` attribute."""
        url = html.escape(self.get_openapi_json_route(request), quote=True)
        return _page(
            openapi_schema["info"]["title"],
            "",
            f"<noscript>The API reference needs JavaScript.</noscript>"
            f'<div id="api-reference" data-url="{url}" data-configuration="{_SCALAR_CONFIGURATION}"></div>'
            f'<script src="{ASSETS_PATH}/{SCALAR}/standalone.js"></script>',
        )


class SwaggerPage(OpenAPIRenderPlugin):
    """Swagger UI from the vendored ``swagger-ui-dist`` (served at ``/docs/swagger``)."""

    def __init__(self) -> None:
        super().__init__(path="/swagger", favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The HTML page; the OpenAPI document's URL travels in a ``data-url`` attribute."""
        url = html.escape(self.get_openapi_json_route(request), quote=True)
        return _page(
            openapi_schema["info"]["title"],
            f'<link rel="stylesheet" href="{ASSETS_PATH}/{SWAGGER_UI}/swagger-ui.css"/>',
            f'<div id="swagger-ui" data-url="{url}"></div>'
            f'<script src="{ASSETS_PATH}/{SWAGGER_UI}/swagger-ui-bundle.js"></script>'
            f'<script src="{ASSETS_PATH}/swagger-init.js"></script>',
        )


def assets_router() -> Router:
    """The static files of the documentation pages, under ``/docs/assets`` (not in the OpenAPI document)."""
    return create_static_files_router(path=ASSETS_PATH, directories=[ASSETS_DIR], name="docs-assets", include_in_schema=False)
