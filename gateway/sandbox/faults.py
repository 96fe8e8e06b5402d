"""Fault injection: the next N Stripe calls answer 429 or 500, hang, or lose their connection.

A fault may match a path prefix and a method, so tests can show how the gateway copes with a
misbehaving Stripe.

Set from a test through ``Sandbox.faults.add(...)`` or over HTTP with ``POST /sandbox/control/faults``.
"""

import asyncio
import threading
from dataclasses import dataclass
from typing import Any, Literal

from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.sandbox.errors import StripeApiError

FaultKind = Literal["rate_limit", "server_error", "hang", "reset"]
FAULT_KINDS: tuple[FaultKind, ...] = ("rate_limit", "server_error", "hang", "reset")
_POLL_S = 0.05


@dataclass
class Fault:
    """What to do to the next ``remaining`` matching calls."""

    kind: FaultKind
    remaining: int = 1
    #: Only calls whose path (``/v1/...``) starts with this; "" matches every call.
    path: str = ""
    #: Only calls of this method (``GET``, ``POST``, ``DELETE``); "" matches every method.
    method: str = ""
    #: How long a ``hang`` lasts before the call is answered normally.
    seconds: float = 30.0


class Faults:
    """Queued faults; safe to set from the test's thread while the sandbox serves in its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        #: How many calls were answered with a fault so far.
        self.injected = 0
        #: Set on shutdown so hanging calls end at once.
        self.closing = False

    def add(
        self, kind: FaultKind, count: int = 1, *, path: str = "", method: str = "", seconds: float = 30.0
    ) -> Fault:
        """Make the next ``count`` matching calls fail with ``kind``."""
        if kind not in FAULT_KINDS:
            msg = f"fault kind must be one of {', '.join(FAULT_KINDS)}"
            raise ValueError(msg)
        fault = Fault(kind=kind, remaining=count, path=path, method=method.upper(), seconds=seconds)
        with self._lock:
            self._queue.append(fault)
        return fault

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[Fault]:
        """The faults still queued."""
        with self._lock:
            return [f for f in self._queue if f.remaining > 0]

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this call, if one matches (counting it down)."""
        with self._lock:
            for fault in self._queue:
                if fault.remaining > 0 and path.startswith(fault.path) and fault.method in ("", method):
                    fault.remaining -= 1
                    self.injected += 1
                    self._queue = [f for f in self._queue if f.remaining > 0]
                    return fault
        return None


class ConnectionCut(Exception):
    """Raised after the response started: the server then drops the connection mid-answer."""


def stripe_fault(fault: Fault) -> StripeApiError | None:
    """The error answer for a 429 or 500 fault."""
    if fault.kind == "rate_limit":
        message = "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
        return StripeApiError(message, status=429, code="rate_limit")
    if fault.kind == "server_error":
        message = "An unknown error occurred (injected by the sandbox)."
        return StripeApiError(message, status=500, type_="api_error", headers={"Stripe-Should-Retry": "true"})
    return None


async def hang(faults: Faults, seconds: float) -> None:
    """Wait ``seconds`` (less if the sandbox shuts down)."""
    waited = 0.0
    while waited < seconds and not faults.closing:
        await asyncio.sleep(_POLL_S)
        waited += _POLL_S


async def cut_connection(send: Send) -> None:
    """Start an answer promising a body, then fail: the client sees the connection drop."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    raise ConnectionCut


def middleware(app: ASGIApp) -> ASGIApp:
    """ASGI middleware for the Stripe API routes: cuts connections before Litestar answers."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        sandbox: Any = scope["app"].state.sandbox
        path = scope["path"].removeprefix("/sandbox/stripe")
        fault: Fault | None = None
        if str(scope["type"]) == "http":
            fault = sandbox.faults.take(scope.get("method", ""), path)
        if fault is not None and fault.kind == "reset":
            await cut_connection(send)
        if fault is not None and fault.kind == "hang":
            await hang(sandbox.faults, fault.seconds)
        if fault is not None and (error := stripe_fault(fault)) is not None:
            scope.setdefault("state", {})["sandbox_fault"] = error
        await app(scope, receive, send)

    return wrapped
