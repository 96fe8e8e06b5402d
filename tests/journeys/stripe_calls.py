"""A sandbox that records every Stripe call it receives: what "one Stripe call per portal URL" counts."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe

from gateway.sandbox.app import create_sandbox_app
from gateway.sandbox.core import Sandbox
from tests.sandbox import TEST_RETRY_SCHEDULE, SandboxServer
from tests.servers import serving


class StripeCalls(list[tuple[str, str]]):
    """``(method, path)`` of each Stripe API call, e.g. ``("POST", "/v1/billing_portal/sessions")``."""

    def count(self, method_path: Any) -> int:  # type: ignore[override]
        """How many calls of one ``"METHOD /path"`` (a prefix of the path)."""
        method, _, path = str(method_path).partition(" ")
        return sum(1 for m, p in self if m == method and p.startswith(path))


def _recording(app: Any, calls: StripeCalls) -> Any:
    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/sandbox/stripe/"):
            calls.append((scope["method"], scope["path"].removeprefix("/sandbox/stripe")))
        await app(scope, receive, send)

    return recorded


@contextmanager
def recorded_sandbox(calls: StripeCalls) -> Iterator[SandboxServer]:
    """A fresh sandbox on a free port whose Stripe API calls are appended to ``calls``."""
    sandbox = Sandbox(retry_schedule=TEST_RETRY_SCHEDULE, webhook_timeout=2.0)
    with serving(_recording(create_sandbox_app(sandbox), calls)) as url:
        client = stripe.StripeClient(sandbox.secret_key, base_addresses={"api": f"{url}/sandbox/stripe"})
        try:
            yield SandboxServer(sandbox=sandbox, url=url, client=client)
        finally:
            sandbox.faults.closing = True
