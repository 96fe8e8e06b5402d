"""The flat event envelope as the contract (PRODUCT.md, "Flat events out") spells it, key by key."""

from typing import Any

FLAT_EVENT_TYPES = (
    "subscription.created",
    "subscription.updated",
    "subscription.canceled",
    "subscription.paused",
    "subscription.resumed",
    "subscription.trial_ending",
    "invoice.paid",
    "invoice.payment_failed",
    "checkout.completed",
    "customer.updated",
)


def _dated(name: str) -> dict[str, type]:
    return {name: str, f"{name}_unix": int, f"{name}_ms": int}


FLAT_KEYS: dict[str, type] = {
    "schema_version": int,
    "event_id": str,
    "event_type": str,
    "stripe_event_id": str,
    "stripe_event_type": str,
    "workspace_id": str,
    "livemode": bool,
    **_dated("occurred_at"),
    "customer_id": str,
    "customer_email": str,
    "external_user_id": str,
    "subscription_id": str,
    "status": str,
    "previous_status": str,
    "is_active": bool,
    "price_id": str,
    "price_lookup_key": str,
    "product_id": str,
    "plan_interval": str,
    "quantity": int,
    "preset": str,
    "cancel_at_period_end": bool,
    **_dated("current_period_end"),
    **_dated("canceled_at"),
    **_dated("trial_end"),
    "invoice_id": str,
    "amount_paid": int,
    "currency": str,
    "subscription_version": int,
    "is_test": bool,
}


def assert_flat(body: dict[str, Any], event_type: str) -> None:
    """``body`` has exactly the contract's keys, each of its type, none null, dates consistent."""
    assert set(body) == set(FLAT_KEYS), set(body) ^ set(FLAT_KEYS)
    for key, kind in FLAT_KEYS.items():
        value = body[key]
        assert value is not None, key
        # bool is an int in Python: check it exactly.
        assert type(value) is kind, f"{key}: {type(value).__name__} is not {kind.__name__}"
    assert body["event_type"] == event_type
    assert body["event_id"].startswith("evt_gw_")
    for name in ("occurred_at", "current_period_end", "canceled_at", "trial_end"):
        seconds = body[f"{name}_unix"]
        assert body[f"{name}_ms"] == seconds * 1000
        assert (body[name] == "") == (seconds == 0), name
        if seconds:
            assert body[name].endswith("Z")
    assert body["occurred_at_unix"] > 0
