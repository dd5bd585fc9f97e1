"""What the OpenAPI document says about errors, authentication and unknown fields — derived, not hand-written.

Four things are added to what Litestar generates, all from the routes' own metadata:

* **Problem responses.** Every operation lists the RFC 9457 problems it can answer, as
  ``application/problem+json`` with the shared ``Problem`` component (:class:`Problem`).
  :func:`problem_statuses` derives them from the route as Litestar parses it (its kwargs model):

  ====================================================  ==========================
  the route …                                           may answer
  ====================================================  ==========================
  needs a bearer token (depends on ``claims``)          401
  has guards (the operator API)                         401, 403
  declares member roles (``opt["roles"]``)              401, 403 (role, suspended
                                                        organization, plan limit),
                                                        404 (non-member)
  has path parameters                                   400, 404, 422
  has query or header parameters                        400, 422
  has a request body (``data``)                         400, 413, 422
  declares more in ``opt["problems"]`` (:func:`answers`) those statuses
  ====================================================  ==========================

  What derivation cannot see — a service's 409, a rate limit's 429, Stripe's 502/503, a
  ``401`` of a public login — the route declares with :func:`answers` next to its roles
  (``opt=OWNERS | answers(409)``). A response the handler documents itself (``responses=``) wins.
* **Public routes** (no ``claims`` dependency, no guard) carry ``security: []``, overriding the
  document's global bearer requirement; every other route keeps it.
* **Headers of problems.** 401 documents ``WWW-Authenticate`` and 429 ``Retry-After``
  (:class:`ProblemOperation`).
* **Unknown fields.** A request Struct declared with ``forbid_unknown_fields=True`` is documented
  with ``additionalProperties: false`` (:class:`StrictStructSchemaPlugin`); Litestar's own Struct
  plugin does not say so.

Both hooks are Litestar's supported ones: :class:`ProblemResponsesPlugin` is a
``ReceiveRoutePlugin`` that sets each handler's ``responses`` and ``operation_class`` as the route is
registered (before the document is generated, lazily, on the first read; the operation classes
are Litestar's documented way to customize an operation), and
:class:`StrictStructSchemaPlugin` is an ``OpenAPISchemaPlugin`` ahead of Litestar's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIHeader, OpenAPIResponse, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.plugins import OpenAPISchemaPlugin, ReceiveRoutePlugin
from litestar.routes import HTTPRoute

from anima.http.access import ROLES_OPT, used_dependencies
from anima.problems import MEDIA_TYPE

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.handlers import HTTPRouteHandler
    from litestar.routes import BaseRoute
    from litestar.typing import FieldDefinition

#: the ``opt`` key under which a route declares problem statuses derivation cannot know
PROBLEMS_OPT = "problems"

#: what each problem status means in this API (the response's description in the document)
DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request: a body or parameter that cannot be parsed at all.",
    401: "No valid bearer access token, or its session has ended (`WWW-Authenticate: Bearer`).",
    403: "Not allowed: the caller's role may not do this, the organization is suspended, or a plan "
    "limit is reached (the problem names the limit, its usage and the tier that lifts it).",
    404: "Not found. A non-member asking about an organization gets this too: organizations do not "
    "learn of each other.",
    409: "Conflicts with the current state (already exists, already signed, the last owner, …).",
    413: "The request body, or one of its fields, is larger than allowed.",
    422: "Invalid input: `errors` names every field with the rule it broke.",
    429: "Too many attempts; `Retry-After` says how many seconds to wait.",
    502: "The payment provider refused or could not be reached; nothing was changed.",
    503: "Payments are not configured on this deployment.",
}


def answers(*statuses: int) -> dict[str, frozenset[int]]:
    """Route ``opt`` declaring problem statuses the route can answer beyond the derived ones.

    Combine with a role set: ``opt=OWNERS | answers(409)``.

    Raises:
        ValueError: a status that is not a documented problem status (:data:`DESCRIPTIONS`).
    """
    unknown = [s for s in statuses if s not in DESCRIPTIONS]
    if unknown:
        raise ValueError(f"no description for problem status {unknown}; add it to DESCRIPTIONS")
    return {PROBLEMS_OPT: frozenset(statuses)}


class FieldError(msgspec.Struct):
    """One broken rule of one input field."""

    field: str
    rule: str
    message: str


class Problem(msgspec.Struct, kw_only=True):
    """The shape of every error body (RFC 9457): the ``Problem`` component of the document.

    The exceptions behind it are :mod:`anima.problems`; this class only describes the body. Problems may carry more members (a plan limit's ``limit``, ``used`` and ``allowed``; a
    forbidden role's ``allowed_roles``), so the schema admits additional properties.
    """

    type: Annotated[str, msgspec.Meta(description="URI naming the kind of problem (stable; its last part is the kind)")]
    title: Annotated[str, msgspec.Meta(description="Short summary of the kind of problem")]
    status: Annotated[int, msgspec.Meta(description="The HTTP status code of this response")]
    detail: Annotated[str, msgspec.Meta(description="What went wrong in this occurrence")]
    instance: Annotated[str, msgspec.Meta(description="The request path")]
    request_id: Annotated[str, msgspec.Meta(description="The X-Request-ID of this request")] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    errors: Annotated[list[FieldError], msgspec.Meta(description="Every invalid field with the rule it broke")] | (
        msgspec.UnsetType
    ) = msgspec.UNSET


def _reads(handler: HTTPRouteHandler, route: HTTPRoute) -> tuple[bool, bool, bool]:
    """(path parameters, query/header parameters, request body) as Litestar's kwargs model expects them."""
    model = next(m for h, m in route.route_handler_map.values() if h is handler)
    path = bool(model.expected_path_params or route.path_parameters)
    other = bool(model.expected_query_params or model.expected_header_params or model.expected_cookie_params)
    body = bool(
        {"data", "body"} & set(model.expected_reserved_kwargs)
        or model.expected_data_dto
        or model.expected_form_data
        or model.expected_msgpack_data
    )
    return path, other, body


def is_public(handler: HTTPRouteHandler) -> bool:
    """True when the route needs no bearer token: it depends on no ``claims`` and has no guard."""
    return "claims" not in used_dependencies(handler) and not handler.resolve_guards()


def problem_statuses(handler: HTTPRouteHandler, route: HTTPRoute) -> frozenset[int]:
    """The problem statuses ``handler`` on ``route`` can answer (the rules in this module's table)."""
    statuses: set[int] = set(handler.opt.get(PROBLEMS_OPT, ()))
    if not is_public(handler):
        statuses.add(401)
    if handler.resolve_guards():
        statuses |= {401, 403}
    if handler.opt.get(ROLES_OPT) is not None:
        statuses |= {401, 403, 404}
    path, other, body = _reads(handler, route)
    if path:
        statuses |= {400, 404, 422}
    if other:
        statuses |= {400, 422}
    if body:
        statuses |= {400, 413, 422}
    return frozenset(statuses)


def problem_response(status: int) -> ResponseSpec:
    """The documented response of one problem status (``application/problem+json``, ``Problem``)."""
    return ResponseSpec(
        data_container=Problem, media_type=MEDIA_TYPE, description=DESCRIPTIONS[status], generate_examples=False
    )


#: headers a problem response carries, by status (``ResponseSpec`` cannot say so; the operation adds them)
PROBLEM_HEADERS: dict[str, dict[str, OpenAPIHeader]] = {
    "401": {
        "WWW-Authenticate": OpenAPIHeader(
            schema=Schema(type=OpenAPIType.STRING), description='The scheme to authenticate with: Bearer realm="anima"', required=True
        )
    },
    "429": {
        "Retry-After": OpenAPIHeader(
            schema=Schema(type=OpenAPIType.INTEGER, minimum=0), description="Seconds until the window ends", required=True
        )
    },
}


@dataclass
class ProblemOperation(Operation):
    """An operation whose 401 and 429 problem responses also document their headers (:data:`PROBLEM_HEADERS`)."""

    def __post_init__(self) -> None:
        for status, headers in PROBLEM_HEADERS.items():
            response = (self.responses or {}).get(status)
            if isinstance(response, OpenAPIResponse) and response.content and MEDIA_TYPE in response.content:
                response.headers = {**(response.headers or {}), **headers}


@dataclass
class PublicOperation(ProblemOperation):
    """An operation that needs no authentication: documented with ``security: []``.

    An empty list at the operation overrides the document's global bearer requirement (OpenAPI
    3.1, Security Requirement Object); Litestar omits an empty list, hence this class.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.security = []


class ProblemResponsesPlugin(ReceiveRoutePlugin):
    """Documents each route's problem responses and public routes' ``security: []`` as routes are registered."""

    __slots__ = ()

    def receive_route(self, route: BaseRoute) -> None:
        """Set ``responses`` (derived, then the handler's own) and ``operation_class`` (public or not)."""
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            derived = {status: problem_response(status) for status in sorted(problem_statuses(handler, route))}
            handler.responses = {**derived, **(handler.responses or {})}
            if handler.operation_class is Operation:  # a handler's own operation class is left alone
                handler.operation_class = PublicOperation if is_public(handler) else ProblemOperation


class StrictStructSchemaPlugin(OpenAPISchemaPlugin):
    """Litestar's own Struct schema, plus ``additionalProperties: false`` when the Struct forbids unknown fields.

    Placed ahead of Litestar's plugins, it claims only ``forbid_unknown_fields`` Structs, lets the next
    plugin that supports the type (Litestar's Struct plugin) build the schema, and adds the one key.
    """

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        """A (non-union) msgspec Struct declared with ``forbid_unknown_fields=True``."""
        if field_definition.is_union or not field_definition.is_subclass_of(msgspec.Struct):
            return False
        return bool(field_definition.type_.__struct_config__.forbid_unknown_fields)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        """The component schema the next supporting plugin builds, saying unknown fields are refused."""
        builtin = next(
            plugin
            for plugin in schema_creator.plugins
            if plugin is not self and schema_creator.plugin_supports_field(plugin, field_definition)
        )
        schema = builtin.to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


def openapi_plugins() -> list[Any]:
    """The plugins ``create_app`` installs so that the document tells the truth."""
    return [ProblemResponsesPlugin(), StrictStructSchemaPlugin()]
