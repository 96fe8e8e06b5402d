"""Billing portal configurations and sessions in the sandbox, with the rules Stripe enforces."""

from typing import Any

import pytest
import stripe

from gateway.sandbox.seed import Seeded
from tests.sandbox import SandboxServer


def _features(products: Any) -> dict[str, Any]:
    return {
        "invoice_history": {"enabled": True},
        "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
        "subscription_update": {"enabled": True, "default_allowed_updates": ["price"], "products": products},
    }


def _legacy(seeded: Seeded) -> list[dict[str, Any]]:
    prices = [seeded.prices["legacy_monthly"], seeded.prices["legacy_annual"]]
    return [{"product": seeded.products["legacy"], "prices": prices}]


def _refused(sandbox: SandboxServer, params: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.billing_portal.configurations.create(params=params)
    return caught.value


def test_configuration_create_update_retrieve_list(sandbox: SandboxServer) -> None:
    """A configuration is created, updated in place (metadata, ``active``), retrieved and listed."""
    seeded = sandbox.seed()
    created = sandbox.client.v1.billing_portal.configurations.create(
        params={
            "business_profile": {"headline": "Manage your legacy plan"},
            "features": _features(_legacy(seeded)),
            "metadata": {"gateway_preset": "legacy", "gateway_hash": "h1"},
        }
    )
    assert created.id.startswith("bpc_")
    assert (created.active, created.is_default, created.livemode) == (True, False, False)
    products = created.features.subscription_update.products
    assert products is not None
    assert products[0].prices == [seeded.prices["legacy_monthly"], seeded.prices["legacy_annual"]]
    updated = sandbox.client.v1.billing_portal.configurations.update(
        created.id, params={"metadata": {"gateway_hash": "h2"}, "active": False}
    )
    assert updated.metadata.to_dict() == {"gateway_preset": "legacy", "gateway_hash": "h2"}
    assert sandbox.client.v1.billing_portal.configurations.retrieve(created.id).active is False
    inactive = sandbox.client.v1.billing_portal.configurations.list(params={"active": False})
    assert [c.id for c in inactive.data] == [created.id]
    assert sandbox.client.v1.billing_portal.configurations.list(params={"active": True}).data == []


def test_configuration_rules(sandbox: SandboxServer) -> None:
    """Stripe's rules: products needed when updates are on, at most 10, recurring, one per interval,
    prices of the named product, a short headline, known IDs."""
    seeded = sandbox.seed()
    missing = _refused(sandbox, {"features": _features("")})
    assert (missing.code, missing.param) == ("parameter_missing", "features[subscription_update][products]")
    pro, legacy = seeded.products["pro"], seeded.products["legacy"]
    monthly = [seeded.prices["legacy_monthly"]]
    too_many = _refused(sandbox, {"features": _features([{"product": legacy, "prices": monthly}] * 11)})
    assert too_many.param == "features[subscription_update][products]"
    one_time = sandbox.client.v1.prices.create(
        params={"product": legacy, "currency": "usd", "unit_amount": 100}
    )
    recurring = _refused(sandbox, {"features": _features([{"product": legacy, "prices": [one_time.id]}])})
    assert recurring.param == "features[subscription_update][products][0][prices][0]"
    second_monthly = sandbox.client.v1.prices.create(
        params={"product": legacy, "currency": "usd", "unit_amount": 999, "recurring": {"interval": "month"}}
    )
    same_interval = _refused(
        sandbox, {"features": _features([{"product": legacy, "prices": [*monthly, second_monthly.id]}])}
    )
    assert "same interval" in str(same_interval)
    wrong_product = _refused(sandbox, {"features": _features([{"product": pro, "prices": monthly}])})
    assert wrong_product.param == "features[subscription_update][products][0][prices][0]"
    headline = _refused(
        sandbox,
        {"business_profile": {"headline": "x" * 61}, "features": {"invoice_history": {"enabled": True}}},
    )
    assert headline.param == "business_profile[headline]"
    unknown = _refused(sandbox, {"features": _features([{"product": legacy, "prices": ["price_nope"]}])})
    assert (unknown.code, unknown.param) == (
        "resource_missing",
        "features[subscription_update][products][0][prices][0]",
    )
    assert sandbox.client.v1.billing_portal.configurations.list().data == []


def test_refused_update_changes_nothing(sandbox: SandboxServer) -> None:
    """An update that breaks a rule leaves the configuration as it was."""
    created = sandbox.client.v1.billing_portal.configurations.create(
        params={"features": {"invoice_history": {"enabled": True}}}
    )
    with pytest.raises(stripe.InvalidRequestError):
        sandbox.client.v1.billing_portal.configurations.update(
            created.id,
            params={"features": {"subscription_update": {"enabled": True}}, "metadata": {"x": "1"}},
        )
    again = sandbox.client.v1.billing_portal.configurations.retrieve(created.id)
    assert (again.features.subscription_update.enabled, again.metadata.to_dict()) == (False, {})


def test_session_needs_a_configuration_or_a_default(sandbox: SandboxServer) -> None:
    """No ``configuration`` and no default: Stripe's message; with one: a URL to the portal page."""
    seeded = sandbox.seed()
    customer = seeded.customers["ada@example.com"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.billing_portal.sessions.create(
            params={"customer": customer, "return_url": "https://app.example/a"}
        )
    assert "your test mode default configuration has not been created" in str(caught.value)
    configuration = sandbox.client.v1.billing_portal.configurations.create(
        params={"features": _features(_legacy(seeded))}
    )
    session = sandbox.client.v1.billing_portal.sessions.create(
        params={
            "customer": customer,
            "configuration": configuration.id,
            "return_url": "https://app.example/a",
            "locale": "auto",
        }
    )
    assert session.id.startswith("bps_")
    assert session.url.startswith(f"{sandbox.url}/sandbox/portal/test_")
    assert (session.configuration, session.customer, session.return_url) == (
        configuration.id,
        customer,
        "https://app.example/a",
    )
    with pytest.raises(stripe.InvalidRequestError) as no_return:
        sandbox.client.v1.billing_portal.sessions.create(
            params={"customer": customer, "configuration": configuration.id}
        )
    assert no_return.value.param == "return_url"


def test_session_errors_like_stripe(sandbox: SandboxServer) -> None:
    """Unknown customer or configuration, an inactive configuration, a bad locale, a live customer."""
    seeded = sandbox.seed()
    customer = seeded.customers["ada@example.com"]
    configuration = sandbox.client.v1.billing_portal.configurations.create(
        params={"features": _features(_legacy(seeded)), "default_return_url": "https://app.example/"}
    )
    sessions = sandbox.client.v1.billing_portal.sessions
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"customer": "cus_nope", "configuration": configuration.id}, "resource_missing", "customer"),
        ({"customer": customer, "configuration": "bpc_nope"}, "resource_missing", "configuration"),
        (
            {"customer": customer, "configuration": configuration.id, "locale": "xx"},
            "parameter_invalid_enum",
            "locale",
        ),
    ]
    for params, code, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            sessions.create(params=params)
        assert (caught.value.code, caught.value.param) == (code, param)
    live = stripe.StripeClient(sandbox.live_secret_key, base_addresses={"api": sandbox.api_base})
    live_customer = live.v1.customers.create(params={"email": "live@example.com"})
    with pytest.raises(stripe.InvalidRequestError) as mixed:
        sessions.create(params={"customer": live_customer.id, "configuration": configuration.id})
    assert "a similar object exists in live mode" in str(mixed.value)
    sandbox.client.v1.billing_portal.configurations.update(configuration.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError) as inactive:
        sessions.create(params={"customer": customer, "configuration": configuration.id})
    assert inactive.value.param == "configuration"


def test_session_flow_deep_links_are_checked(sandbox: SandboxServer) -> None:
    """``flow_data``: the subscription must be the customer's, the feature on, the price configured."""
    seeded = sandbox.seed()
    customer = seeded.customers["grace@example.com"]
    sub = sandbox.client.v1.subscriptions.retrieve(seeded.subscriptions["grace@example.com"])
    item = sub["items"].data[0]
    configuration = sandbox.client.v1.billing_portal.configurations.create(
        params={"features": _features(_legacy(seeded)), "default_return_url": "https://app.example/"}
    )
    base = {"customer": customer, "configuration": configuration.id}
    confirm = {
        "type": "subscription_update_confirm",
        "subscription_update_confirm": {
            "subscription": sub.id,
            "items": [{"id": item.id, "price": seeded.prices["legacy_annual"]}],
        },
    }
    session = sandbox.client.v1.billing_portal.sessions.create(params={**base, "flow_data": confirm})
    assert session.flow is not None
    assert session.flow.type == "subscription_update_confirm"
    bad_price = {
        **confirm,
        "subscription_update_confirm": {
            "subscription": sub.id,
            "items": [{"id": item.id, "price": seeded.prices["pro_annual"]}],
        },
    }
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.billing_portal.sessions.create(params={**base, "flow_data": bad_price})
    assert "does not include the price in its `features[subscription_update][products]`" in str(caught.value)
    no_change = {
        **confirm,
        "subscription_update_confirm": {
            "subscription": sub.id,
            "items": [{"id": item.id, "price": item.price.id}],
        },
    }
    with pytest.raises(stripe.InvalidRequestError) as unchanged:
        sandbox.client.v1.billing_portal.sessions.create(params={**base, "flow_data": no_change})
    assert "no changes to confirm" in str(unchanged.value)
    other = {
        "type": "subscription_cancel",
        "subscription_cancel": {"subscription": seeded.subscriptions["ada@example.com"]},
    }
    with pytest.raises(stripe.InvalidRequestError) as not_theirs:
        sandbox.client.v1.billing_portal.sessions.create(params={**base, "flow_data": other})
    assert not_theirs.value.param == "flow_data[subscription_cancel][subscription]"
    cancel_off = sandbox.client.v1.billing_portal.configurations.create(
        params={
            "features": {"invoice_history": {"enabled": True}},
            "default_return_url": "https://app.example/",
        }
    )
    cancel = {"type": "subscription_cancel", "subscription_cancel": {"subscription": sub.id}}
    with pytest.raises(stripe.InvalidRequestError) as disabled:
        sandbox.client.v1.billing_portal.sessions.create(
            params={"customer": customer, "configuration": cancel_off.id, "flow_data": cancel}
        )
    assert "subscription cancel feature in the portal configuration is disabled" in str(disabled.value)
