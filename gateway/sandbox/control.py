"""``/sandbox/control``: faults and the webhook delivery log over HTTP.

Each call carries the sandbox's secret key like a Stripe call: queue faults, clear them, read the log.
"""

import dataclasses
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import JSONBody

from gateway.sandbox.api import authenticate
from gateway.sandbox.core import Sandbox, dumps
from gateway.sandbox.errors import StripeApiError
from gateway.sandbox.faults import FaultKind

_OPTIONS: dict[str, Any] = {
    "exclude_from_auth": True,
    "include_in_schema": False,
    "security": [],
    "tags": ["sandbox"],
}


class FaultRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Make the next ``count`` Stripe calls matching ``path``/``method`` fail with ``kind``."""

    kind: FaultKind
    count: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1
    path: str = ""
    method: str = ""
    seconds: Annotated[float, msgspec.Meta(ge=0, le=600)] = 30.0


def _checked(request: Request[Any, Any, Any]) -> Sandbox | Response[bytes]:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        authenticate(sandbox, request)
    except StripeApiError as exc:
        return Response(dumps(exc.body()), status_code=exc.status, media_type="application/json")
    return sandbox


@post("/sandbox/control/faults", operation_id="sandboxAddFault", summary="Queue a fault", **_OPTIONS)
async def add_fault(request: Request[Any, Any, Any], data: JSONBody[FaultRequest]) -> Response[bytes]:
    """Queue a fault for the next matching Stripe calls."""
    sandbox = _checked(request)
    if isinstance(sandbox, Response):
        return sandbox
    sandbox.faults.add(data.kind, data.count, path=data.path, method=data.method, seconds=data.seconds)
    return Response(
        dumps({"ok": True, "pending": _pending(sandbox)}), status_code=201, media_type="application/json"
    )


@delete(
    "/sandbox/control/faults",
    operation_id="sandboxClearFaults",
    summary="Clear faults",
    status_code=200,
    **_OPTIONS,
)
async def clear_faults(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Drop every queued fault."""
    sandbox = _checked(request)
    if isinstance(sandbox, Response):
        return sandbox
    sandbox.faults.clear()
    return Response(dumps({"ok": True, "pending": []}), media_type="application/json")


@get(
    "/sandbox/control/deliveries",
    operation_id="sandboxDeliveries",
    summary="Webhook delivery log",
    **_OPTIONS,
)
async def deliveries(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Every webhook attempt so far, oldest first."""
    sandbox = _checked(request)
    if isinstance(sandbox, Response):
        return sandbox
    data = [dataclasses.asdict(attempt) for attempt in sandbox.sender.attempts]
    return Response(dumps({"ok": True, "data": data}), media_type="application/json")


def _pending(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [dict(fault.__dict__) for fault in sandbox.faults.pending()]


HANDLERS = [add_fault, clear_faults, deliveries]
