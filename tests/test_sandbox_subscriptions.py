"""Subscriptions in the sandbox: single and multi item, price and quantity changes, cancellation."""

import pytest
import stripe

from gateway.sandbox.seed import Seeded
from tests.sandbox import SandboxServer


def _customer(sandbox: SandboxServer) -> str:
    return sandbox.client.v1.customers.create(params={"email": "sub@example.com"}).id


def test_create_single_item_with_periods_on_the_item(sandbox: SandboxServer) -> None:
    """A new subscription is active, invoiced, with its period on the item (current API)."""
    seeded = sandbox.seed()
    customer = _customer(sandbox)
    sub = sandbox.client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": seeded.prices["pro_monthly"], "quantity": 2}]}
    )
    assert sub.status == "active"
    item = sub["items"].data[0]
    assert (item.price.id, item.quantity, item.price.lookup_key) == (
        seeded.prices["pro_monthly"],
        2,
        "pro_monthly",
    )
    assert 28 * 86400 <= item.current_period_end - item.current_period_start <= 31 * 86400
    invoice = sandbox.client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert (invoice.status, invoice.amount_paid) == ("paid", 5800)
    assert [s.id for s in sandbox.client.v1.subscriptions.list(params={"customer": customer}).data] == [
        sub.id
    ]


def test_multi_item_rules(sandbox: SandboxServer) -> None:
    """Several items are fine when they share an interval; a one-time or repeated price is refused."""
    seeded = sandbox.seed()
    customer = _customer(sandbox)
    prices = seeded.prices
    sub = sandbox.client.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [{"price": prices["pro_monthly"]}, {"price": prices["starter_monthly"]}],
        }
    )
    assert len(sub["items"].data) == 2
    with pytest.raises(stripe.InvalidRequestError) as mixed:
        sandbox.client.v1.subscriptions.create(
            params={
                "customer": customer,
                "items": [{"price": prices["pro_monthly"]}, {"price": prices["pro_annual"]}],
            }
        )
    assert mixed.value.param == "items"
    with pytest.raises(stripe.InvalidRequestError) as twice:
        sandbox.client.v1.subscriptions.create(
            params={
                "customer": customer,
                "items": [{"price": prices["pro_monthly"]}, {"price": prices["pro_monthly"]}],
            }
        )
    assert twice.value.param == "items[1][price]"
    one_time = sandbox.client.v1.prices.create(
        params={"product": seeded.products["pro"], "currency": "usd", "unit_amount": 500}
    )
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.subscriptions.create(
            params={"customer": customer, "items": [{"price": one_time.id}]}
        )
    assert caught.value.param == "items[0][price]"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        sandbox.client.v1.subscriptions.create(
            params={"customer": "cus_nope", "items": [{"price": prices["pro_monthly"]}]}
        )
    assert (unknown.value.code, unknown.value.param) == ("resource_missing", "customer")


def test_update_price_and_quantity(sandbox: SandboxServer) -> None:
    """An item's price and quantity change in place; a refused update changes nothing."""
    seeded = sandbox.seed()
    sub_id = seeded.subscriptions["ada@example.com"]
    item = sandbox.client.v1.subscriptions.retrieve(sub_id)["items"].data[0]
    updated = sandbox.client.v1.subscriptions.update(
        sub_id, params={"items": [{"id": item.id, "price": seeded.prices["pro_annual"], "quantity": 4}]}
    )
    changed = updated["items"].data[0]
    assert (changed.id, changed.price.lookup_key, changed.quantity) == (item.id, "pro_annual", 4)
    assert changed.plan.interval == "year"
    with pytest.raises(stripe.InvalidRequestError):
        sandbox.client.v1.subscriptions.update(
            sub_id, params={"items": [{"id": item.id, "price": "price_nope"}]}
        )
    assert sandbox.client.v1.subscriptions.retrieve(sub_id)["items"].data[0].quantity == 4


def test_cancel_at_period_end_then_now(sandbox: SandboxServer) -> None:
    """Cancel at period end sets ``cancel_at``; cancel now ends it and hides it from the default list."""
    seeded = sandbox.seed()
    sub_id = seeded.subscriptions["grace@example.com"]
    later = sandbox.client.v1.subscriptions.update(sub_id, params={"cancel_at_period_end": True})
    assert later.cancel_at_period_end is True
    assert later.cancel_at == later["items"].data[0].current_period_end
    assert later.status == "active"
    canceled = sandbox.client.v1.subscriptions.cancel(sub_id)
    assert (canceled.status, canceled.ended_at is not None) == ("canceled", True)
    customer = seeded.customers["grace@example.com"]
    assert sandbox.client.v1.subscriptions.list(params={"customer": customer}).data == []
    everything = sandbox.client.v1.subscriptions.list(params={"customer": customer, "status": "all"})
    assert [s.id for s in everything.data] == [sub_id]
    with pytest.raises(stripe.InvalidRequestError):
        sandbox.client.v1.subscriptions.update(
            sub_id, params={"items": [{"price": seeded.prices["pro_monthly"]}]}
        )


def test_trial_pause_resume_and_renewal(sandbox: SandboxServer) -> None:
    """A trial ends on renewal; pause and resume flip the status; a declined renewal is past_due."""
    seeded: Seeded = sandbox.seed()
    trialing = sandbox.client.v1.subscriptions.retrieve(seeded.subscriptions["margaret@example.com"])
    assert trialing.status == "trialing"
    assert sandbox.renew(trialing.id)["status"] == "active"
    sub_id = seeded.subscriptions["ada@example.com"]
    assert sandbox.client.v1.subscriptions.pause(sub_id).status == "paused"
    assert sandbox.client.v1.subscriptions.resume(sub_id).status == "active"
    with pytest.raises(stripe.InvalidRequestError):
        sandbox.client.v1.subscriptions.resume(sub_id)
    assert sandbox.renew(sub_id, fail=True)["status"] == "past_due"
    failed = sandbox.client.v1.invoices.list(params={"subscription": sub_id, "status": "open"})
    assert len(failed.data) == 1
