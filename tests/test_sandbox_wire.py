"""The sandbox speaks Stripe's wire protocol: the official SDK talks to it unchanged."""

from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from gateway.app import create_app
from tests.sandbox import SandboxServer
from tests.support import Database, make_settings

pytestmark = pytest.mark.anyio


def test_wrong_key_gets_stripes_401(sandbox: SandboxServer) -> None:
    """A key the account does not have is an AuthenticationError with the key masked."""
    client = stripe.StripeClient("sk_test_wrongwrongwrong1234", base_addresses={"api": sandbox.api_base})
    with pytest.raises(stripe.AuthenticationError) as caught:
        client.v1.customers.list()
    assert caught.value.http_status == 401
    assert "Invalid API Key provided: sk_test_" in str(caught.value)
    assert "wrongwrongwrong" not in str(caught.value)
    missing = httpx.get(f"{sandbox.api_base}/v1/customers")
    assert missing.status_code == 401
    assert "You did not provide an API key" in missing.json()["error"]["message"]


def test_nested_form_parameters_round_trip(sandbox: SandboxServer) -> None:
    """Nested ``a[b][0]=`` keys, metadata and booleans arrive as the SDK meant them."""
    product = sandbox.client.v1.products.create(params={"name": "Pro", "metadata": {"tier": "2"}})
    price = sandbox.client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "USD",
            "unit_amount": 2900,
            "recurring": {"interval": "month", "interval_count": 1},
            "lookup_key": "pro_monthly",
            "tax_behavior": "exclusive",
        }
    )
    assert price.recurring is not None
    assert (price.recurring.interval, price.currency, price.unit_amount) == ("month", "usd", 2900)
    assert product.metadata.to_dict() == {"tier": "2"}


def test_unknown_parameter_is_refused_with_its_name(sandbox: SandboxServer) -> None:
    """A parameter missing from the SDK's generated types is ``parameter_unknown``, naming it fully."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.billing_portal.configurations.create(
            params={"features": {"invoice_history": {"enabled": True, "colour": "red"}}}  # type: ignore[typeddict-unknown-key]
        )
    assert caught.value.code == "parameter_unknown"
    assert caught.value.param == "features[invoice_history][colour]"
    assert caught.value.http_status == 400


def test_enum_values_are_checked(sandbox: SandboxServer) -> None:
    """An enum value the API does not list is refused, with the allowed values in the message."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.billing_portal.configurations.create(
            params={"features": {"subscription_cancel": {"enabled": True, "mode": "whenever"}}}
        )
    assert caught.value.code == "parameter_invalid_enum"
    assert caught.value.param == "features[subscription_cancel][mode]"
    assert "at_period_end or immediately" in str(caught.value)


def test_missing_and_badly_typed_parameters(sandbox: SandboxServer) -> None:
    """Required parameters and integers are checked like Stripe checks them."""
    with pytest.raises(stripe.InvalidRequestError) as missing:
        sandbox.client.v1.billing_portal.configurations.create(params={})  # type: ignore[typeddict-item]
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "features")
    response = httpx.post(
        f"{sandbox.api_base}/v1/prices",
        data={"currency": "usd", "unit_amount": "lots", "product": "prod_x"},
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    )
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["param"]) == (
        400,
        "parameter_invalid_integer",
        "unit_amount",
    )
    empty = httpx.post(
        f"{sandbox.api_base}/v1/customers",
        data={"email": ""},
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    )
    assert empty.json()["error"]["code"] == "parameter_invalid_empty"


def test_idempotency_key_replays_and_refuses_other_parameters(sandbox: SandboxServer) -> None:
    """The same key and parameters answer the same object; other parameters get Stripe's 400."""
    first = sandbox.client.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "k1"}
    )
    again = sandbox.client.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "k1"}
    )
    assert again.id == first.id
    assert len(sandbox.client.v1.customers.list().data) == 1
    with pytest.raises(stripe.IdempotencyError):
        sandbox.client.v1.customers.create(
            params={"email": "b@example.com"}, options={"idempotency_key": "k1"}
        )


def test_lists_page_with_has_more_and_starting_after(sandbox: SandboxServer) -> None:
    """Lists are newest first, ``limit``-sized pages linked by ``starting_after``; the SDK can walk them."""
    made = [sandbox.client.v1.customers.create(params={"email": f"c{i}@example.com"}).id for i in range(5)]
    page = sandbox.client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in page.data] == made[::-1][:2]
    assert page.has_more is True
    following = sandbox.client.v1.customers.list(params={"limit": 2, "starting_after": page.data[-1].id})
    assert [c.id for c in following.data] == made[::-1][2:4]
    assert [c.id for c in page.auto_paging_iter()] == made[::-1]
    with pytest.raises(stripe.InvalidRequestError):
        sandbox.client.v1.customers.list(params={"limit": 101})


def test_expand_replaces_ids_with_objects(sandbox: SandboxServer) -> None:
    """``expand[]`` turns IDs into objects, through lists too."""
    product = sandbox.client.v1.products.create(params={"name": "Pro"})
    price = sandbox.client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 100,
            "recurring": {"interval": "month"},
        }
    )
    expanded = sandbox.client.v1.prices.retrieve(price.id, params={"expand": ["product"]})
    assert expanded.product.name == "Pro"  # type: ignore[union-attr]
    listed = sandbox.client.v1.prices.list(params={"expand": ["data.product"]})
    assert listed.data[0].product.id == product.id  # type: ignore[union-attr]
    assert sandbox.client.v1.prices.retrieve(price.id).product == product.id


def test_unknown_url_and_headers(sandbox: SandboxServer) -> None:
    """Unknown paths answer Stripe's 404; answers carry ``Request-Id`` and ``Stripe-Version``."""
    headers = {"Authorization": f"Bearer {sandbox.secret_key}", "Stripe-Version": "2026-10-28.endive"}
    response = httpx.delete(f"{sandbox.api_base}/v1/billing_portal/configurations/bpc_1", headers=headers)
    assert response.status_code == 404
    assert (
        "Unrecognized request URL (DELETE: /v1/billing_portal/configurations/bpc_1)"
        in response.json()["error"]["message"]
    )
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["stripe-version"] == "2026-10-28.endive"


def test_test_and_live_objects_do_not_mix(sandbox: SandboxServer) -> None:
    """An object made with the live key is missing to the test key, with Stripe's hint."""
    live = stripe.StripeClient(sandbox.live_secret_key, base_addresses={"api": sandbox.api_base})
    customer = live.v1.customers.create(params={"email": "live@example.com"})
    assert customer.livemode is True
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.customers.retrieve(customer.id)
    assert caught.value.code == "resource_missing"
    assert "a similar object exists in live mode, but a test mode key was used" in str(caught.value)


async def test_gateway_serves_the_sandbox_in_development(client: Any) -> None:
    """A development gateway mounts the sandbox at /sandbox/stripe, outside API-key auth and the schema."""
    sandbox = client.app.state.sandbox
    response = await client.get(
        "/sandbox/stripe/v1/customers", headers={"Authorization": f"Bearer {sandbox.secret_key}"}
    )
    assert response.status_code == 200
    assert response.json()["object"] == "list"
    refused = await client.get(
        "/sandbox/stripe/v1/customers", headers={"Authorization": "Bearer gw_test_nope"}
    )
    assert refused.status_code == 401
    assert "error" in refused.json()
    assert "/sandbox/stripe/{path}" not in client.app.openapi_schema.paths


def test_production_gateway_has_no_sandbox(tmp_path: Path) -> None:
    """With GATEWAY_ENV=production the sandbox routes are not mounted at all."""
    settings = make_settings(tmp_path, Database(url="sqlite+aiosqlite:///:memory:"), env="production")
    app = create_app(settings)
    assert not [r for r in app.routes if r.path.startswith("/sandbox")]


def test_curl_style_basic_auth_and_bracket_arrays(sandbox: SandboxServer) -> None:
    """``curl -u sk_test_...:`` and ``lookup_keys[]=`` work as they do against Stripe."""
    sandbox.seed()
    response = httpx.get(
        f"{sandbox.api_base}/v1/prices?lookup_keys[]=legacy_monthly&lookup_keys[]=pro_annual",
        auth=(sandbox.secret_key, ""),
    )
    assert response.status_code == 200
    assert {p["lookup_key"] for p in response.json()["data"]} == {"legacy_monthly", "pro_annual"}


def test_garbled_basic_auth_is_a_401(sandbox: SandboxServer) -> None:
    """An Authorization header that is not base64 is refused like a missing key, not a crash."""
    response = httpx.get(f"{sandbox.api_base}/v1/customers", headers={"Authorization": "Basic %%%"})
    assert response.status_code == 401
    assert "You did not provide an API key" in response.json()["error"]["message"]
