"""The Stripe sandbox served alone on a real port, for tests: see ``tests/conftest.py`` (``sandbox``).

``SandboxServer`` is what the ``sandbox`` fixture yields:

* ``api_base`` (``http://127.0.0.1:PORT/sandbox/stripe``), ``secret_key`` (``sk_test_...``),
  ``live_secret_key`` (``sk_live_...``) and ``url`` (the server's base URL);
* ``client``: a ready ``stripe.StripeClient`` (sync and ``*_async`` methods) on that sandbox;
* ``seed()``: products with monthly/annual prices (lookup keys ``starter_*``, ``pro_*``,
  ``legacy_monthly``/``legacy_annual``) and customers with subscriptions, as a ``Seeded``;
* ``run(fn)``: run ``fn(sandbox)`` in the sandbox's own loop (in-process calls, ``Sandbox.call``);
* ``listen(url, events=["*"])``: register a webhook endpoint, return its ``whsec_`` secret;
* ``attempts`` / ``wait_for(predicate)``: the webhook delivery log, and waiting on it;
* ``faults``: ``faults.add("rate_limit"|"server_error"|"hang"|"reset", count, path=..., seconds=...)``;
* ``renew(subscription_id, fail=False)``: end the current period now (``invoice.paid`` or
  ``invoice.payment_failed``), cancel a subscription set to cancel at period end;
* ``sandbox``: the ``gateway.sandbox.core.Sandbox`` itself (read its ``store`` freely; change it only
  through ``run``).
"""

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe
from litestar import Litestar, Request, Response, post

from gateway.sandbox.app import create_sandbox_app
from gateway.sandbox.core import Sandbox
from gateway.sandbox.faults import Faults
from gateway.sandbox.seed import Seeded, seed
from gateway.sandbox.sender import Attempt
from tests.servers import serving

T = TypeVar("T")
#: Fast retries for tests: three more attempts within a second.
TEST_RETRY_SCHEDULE = (0.1, 0.2, 0.4)


@dataclass
class SandboxServer:
    """A running sandbox and the handles a test needs (see the module docstring)."""

    sandbox: Sandbox
    url: str
    client: stripe.StripeClient

    @property
    def api_base(self) -> str:
        return f"{self.url}/sandbox/stripe"

    @property
    def secret_key(self) -> str:
        return self.sandbox.secret_key

    @property
    def live_secret_key(self) -> str:
        return self.sandbox.live_secret_key

    @property
    def faults(self) -> Faults:
        return self.sandbox.faults

    @property
    def attempts(self) -> list[Attempt]:
        return list(self.sandbox.sender.attempts)

    def run(self, work: Callable[[Sandbox], T]) -> T:
        """``work(sandbox)`` in the sandbox's loop, so it never races the requests it serves."""
        loop = self.sandbox.sender.loop
        assert loop is not None, "the sandbox is not serving"
        done: Future[T] = Future()

        def call() -> None:
            try:
                done.set_result(work(self.sandbox))
            except Exception as exc:  # noqa: BLE001  (handed to the waiting test)
                done.set_exception(exc)

        loop.call_soon_threadsafe(call)
        return done.result(timeout=10)

    def seed(self) -> Seeded:
        """The seed data (see ``gateway.sandbox.seed``)."""
        return self.run(seed)

    def listen(self, url: str, events: list[str] | None = None) -> str:
        """Register a webhook endpoint for ``url``; its signing secret."""
        endpoint = self.run(
            lambda s: s.call("POST", "/v1/webhook_endpoints", {"url": url, "enabled_events": events or ["*"]})
        )
        return str(endpoint["secret"])

    def renew(self, subscription_id: str, *, fail: bool = False) -> dict[str, Any]:
        """End the subscription's current period now."""
        path = f"/v1/test_helpers/subscriptions/{subscription_id}/renew"
        return self.run(lambda s: s.call("POST", path, {"fail": fail} if fail else {}))

    async def wait_for(
        self, predicate: Callable[[list[Attempt]], bool], within: float = 30.0
    ) -> list[Attempt]:
        """Wait until the delivery log satisfies ``predicate``; the log."""
        deadline = time.monotonic() + within
        while not predicate(self.attempts):
            if time.monotonic() > deadline:
                msg = f"webhook deliveries never matched; log: {self.attempts}"
                raise AssertionError(msg)
            await asyncio.sleep(0.02)
        return self.attempts


@contextmanager
def serve_sandbox(retry_schedule: tuple[float, ...] = TEST_RETRY_SCHEDULE) -> Iterator[SandboxServer]:
    """A fresh sandbox on a free port."""
    sandbox = Sandbox(retry_schedule=retry_schedule, webhook_timeout=2.0)
    with serving(create_sandbox_app(sandbox)) as url:
        client = stripe.StripeClient(sandbox.secret_key, base_addresses={"api": f"{url}/sandbox/stripe"})
        try:
            yield SandboxServer(sandbox=sandbox, url=url, client=client)
        finally:
            sandbox.faults.closing = True  # hanging calls end, so the server can stop


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records what it gets and fails the first ``failures``."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        self.failures = 0
        self.url = ""

    def events(self, secret: str) -> list[stripe.Event]:
        """Every event received, each verified with the SDK as a gateway would."""
        return [stripe.Webhook.construct_event(body, header, secret) for body, header in self.received]


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A live ``Receiver`` (its ``url`` takes Stripe-style webhooks)."""
    state = Receiver()

    @post("/hook", status_code=200)
    async def hook(request: Request[Any, Any, Any]) -> Response[str]:
        if state.failures > 0:
            state.failures -= 1
            return Response("down", status_code=503)
        state.received.append((await request.body(), request.headers.get("stripe-signature", "")))
        return Response("ok")

    with serving(Litestar([hook])) as url:
        state.url = f"{url}/hook"
        yield state
