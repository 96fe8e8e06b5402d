"""Every way a portal request fails, against the sandbox: the contract's code, a helpful message, the
success keys (empty) in the body, and no Stripe call where the gateway can know better."""

from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.sandbox.seed import Seeded
from gateway.vault import Vault
from tests.journeys.stripe_calls import StripeCalls
from tests.sandbox import SandboxServer
from tests.support import Database, Tenant, assert_error, make_settings, make_tenant

pytestmark = pytest.mark.anyio

SUCCESS_KEYS = {
    "url",
    "session_id",
    "preset",
    "configuration_id",
    "customer_id",
    "flow",
    "expires_at",
    "expires_at_unix",
    "livemode",
}


@pytest.fixture
def seeded(sandbox: SandboxServer) -> Seeded:
    return sandbox.seed()


async def _fail(
    client: AsyncTestClient[Litestar], tenant: Tenant, status: int, code: str, **body: Any
) -> dict[str, Any]:
    headers = body.pop("headers", tenant.headers("portal"))
    response = await client.post("/v1/portal-sessions", json=body, headers=headers)
    result = assert_error(response, status, code)
    assert set(result) >= SUCCESS_KEYS, "errors carry the success keys"
    assert result["url"] == ""
    return result


async def test_unknown_customer_id(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """A customer Stripe does not know is customer_not_found, with Stripe's words."""
    body = await _fail(client, sandbox_tenant, 404, "customer_not_found", customer="cus_nobody")
    assert "cus_nobody" in body["error_message"]


async def test_live_customer_with_a_test_key(
    client: AsyncTestClient[Litestar], sandbox: SandboxServer, sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """A live-mode customer asked for by a test workspace says so (Stripe's "similar object" hint)."""
    live = sandbox.run(lambda s: s.call("POST", "/v1/customers", {"email": "l@example.com"}, livemode=True))
    body = await _fail(client, sandbox_tenant, 404, "customer_not_found", customer=live["id"])
    assert "a similar object exists in live mode" in body["error_message"]


async def test_no_customer_by_email_or_user_id(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """Nobody with that email or external user ID: customer_not_found naming what was looked for."""
    body = await _fail(client, sandbox_tenant, 404, "customer_not_found", email="nobody@example.com")
    assert "nobody@example.com" in body["error_message"]
    body = await _fail(client, sandbox_tenant, 404, "customer_not_found", external_user_id="usr_nobody")
    assert "usr_nobody" in body["error_message"]


async def test_several_customers_with_one_email(
    client: AsyncTestClient[Litestar], sandbox: SandboxServer, sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """Two Stripe customers share the email: customer_ambiguous, asking for the ID instead."""
    sandbox.client.v1.customers.create(params={"email": "ada@example.com"})
    body = await _fail(client, sandbox_tenant, 409, "customer_ambiguous", email="ada@example.com")
    assert "customer ID" in body["error_message"]


async def test_unknown_lookup_key_is_preset_invalid_before_any_configuration(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded, stripe_calls: StripeCalls
) -> None:
    """A preset whose lookup key has no price here is preset_invalid; no configuration is attempted."""
    gold = {
        "features": {
            "payment_method_update": {"enabled": True},
            "subscription_update": {
                "enabled": True,
                "default_allowed_updates": ["price"],
                "products": [{"prices_by_lookup_key": ["gold_monthly"]}],
            },
        }
    }
    assert (
        await client.put("/v1/presets/gold", json=gold, headers=sandbox_tenant.headers())
    ).status_code == 201
    body = await _fail(
        client,
        sandbox_tenant,
        422,
        "preset_invalid",
        customer=seeded.customers["ada@example.com"],
        preset="gold",
    )
    assert "'gold_monthly'" in body["error_message"]
    assert "[lookup-key]" in body["error_message"]
    assert stripe_calls.count("POST /v1/billing_portal") == 0


async def test_stripe_refusal_is_stripe_error(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """Stripe refusing the session (an unknown subscription to cancel) is stripe_error with its message."""
    body = await _fail(
        client,
        sandbox_tenant,
        400,
        "stripe_error",
        customer=seeded.customers["ada@example.com"],
        flow="subscription_cancel",
        subscription="sub_nope",
    )
    assert "sub_nope" in body["error_message"]


async def test_wrong_stripe_key(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    sandbox: SandboxServer,
    seeded: Seeded,
) -> None:
    """A workspace whose Stripe key Stripe refuses answers stripe_auth_failed, never echoing the key."""
    settings = client.app.state.settings
    tenant = await make_tenant(
        db, vault, settings, "rolled", stripe_key="sk_test_rolledkey0000", api_base=sandbox.api_base
    )
    body = await _fail(
        client, tenant, 502, "stripe_auth_failed", customer=seeded.customers["ada@example.com"]
    )
    assert "sk_test" not in body["error_message"]


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("rate_limit", 503, "stripe_rate_limited"), ("server_error", 503, "stripe_unavailable")],
)
async def test_stripe_trouble(
    *,
    client: AsyncTestClient[Litestar],
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    seeded: Seeded,
    fault: str,
    status: int,
    code: str,
) -> None:
    """Stripe rate limiting or failing (after the SDK's retries) maps to the contract's codes."""
    ada = seeded.customers["ada@example.com"]
    await client.post("/v1/portal-sessions", json={"customer": ada}, headers=sandbox_tenant.headers("portal"))
    sandbox.faults.add(fault, 3, path="/v1/billing_portal/sessions")  # type: ignore[arg-type]
    await _fail(client, sandbox_tenant, status, code, customer=ada)


async def test_idempotency_key_reused_for_another_request(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """The same Idempotency-Key with another body is idempotency_conflict."""
    headers = {**sandbox_tenant.headers("portal"), "Idempotency-Key": "k1"}
    ada, grace = seeded.customers["ada@example.com"], seeded.customers["grace@example.com"]
    assert (
        await client.post("/v1/portal-sessions", json={"customer": ada}, headers=headers)
    ).status_code == 200
    await _fail(client, sandbox_tenant, 409, "idempotency_conflict", customer=grace, headers=headers)


async def test_missing_key(client: AsyncTestClient[Litestar], sandbox_tenant: Tenant) -> None:
    """No API key: unauthorized, in the same shape."""
    await _fail(client, sandbox_tenant, 401, "unauthorized", customer="cus_1", headers={})


async def test_rate_limited(
    tmp_path: Path, database: Database, sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """Past the key's rate: rate_limited with Retry-After, in the same shape."""
    settings = make_settings(tmp_path, database, rate_limit=(2, 60.0))
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as client:
        body = {"customer": seeded.customers["ada@example.com"], "dry_run": True}
        for _ in range(2):
            await client.post("/v1/portal-sessions", json=body, headers=sandbox_tenant.headers("portal"))
        response = await client.post(
            "/v1/portal-sessions", json=body, headers=sandbox_tenant.headers("portal")
        )
        result = assert_error(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) > 0
        assert set(result) >= SUCCESS_KEYS
