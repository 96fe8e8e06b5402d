"""The Stripe API of the sandbox: one route under ``/sandbox/stripe``.

It authenticates like Stripe, replays ``Idempotency-Key``s, checks parameters against the SDK's types
and dispatches to the resource modules.
"""

import base64
import binascii
import copy
import hashlib
import logging
import os
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request, Response, route
from litestar.params import FromPath
from stripe._encode import _api_encode

from gateway.sandbox import (
    catalog,
    checkout,
    customers,
    faults,
    invoices,
    portal_configurations,
    portal_sessions,
    subscriptions,
    webhook_endpoints,
)
from gateway.sandbox.core import API_VERSION, Call, Operation, Sandbox, dumps
from gateway.sandbox.errors import (
    StripeApiError,
    authentication_failed,
    idempotency_mismatch,
    unrecognized_url,
)
from gateway.sandbox.params import check
from gateway.sandbox.wire import Obj, decode_form, expand

logger = logging.getLogger(__name__)
PREFIX = "/sandbox/stripe"
OPERATIONS: list[Operation] = [
    *customers.OPERATIONS,
    *catalog.OPERATIONS,
    *subscriptions.OPERATIONS,
    *invoices.OPERATIONS,
    *portal_configurations.OPERATIONS,
    *portal_sessions.OPERATIONS,
    *webhook_endpoints.OPERATIONS,
    *checkout.OPERATIONS,
]


def _match(method: str, path: str) -> tuple[Operation, tuple[str, ...]]:
    for operation in OPERATIONS:
        if operation.method == method and (found := operation.pattern.match(path)):
            return operation, found.groups()
    raise unrecognized_url(method, path)


def secret_key_of(request: Request[Any, Any, Any]) -> str:
    """The key a request carries (``Bearer``, or Basic with the key as user name, as curl -u sends)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip()).decode("latin-1").partition(":")[0]
        except (binascii.Error, ValueError):
            return ""
    return ""


def authenticate(sandbox: Sandbox, request: Request[Any, Any, Any]) -> bool:
    """The mode of the request's key; Stripe's 401 for any other key."""
    key = secret_key_of(request)
    livemode = sandbox.store.livemode_of(key)
    if livemode is None:
        raise authentication_failed(key)
    return livemode


async def answer(sandbox: Sandbox, request: Request[Any, Any, Any]) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and extra headers for one API request."""
    method = request.method
    path = request.url.path.removeprefix(PREFIX)
    request_id = "req_" + os.urandom(7).hex()
    headers = {"Request-Id": request_id}
    key = request.headers.get("idempotency-key", "") if method == "POST" else ""
    try:
        if (fault := request.scope.get("state", {}).get("sandbox_fault")) is not None:
            raise fault
        livemode = authenticate(sandbox, request)
        operation, ids = _match(method, path)
        body = await request.body()
        query = body.decode("utf-8", "replace") if method == "POST" else request.url.query or ""
        raw = decode_form(parse_qsl(query, keep_blank_values=True))
        digest = hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()
        if key and (stored := sandbox.store.idempotency.get((livemode, key))) is not None:
            if stored[0] != digest:
                raise idempotency_mismatch(key)
            return stored[1], stored[2], {**headers, "Idempotency-Key": key, "Idempotent-Replayed": "true"}
        params = check(operation.spec, raw)
        base_url = sandbox.public_url or str(request.base_url).rstrip("/")
        call = Call(
            sandbox, livemode, params, ids, base_url, {"id": request_id, "idempotency_key": key or None}
        )
        status, payload = _run(operation, call)
        if method != "GET":
            sandbox.changed()
        if key:
            headers["Idempotency-Key"] = key
            if status < 500:  # noqa: PLR2004  (like Stripe, a server error may be retried for real)
                sandbox.store.remember_answer(livemode, key, digest, status, payload)
    except StripeApiError as exc:
        return exc.status, dumps(exc.body()), {**headers, **exc.headers}
    return status, payload, headers


def call_operation(sandbox: Sandbox, method: str, path: str, params: Obj, *, livemode: bool) -> Obj:
    """Run an API operation in-process, parameters encoded and checked as the SDK would send them."""
    operation, ids = _match(method, path)
    checked = check(operation.spec, decode_form(_api_encode(params)))
    call = Call(sandbox, livemode, checked, ids, sandbox.public_url, {"id": None, "idempotency_key": None})
    result = operation.handler(call)
    sandbox.changed()
    return result


def _run(operation: Operation, call: Call) -> tuple[int, bytes]:
    """Run a resource; its refusals are answers too (and are replayed under the same key)."""
    try:
        result = operation.handler(call)
        if paths := call.params.get("expand"):
            result = expand(copy.deepcopy(result), paths, call.store.find)
    except StripeApiError as exc:
        return exc.status, dumps(exc.body())
    except Exception:
        logger.exception("sandbox failed on %s", operation.template)
        error = StripeApiError("An unknown error occurred in the sandbox.", status=500, type_="api_error")
        return 500, dumps(error.body())
    return 200, dumps(result)


@route(
    f"{PREFIX}/{{path:path}}",
    http_method=["GET", "POST", "DELETE"],
    operation_id="sandboxStripeApi",
    tags=["sandbox"],
    summary="The sandbox's Stripe API",
    middleware=[faults.middleware],
    exclude_from_auth=True,
    include_in_schema=False,
    security=[],
)
async def stripe_api(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
    """Stripe's API, as far as the gateway uses it."""
    del path  # the dispatcher reads the whole path
    sandbox: Sandbox = request.app.state.sandbox
    status, body, headers = await answer(sandbox, request)
    version = request.headers.get("stripe-version") or API_VERSION
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={**headers, "Stripe-Version": version},
    )
