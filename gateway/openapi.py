"""The committed ``openapi.yaml``: every operation complete, rendered the same way every time.

``document(app)`` completes what the route decorators leave implicit, for every route at once (so a
new route cannot forget it): the contract's one error shape with an example for each status the
operation can answer, ``security: [{}]`` on the routes that need no key (Litestar drops an empty
list, which would make them look authenticated), and the success example from ``gateway.examples``.
"""

from collections.abc import Mapping
from typing import Any

import msgspec
import yaml
from litestar import Litestar, MediaType, Response
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, BodyKwarg
from litestar.routes import HTTPRoute
from litestar.serialization import get_serializer

from gateway.examples import ANSWERS, REQUEST_ID, REQUESTS
from gateway.schemas import ErrorBody

#: Statuses every authenticated operation may answer, with the code and message of an example.
_API_ERRORS: dict[int, tuple[str, str]] = {
    400: ("validation_error", "Invalid request: customer: Expected `str`, got `int`"),
    401: ("unauthorized", "Missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."),
    403: ("forbidden_scope", "This API key's scope (portal) does not allow this; use an admin key."),
    404: ("not_found", "No such object in this workspace."),
    409: ("idempotency_conflict", "This Idempotency-Key was used with a different request."),
    413: ("payload_too_large", "Request Entity Too Large"),
    422: ("preset_invalid", "presets/legacy.yaml:3: features: at most 10 products [max-10-products]"),
    429: ("rate_limited", "Too many requests for this API key; retry after the Retry-After seconds."),
    500: ("internal_error", "Something went wrong on our side; the request ID helps us find it."),
    502: ("stripe_auth_failed", "Stripe refused this workspace's secret key (revoked, wrong mode, ...)."),
    503: ("stripe_unavailable", "Stripe could not be reached; retry shortly."),
}
#: Statuses of the routes that need no key (no authentication, no scope, no per-key rate limit).
_PUBLIC_ERRORS = (400, 404, 413, 500, 503)


def render_openapi(app: Litestar) -> str:
    """The app's OpenAPI document as YAML, keys sorted, so the file only changes when the API does."""
    schema = msgspec.to_builtins(app.openapi_schema.to_schema(), enc_hook=get_serializer(app.type_encoders))
    components = schema.get("components", {}).get("schemas", {})
    for name in _strict_bodies(app) & components.keys():  # Litestar leaves it out; the API answers 400
        components[name]["additionalProperties"] = False
    return yaml.safe_dump(schema, default_flow_style=False, allow_unicode=True, sort_keys=True)


def _strict_bodies(app: Litestar) -> set[str]:
    """The request bodies (schema names) that refuse fields they do not declare."""
    names = set()
    for route in app.routes:
        for handler in route.route_handlers if isinstance(route, HTTPRoute) else ():
            data = handler.parsed_fn_signature.parameters.get("data")
            body = getattr(data, "annotation", None)
            if isinstance(body, type) and issubclass(body, msgspec.Struct) and _refuses_unknown(body):
                names.add(body.__name__)
    return names


def _refuses_unknown(struct: type[msgspec.Struct]) -> bool:
    return bool(struct.__struct_config__.forbid_unknown_fields)


def json_body(operation_id: str) -> BodyKwarg:
    """A JSON request body, documented with the operation's example (``gateway.examples.REQUESTS``)."""
    example = Example(summary="A typical request", value=REQUESTS[operation_id])
    body: BodyKwarg = Body(media_type=RequestEncodingType.JSON, examples=[example])
    return body


def error_example(status: int, code: str, message: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """An error body as ``gateway.responses`` makes it."""
    extra = (
        {"fields": [{"field": "customer", "message": "Expected `str`, got `int`"}]}
        if code == "validation_error"
        else {}
    )
    body = {"ok": False, "error_code": code, "error_message": message, "status": status}
    return {**defaults, **body, "request_id": REQUEST_ID, **extra}


def _errors(handler: HTTPRouteHandler, public: bool) -> dict[int, ResponseSpec]:
    defaults: Mapping[str, Any] = handler.opt.get("error_defaults", {})
    responses = {}
    for status in _PUBLIC_ERRORS if public else tuple(_API_ERRORS):
        code, message = _API_ERRORS[status]
        example = Example(summary=code, value=error_example(status, code, message, defaults))
        responses[status] = ResponseSpec(
            data_container=ErrorBody,
            generate_examples=False,
            description=f"Error ``{code}`` here; every error has this shape",
            examples=[example],
        )
    return responses


def _answer(handler: HTTPRouteHandler) -> dict[int, ResponseSpec]:
    example = ANSWERS.get(str(handler.operation_id))
    if example is None:
        return {}
    returned = handler.parsed_fn_signature.return_type
    if returned.is_subclass_of(Response):
        returned = returned.inner_types[0]
    spec = ResponseSpec(
        data_container=returned.annotation,
        generate_examples=False,
        description="Success",
        examples=[Example(summary="A typical answer", value=example)],
    )
    return {handler.status_code: spec}


def document(app: Litestar) -> None:
    """Complete every operation of ``app`` for OpenAPI (see the module docstring); idempotent."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            public = bool(handler.opt.get("exclude_from_auth"))
            if public:
                handler.security = [{}]
            errors = {} if handler.media_type == MediaType.HTML else _errors(handler, public)
            handler.responses = {**_answer(handler), **errors, **(handler.responses or {})}
