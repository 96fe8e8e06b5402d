"""Fault injection: the sandbox can answer 429 or 500, hang, or cut the connection on demand."""

import aiohttp
import httpx
import pytest
import stripe

from gateway.errors import StripeRateLimited, StripeUnavailable
from gateway.models import Workspace
from gateway.settings import Settings
from gateway.stripe_client import StripeClients, stripe_errors
from gateway.vault import Vault
from tests.sandbox import SandboxServer

pytestmark = pytest.mark.anyio


def _clients(sandbox: SandboxServer) -> tuple[StripeClients, Workspace]:
    vault = Vault(["k"])
    workspace = Workspace(
        id="ws_1",
        name="acme",
        stripe_key_enc=vault.encrypt(sandbox.secret_key),
        stripe_api_base=sandbox.api_base,
    )
    return StripeClients(Settings(secret_key="k"), vault), workspace


async def _list_customers(sandbox: SandboxServer) -> int:
    clients, workspace = _clients(sandbox)
    try:
        with stripe_errors():
            page = await clients.client_for(workspace).v1.customers.list_async()
        return len(page.data)
    finally:
        await clients.close()


async def test_rate_limit_reaches_the_gateway_as_stripe_rate_limited(sandbox: SandboxServer) -> None:
    """A 429 from Stripe becomes the gateway's ``stripe_rate_limited``; the next call succeeds."""
    sandbox.faults.add("rate_limit", 1, path="/v1/customers")
    with pytest.raises(StripeRateLimited):
        await _list_customers(sandbox)
    assert await _list_customers(sandbox) == 0
    assert sandbox.faults.injected == 1


async def test_server_errors_are_retried_by_the_sdk(sandbox: SandboxServer) -> None:
    """Two 500s are absorbed by the SDK's retries; three exhaust them."""
    sandbox.faults.add("server_error", 2)
    assert await _list_customers(sandbox) == 0
    sandbox.faults.add("server_error", 3)
    with pytest.raises(StripeUnavailable):
        await _list_customers(sandbox)
    assert sandbox.faults.injected == 5


async def test_connection_reset_and_path_matching(sandbox: SandboxServer) -> None:
    """A cut connection is a connection error; a fault for another path leaves this one alone."""
    sandbox.faults.add("reset", 1, path="/v1/billing_portal/sessions")
    assert await _list_customers(sandbox) == 0
    client = stripe.StripeClient(sandbox.secret_key, base_addresses={"api": sandbox.api_base})
    with pytest.raises(stripe.APIConnectionError):
        client.v1.billing_portal.sessions.create(params={"customer": "cus_x"})
    assert sandbox.faults.pending() == []


async def test_hang_outlasts_a_client_timeout(sandbox: SandboxServer) -> None:
    """A hanging call makes a client with a short timeout give up."""
    sandbox.faults.add("hang", 1, seconds=5)
    http = stripe.AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=0.3))
    client = stripe.StripeClient(
        sandbox.secret_key, base_addresses={"api": sandbox.api_base}, http_client=http
    )
    try:
        with pytest.raises(stripe.APIConnectionError):
            await client.v1.customers.list_async()
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]


def test_faults_over_http(sandbox: SandboxServer) -> None:
    """``/sandbox/control/faults`` queues and clears faults, with the sandbox's key."""
    auth = {"Authorization": f"Bearer {sandbox.secret_key}"}
    refused = httpx.post(f"{sandbox.url}/sandbox/control/faults", json={"kind": "rate_limit"})
    assert refused.status_code == 401
    bad = httpx.post(f"{sandbox.url}/sandbox/control/faults", json={"kind": "explode"}, headers=auth)
    assert bad.status_code == 400
    queued = httpx.post(
        f"{sandbox.url}/sandbox/control/faults",
        json={"kind": "server_error", "count": 2, "method": "GET"},
        headers=auth,
    )
    assert queued.status_code == 201
    assert queued.json()["pending"][0]["remaining"] == 2
    response = httpx.get(f"{sandbox.api_base}/v1/customers", headers=auth)
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "api_error"
    assert httpx.delete(f"{sandbox.url}/sandbox/control/faults", headers=auth).json()["pending"] == []
    assert httpx.get(f"{sandbox.api_base}/v1/customers", headers=auth).status_code == 200
