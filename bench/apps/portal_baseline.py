"""Baseline for the portal path: a bare Litestar handler doing the same work with nothing around it.

It checks a hashed API key inline and makes the same ``billing_portal.sessions.create_async`` call
with the official SDK on ``AIOHTTPClient`` (same retries) against the same Stripe stand-in, then
answers with the contract's keys. Configured by ``BENCH_*`` variables (see ``bench.scenarios``).
"""

import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import stripe
from litestar import Litestar, Request, post
from litestar.exceptions import NotAuthorizedException

logging.getLogger("stripe").setLevel(logging.WARNING)

KEYS = {
    hashlib.sha256(line.strip().encode()).hexdigest()
    for line in Path(os.environ["BENCH_KEYS"]).read_text().splitlines()
    if line.strip()
}
CONFIGURATION = os.environ.get("BENCH_CONFIGURATION", "bpc_bench_baseline")
RETURN_URL = "https://app.example.test/account"
CLIENT: dict[str, stripe.StripeClient] = {}


class PortalRequest(msgspec.Struct, kw_only=True):
    """The same body the gateway gets."""

    customer: str
    preset: str = "default"


@post("/v1/portal-sessions", status_code=200)
async def portal_session(request: Request[Any, Any, Any], data: PortalRequest) -> dict[str, Any]:
    """A portal URL: key check, one SDK call, the contract's answer."""
    raw = request.headers.get("authorization", "").removeprefix("Bearer ")
    if hashlib.sha256(raw.encode()).hexdigest() not in KEYS:
        raise NotAuthorizedException
    session = await CLIENT["stripe"].v1.billing_portal.sessions.create_async(
        params={"customer": data.customer, "configuration": CONFIGURATION, "return_url": RETURN_URL}
    )
    expires = session.created + 300
    return {
        "ok": True,
        "url": session.url,
        "session_id": session.id,
        "preset": data.preset,
        "configuration_id": session.configuration,
        "customer_id": session.customer,
        "flow": "",
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
        "expires_at_unix": expires,
        "livemode": session.livemode,
        "request_id": "req_baseline",
    }


@asynccontextmanager
async def _stripe(_: Litestar) -> AsyncIterator[None]:
    http_client = stripe.AIOHTTPClient()
    CLIENT["stripe"] = stripe.StripeClient(
        os.environ["BENCH_STRIPE_KEY"],
        http_client=http_client,
        max_network_retries=2,
        base_addresses={"api": os.environ["BENCH_STRIPE_BASE"]},
    )
    try:
        yield
    finally:
        await http_client.close_async()  # type: ignore[no-untyped-call]


app = Litestar([portal_session], lifespan=[_stripe], debug=False)
