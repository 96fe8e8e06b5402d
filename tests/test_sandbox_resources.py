"""Customers, products and prices in the sandbox: stateful, looked up the ways the gateway looks."""

import pytest
import stripe

from tests.sandbox import SandboxServer


def test_customers_by_id_email_and_metadata_search(sandbox: SandboxServer) -> None:
    """Customers are found by ID, by exact email (any case) and by metadata search."""
    ada = sandbox.client.v1.customers.create(
        params={"email": "Ada@Example.com", "metadata": {"external_user_id": "u1"}}
    )
    sandbox.client.v1.customers.create(
        params={"email": "grace@example.com", "metadata": {"external_user_id": "u2"}}
    )
    assert sandbox.client.v1.customers.retrieve(ada.id).email == "Ada@Example.com"
    by_email = sandbox.client.v1.customers.list(params={"email": "ada@example.com"})
    assert [c.id for c in by_email.data] == [ada.id]
    found = sandbox.client.v1.customers.search(params={"query": "metadata['external_user_id']:'u1'"})
    assert [c.id for c in found.data] == [ada.id]
    assert found.object == "search_result"
    both = sandbox.client.v1.customers.search(
        params={"query": "email~'example' AND metadata['external_user_id']:'u2'"}
    )
    assert [c.email for c in both.data] == ["grace@example.com"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.customers.search(params={"query": "colour:'red'"})
    assert caught.value.param == "query"


def test_unknown_customer_is_resource_missing(sandbox: SandboxServer) -> None:
    """An unknown customer ID is Stripe's 404 ``resource_missing`` naming the parameter."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.customers.retrieve("cus_nope")
    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")
    assert "No such customer: 'cus_nope'" in str(caught.value)


def test_customer_update_merges_metadata(sandbox: SandboxServer) -> None:
    """Metadata keys merge, an empty value removes one; other fields change in place."""
    customer = sandbox.client.v1.customers.create(
        params={"email": "a@example.com", "metadata": {"a": "1", "b": "2"}}
    )
    updated = sandbox.client.v1.customers.update(
        customer.id, params={"name": "Ada", "metadata": {"b": "", "c": "3"}}
    )
    assert updated.metadata.to_dict() == {"a": "1", "c": "3"}
    assert updated.name == "Ada"
    with pytest.raises(stripe.InvalidRequestError):
        sandbox.client.v1.customers.update(customer.id, params={"metadata": {"k" * 41: "v"}})


def test_prices_by_lookup_keys(sandbox: SandboxServer) -> None:
    """``lookup_keys[]`` finds prices; a taken key is refused unless transferred."""
    seeded = sandbox.seed()
    found = sandbox.client.v1.prices.list(params={"lookup_keys": ["legacy_monthly", "legacy_annual"]})
    assert {p.lookup_key for p in found.data} == {"legacy_monthly", "legacy_annual"}
    assert {p.id for p in found.data} == {seeded.prices["legacy_monthly"], seeded.prices["legacy_annual"]}
    assert all(p.tax_behavior == "exclusive" and p.type == "recurring" for p in found.data)
    product = seeded.products["legacy"]
    params: dict = {
        "product": product,
        "currency": "usd",
        "unit_amount": 2100,
        "recurring": {"interval": "month"},
    }
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.prices.create(params={**params, "lookup_key": "legacy_monthly"})
    assert caught.value.param == "lookup_key"
    moved = sandbox.client.v1.prices.create(
        params={**params, "lookup_key": "legacy_monthly", "transfer_lookup_key": True}
    )
    again = sandbox.client.v1.prices.list(params={"lookup_keys": ["legacy_monthly"]})
    assert [p.id for p in again.data] == [moved.id]
    assert sandbox.client.v1.prices.retrieve(seeded.prices["legacy_monthly"]).lookup_key is None
    with pytest.raises(stripe.InvalidRequestError) as bad_interval:
        sandbox.client.v1.prices.create(params={**params, "recurring": {"interval": "fortnight"}})
    assert bad_interval.value.param == "recurring[interval]"


def test_price_filters_and_product_updates(sandbox: SandboxServer) -> None:
    """Prices list by product and type; products update and list by ``active``."""
    seeded = sandbox.seed()
    pro = sandbox.client.v1.prices.list(params={"product": seeded.products["pro"]})
    assert {p.lookup_key for p in pro.data} == {"pro_monthly", "pro_annual"}
    yearly = sandbox.client.v1.prices.list(params={"recurring": {"interval": "year"}, "limit": 100})
    assert {p.lookup_key for p in yearly.data} == {"starter_annual", "pro_annual", "legacy_annual"}
    sandbox.client.v1.products.update(seeded.products["legacy"], params={"active": False})
    active = sandbox.client.v1.products.list(params={"active": True})
    assert {p.name for p in active.data} == {"Starter", "Pro"}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.prices.create(
            params={"product": "prod_missing", "currency": "usd", "unit_amount": 1}
        )
    assert (caught.value.code, caught.value.param) == ("resource_missing", "product")
