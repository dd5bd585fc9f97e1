"""``create_app()``: the Litestar application, its dependencies, routes and OpenAPI docs.

Route handlers are collected, not listed: identity, the operator API, health, and every
``anima.domains.<name>.controllers.ROUTE_HANDLERS`` found, so adding a domain never edits this file.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute

from anima import models as _every_table  # noqa: F401 - all tables (data_keys too) known before a signup provisions a tenant
from anima.domains import import_domain_modules
from anima.billing import controllers as billing_controllers
from anima.ai.cache import AnalysisCache
from anima.ai.gemini import GeminiAnalyst
from anima.config import Settings, load_settings
from anima.db.engine import Database, open_database
from anima.http import docs, health
from anima.http.context import RequestContextMiddleware
from anima.http.access import check_org_routes
from anima.http.clinical_audit import record_clinical_denial
from anima.http.exception_handlers import EXCEPTION_HANDLERS
from anima.http.input_guard import GuardedRequest, guard_request
from anima.http.security_headers import STRIPE_FORM_TARGETS, SecurityHeadersMiddleware, page_csp
from anima.http.openapi import openapi_plugins
from anima.identity import controllers as identity_controllers
from anima.identity.rate_limit import RateLimits
from anima.jobs import controllers as jobs_controllers
from anima.providers import application_dependencies
from anima.runtime import RUNTIME_KEY, Runtime, build_runtime
from anima.logs import configure_logging, get_logger
from anima.tenancy import controllers as tenancy_controllers
from anima.web.csrf import csrf_config
from anima.site.router import page_router, static_router
from anima.web.templating import template_config

log = get_logger(__name__)

#: request bodies larger than this are refused with 413 before they are parsed
MAX_REQUEST_BODY = 1024 * 1024


def domain_route_handlers() -> list[Any]:
    """Every ``ROUTE_HANDLERS`` of ``anima.domains.<name>.controllers``, in name order."""
    return [handler for module in import_domain_modules("controllers") for handler in getattr(module, "ROUTE_HANDLERS", [])]


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    rate_limits: RateLimits | None = None,
    analyst: GeminiAnalyst | None = None,
    analysis_cache: AnalysisCache | None = None,
) -> Litestar:
    """Build the application.

    Args:
        settings: the configuration; read from the environment when omitted.
        database: engines to use (tests pass theirs); opened at startup and disposed at shutdown
            when omitted.
        rate_limits: override the default rate limits.
        analyst, analysis_cache: override the Gemini analyst and the analysis cache (tests).

    Returns:
        Litestar: the ASGI application. ``app.state.anima`` holds the :class:`~anima.runtime.Runtime`
        once started.

    Raises:
        RuntimeError: an organization route is not authorized by its declared roles.
    """
    settings = settings or load_settings()
    configure_logging(production=settings.is_production, level=settings.log_level)

    def runtime_for(db: Database) -> Runtime:
        return build_runtime(settings, db, rate_limits=rate_limits, analyst=analyst, analysis_cache=analysis_cache)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        if database is not None:  # given by the caller, who disposes of it
            yield
            return
        db = await open_database(settings)
        app.state[RUNTIME_KEY] = runtime_for(db)
        log.info("anima started", env=settings.env, database=db.database)
        try:
            yield
        finally:
            await db.dispose()

    openapi = OpenAPIConfig(
        title="Anima API",
        version="1.0.0",
        description="The practice platform for therapy and wellness professionals. Errors are RFC 9457 problem details.",
        path="/docs",
        render_plugins=[docs.ScalarPage(), docs.SwaggerPage()],
        components=Components(
            security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
        ),
        security=[{"BearerToken": []}],
    )
    app = Litestar(
        route_handlers=[
            *health.ROUTE_HANDLERS,
            docs.assets_router(),
            *identity_controllers.ROUTE_HANDLERS,
            *tenancy_controllers.ROUTE_HANDLERS,
            *billing_controllers.ROUTE_HANDLERS,
            *jobs_controllers.ROUTE_HANDLERS,
            *domain_route_handlers(),
            static_router(),
            page_router(),
        ],
        template_config=template_config(),
        csrf_config=csrf_config(settings),
        dependencies=application_dependencies(),
        request_class=GuardedRequest,
        before_request=guard_request,
        logging_config=None,
        exception_handlers=EXCEPTION_HANDLERS,
        after_exception=[record_clinical_denial],
        openapi_config=openapi,
        plugins=openapi_plugins(),
        cors_config=CORSConfig(allow_origins=[], allow_credentials=False),
        lifespan=[lifespan],
        state=State({RUNTIME_KEY: runtime_for(database)} if database is not None else {}),
        request_max_body_size=MAX_REQUEST_BODY,
        debug=False,
    )
    check_org_routes(app.routes)
    wrap_edge(app, settings)
    return app


def wrap_edge(app: Litestar, settings: Settings) -> None:
    """Put the request context and the security headers around everything Litestar answers.

    Litestar's ``middleware`` runs only for matched routes; wrapped around ``app.asgi_handler``
    (its exception handler and router) they also cover 404, 405 and errors raised before routing.
    """
    allow = {route.path_format: ", ".join(sorted(route.methods)) for route in app.routes if isinstance(route, HTTPRoute)}
    context = RequestContextMiddleware(app.asgi_handler, settings.trusted_proxies, settings.secret_key)
    targets = STRIPE_FORM_TARGETS
    if settings.stripe_api_base and not settings.stripe_api_base.startswith("https://api.stripe.com"):
        targets = (*targets, origin_of(settings.stripe_api_base))  # a local Stripe stub serves its own Checkout page
    app.asgi_handler = SecurityHeadersMiddleware(
        context, production=settings.is_production, allow=allow, page_policy=page_csp(targets)
    )


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
