"""Reading subscriptions of any API version into the mirror, and ordering states."""

import pytest

from gateway.mirror import MirrorState, is_newer, read_subscription
from tests import stripe_payloads as sp

PERIOD_END = 1_800_000_000


def read(
    obj: dict[str, object], event_type: str = "customer.subscription.updated", created: int = 100
) -> MirrorState:
    return read_subscription(obj, event_type=event_type, event_id="evt_1", created=created)


@pytest.mark.parametrize("shape", ["items", "subscription", "plan"])
def test_every_api_shape_reads_the_same(shape: sp.Shape) -> None:
    """Period on the items (basil+) or on the subscription, price as price or plan: the same state."""
    state = read(
        sp.subscription(
            status="trialing",
            price_id="price_A",
            lookup_key="pro_monthly",
            quantity=3,
            period_end=PERIOD_END,
            trial_end=PERIOD_END - 5,
            shape=shape,
        )
    )
    assert (state.subscription_id, state.customer_id, state.status) == ("sub_1", "cus_1", "trialing")
    assert (state.price_id, state.product_id, state.plan_interval, state.quantity) == (
        "price_A",
        "prod_Pro",
        "month",
        3,
    )
    assert state.current_period_end == PERIOD_END
    assert state.trial_end == PERIOD_END - 5
    assert state.items == [
        {
            "price_id": "price_A",
            # a plan (API before 2018-02-05) has no lookup key
            "price_lookup_key": "" if shape == "plan" else "pro_monthly",
            "product_id": "prod_Pro",
            "plan_interval": "month",
            "quantity": 3,
            "current_period_end": PERIOD_END,
        }
    ]


def test_single_plan_subscription_from_before_items() -> None:
    """A subscription with ``plan`` and ``quantity`` on itself and no items (API before 2018)."""
    obj = {
        "id": "sub_old",
        "customer": "cus_1",
        "status": "active",
        "quantity": 2,
        "current_period_end": PERIOD_END,
        "plan": {"id": "gold", "object": "plan", "interval": "year", "product": "prod_G"},
    }
    state = read(obj)
    assert (state.price_id, state.plan_interval, state.quantity, state.current_period_end) == (
        "gold",
        "year",
        2,
        PERIOD_END,
    )


def test_expanded_customer_and_product_are_read_as_ids() -> None:
    """A re-fetched subscription with the customer (and a product) expanded still yields IDs."""
    obj = sp.subscription(customer={"id": "cus_X", "object": "customer", "email": "a@b.c"})
    obj["items"]["data"][0]["price"]["product"] = {"id": "prod_X", "object": "product"}
    state = read(obj)
    assert (state.customer_id, state.product_id) == ("cus_X", "prod_X")


def test_deleted_is_canceled_whatever_the_object_says() -> None:
    """customer.subscription.deleted always means canceled, at the event's time if Stripe gives none."""
    state = read(sp.subscription(status="active"), event_type="customer.subscription.deleted", created=1234)
    assert (state.status, state.canceled_at, state.cancel_at_period_end) == ("canceled", 1234, False)


def test_flexible_billing_cancel_at_counts_as_cancel_at_period_end() -> None:
    """Flexible billing mode schedules the end with ``cancel_at``: the flat flag still says it ends."""
    assert read(sp.subscription(cancel_at=PERIOD_END)).cancel_at_period_end is True
    assert read(sp.subscription(cancel_at_period_end=True)).cancel_at_period_end is True
    assert read(sp.subscription()).cancel_at_period_end is False


def test_nulls_and_missing_fields_become_empty_values() -> None:
    """Stripe's nulls (no lookup key, no trial) are "" and 0, never None."""
    state = read(sp.subscription(lookup_key=None) | {"trial_end": None, "canceled_at": None})
    assert (state.price_lookup_key, state.trial_end, state.canceled_at) == ("", 0, 0)
    bare = read({"id": "sub_2", "customer": None})
    assert (bare.status, bare.customer_id, bare.price_id, bare.quantity) == ("", "", "", 0)


@pytest.mark.parametrize(
    ("stored", "incoming", "newer"),
    [
        (
            (100, "customer.subscription.updated", "active"),
            (101, "customer.subscription.created", "incomplete"),
            True,
        ),
        (
            (101, "customer.subscription.updated", "active"),
            (100, "customer.subscription.updated", "past_due"),
            False,
        ),
        (
            (100, "customer.subscription.updated", "active"),
            (100, "customer.subscription.created", "active"),
            False,
        ),
        (
            (100, "customer.subscription.created", "incomplete"),
            (100, "customer.subscription.updated", "active"),
            True,
        ),
        (
            (100, "customer.subscription.updated", "active"),
            (100, "customer.subscription.updated", "incomplete"),
            False,
        ),
        (
            (100, "customer.subscription.deleted", "canceled"),
            (100, "customer.subscription.updated", "active"),
            False,
        ),
        (
            (100, "customer.subscription.updated", "active"),
            (100, "customer.subscription.updated", "active"),
            True,
        ),
    ],
    ids=[
        "later-second",
        "earlier-second",
        "created-after-updated",
        "updated-after-created",
        "status-goes-back",
        "updated-after-deleted",
        "exact-tie-later-wins",
    ],
)
def test_ordering(stored: tuple[int, str, str], incoming: tuple[int, str, str], newer: bool) -> None:
    """created, then the event type within one second, then the status decide which state is newer."""

    def state(created: int, event_type: str, status: str) -> MirrorState:
        return MirrorState(
            subscription_id="sub_1",
            customer_id="cus_1",
            status=status,
            stripe_created=created,
            stripe_event_type=event_type,
        )

    assert is_newer(state(*incoming), state(*stored)) is newer
