"""Every error, ours or the framework's, as the contract's one JSON shape; and request IDs.

``{"ok": false, "error_code", "error_message", "status", "request_id", ...}``. A route may add
default keys to its error bodies through ``opt={"error_defaults": {...}}`` (the portal-session
route repeats its success keys, empty, so a Bubble call initialised on success keeps its schema).
``?errors_as_200=1`` answers errors with 200 for tools that drop non-2xx bodies.
"""

import logging
import random
import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.exc import DBAPIError

from gateway.errors import GatewayError
from gateway.logs import REQUEST_ID
from gateway.metrics import count_response

logger = logging.getLogger(__name__)

_IDS = random.Random()  # noqa: S311  (IDs, not secrets)
REQUEST_ID_HEADER = "x-request-id"

SERVER_ERROR = 500
#: PostgreSQL's ``character_not_in_repertoire``: it cannot store a NUL character in text.
UNSTORABLE_TEXT = "22021"

_CODES_BY_STATUS = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden_scope",
    404: "not_found",
    405: "method_not_allowed",
    409: "idempotency_conflict",
    413: "payload_too_large",
    415: "validation_error",
    429: "rate_limited",
}


def new_request_id() -> str:
    """A fresh request ID (``req_`` and 24 hex characters)."""
    # Unique, not secret: the process's PRNG (seeded from the OS) spares a system call per request.
    return f"req_{_IDS.getrandbits(96):024x}"


def request_id_of(scope: Scope) -> str:
    """The ID of the request being answered, made on first use and kept in ``scope["state"]``."""
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if request_id is None:
        request_id = state["request_id"] = new_request_id()
    return str(request_id)


def assign_request_id(app: ASGIApp) -> ASGIApp:
    """Middleware: the request's ID, made as it starts, so each log line about it carries the ID."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        token = REQUEST_ID.set(request_id_of(scope))
        try:
            await app(scope, receive, send)
        finally:
            REQUEST_ID.reset(token)

    return middleware


async def send_request_id(message: Message, scope: Scope) -> None:
    """``before_send`` hook: every response carries ``X-Request-Id`` (404s and 405s included)."""
    if message["type"] == "http.response.start":
        header = (REQUEST_ID_HEADER.encode(), request_id_of(scope).encode())
        message["headers"] = [*message.get("headers", []), header]
        count_response(scope, message["status"])


_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")


def _field_of(item: dict[str, Any]) -> str:
    """The field a framework validation problem is about (an unknown body key names itself)."""
    unknown = _UNKNOWN_FIELD.search(str(item.get("message", "")))
    if unknown and item.get("source") == "body":
        return unknown.group(1)
    return str(item.get("key", ""))


def _describe(exc: Exception) -> tuple[int, str, str, dict[str, Any], dict[str, str]]:
    """Status, code, message, extra body keys and headers for any exception."""
    if isinstance(exc, GatewayError):
        return exc.status, exc.code, exc.message, exc.extra, exc.headers
    if isinstance(exc, ValidationException):
        fields = [
            {"field": _field_of(item), "message": str(item.get("message", ""))}
            for item in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(item, dict)
        ]
        detail = "; ".join(f"{f['field'] or 'body'}: {f['message']}" for f in fields) or exc.detail
        return 400, "validation_error", f"Invalid request: {detail}", {"fields": fields}, {}
    if isinstance(exc, RecursionError) and "deserializing" in str(exc):
        # msgspec's answer to JSON nested deeper than Python recurses (not a DecodeError).
        return 400, "validation_error", "Invalid request: the JSON is nested too deeply.", {"fields": []}, {}
    if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == UNSTORABLE_TEXT:
        message = "Invalid request: text may not contain the NUL character (\\u0000)."
        return 400, "validation_error", message, {"fields": []}, {}
    if isinstance(exc, HTTPException):
        code = _CODES_BY_STATUS.get(
            exc.status_code, "internal_error" if exc.status_code >= SERVER_ERROR else "not_found"
        )
        extra: dict[str, Any] = {"fields": []} if code == "validation_error" else {}
        return exc.status_code, code, exc.detail, extra, dict(exc.headers or {})
    return 500, "internal_error", "Something went wrong on our side; the request ID helps us find it.", {}, {}


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """The JSON error answer for ``exc``; unexpected exceptions are logged, never shown."""
    status, code, message, extra, headers = _describe(exc)
    request_id = request_id_of(request.scope)
    if status >= SERVER_ERROR and not isinstance(exc, GatewayError | HTTPException):
        REQUEST_ID.set(request_id)  # also when the error came before the route's middleware ran
        logger.error("unhandled error", exc_info=exc)
    handler = request.scope.get("route_handler")
    defaults: dict[str, Any] = dict(handler.opt.get("error_defaults", {})) if handler is not None else {}
    body = {
        **defaults,
        "ok": False,
        "error_code": code,
        "error_message": message,
        "status": status,
        "request_id": request_id,
        **extra,
    }
    as_200 = request.query_params.get("errors_as_200", "") in {"1", "true"}
    return Response(body, status_code=200 if as_200 else status, media_type=MediaType.JSON, headers=headers)
