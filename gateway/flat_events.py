"""The flat event: one envelope for every type, every key always present, never null.

A receiver (a Bubble backend workflow, a Zapier catch hook) learns the shape once, from a sample,
so every event type carries every key, absent values are ``""``, ``0`` or ``false``, and every
moment comes three ways: ISO 8601 UTC, Unix seconds and Unix milliseconds.
"""

from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.customers import CustomerState
from gateway.mirror import MirrorState
from gateway.timestamps import iso_of_unix

SCHEMA_VERSION = 1

#: Stripe event type -> the flat event type it becomes (types not listed are stored, not forwarded).
FLAT_TYPES: dict[str, str] = {
    "customer.subscription.created": "subscription.created",
    "customer.subscription.updated": "subscription.updated",
    "customer.subscription.pending_update_applied": "subscription.updated",
    "customer.subscription.deleted": "subscription.canceled",
    "customer.subscription.paused": "subscription.paused",
    "customer.subscription.resumed": "subscription.resumed",
    "customer.subscription.trial_will_end": "subscription.trial_ending",
    "invoice.paid": "invoice.paid",
    "invoice.payment_failed": "invoice.payment_failed",
    "checkout.session.completed": "checkout.completed",
    "customer.updated": "customer.updated",
}

#: Every flat event type, in the order documentation lists them.
EVENT_TYPES: tuple[str, ...] = tuple(dict.fromkeys(FLAT_TYPES.values()))

#: Statuses in which the customer has what they pay for (``past_due`` is not one: payment failed).
ACTIVE_STATUSES = frozenset({"active", "trialing"})


class FlatEvent(msgspec.Struct, kw_only=True):
    """The body every subscriber receives (unless it asked for Stripe's own event).

    No field has a default: building one without every key is an error, not a silent gap.
    """

    schema_version: int
    #: ``evt_gw_...``: the receiver's de-duplication key.
    event_id: str
    event_type: str
    stripe_event_id: str
    stripe_event_type: str
    workspace_id: str
    livemode: bool
    occurred_at: str
    occurred_at_unix: int
    occurred_at_ms: int
    customer_id: str
    customer_email: str
    external_user_id: str
    subscription_id: str
    status: str
    previous_status: str
    is_active: bool
    price_id: str
    price_lookup_key: str
    product_id: str
    plan_interval: str
    quantity: int
    #: The preset ``auto`` would pick for this subscription.
    preset: str
    cancel_at_period_end: bool
    current_period_end: str
    current_period_end_unix: int
    current_period_end_ms: int
    canceled_at: str
    canceled_at_unix: int
    canceled_at_ms: int
    trial_end: str
    trial_end_unix: int
    trial_end_ms: int
    invoice_id: str
    #: In the currency's smallest unit (cents), as Stripe counts.
    amount_paid: int
    currency: str
    #: Grows with every change of the subscription: a receiver may drop an event older than one it has.
    subscription_version: int
    #: True on samples (``POST /v1/subscribers/{id}/test``, ``GET /v1/sample-events/{type}``).
    is_test: bool


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    """What a flat event says about an invoice or a checkout payment."""

    invoice_id: str = ""
    amount_paid: int = 0
    currency: str = ""


_NO_SUBSCRIPTION = MirrorState(subscription_id="", customer_id="", status="")


def moments(prefix: str, seconds: int) -> dict[str, Any]:
    """``{prefix: ISO, prefix_unix: seconds, prefix_ms: milliseconds}`` ("" and 0 when ``seconds`` is 0)."""
    if not seconds:
        return {prefix: "", f"{prefix}_unix": 0, f"{prefix}_ms": 0}
    return {
        prefix: iso_of_unix(seconds),
        f"{prefix}_unix": seconds,
        f"{prefix}_ms": seconds * 1000,
    }


def build_flat_event(
    *,
    event_id: str,
    event_type: str,
    workspace_id: str,
    occurred_at: int,
    livemode: bool = False,
    stripe_event_id: str = "",
    stripe_event_type: str = "",
    customer: CustomerState | None = None,
    subscription: MirrorState | None = None,
    previous_status: str = "",
    payment: PaymentFacts | None = None,
    is_test: bool = False,
) -> FlatEvent:
    """The flat event for one thing that happened, from the facts known about it."""
    customer = customer or CustomerState(customer_id="")
    payment = payment or PaymentFacts()
    sub = subscription or _NO_SUBSCRIPTION
    return FlatEvent(
        schema_version=SCHEMA_VERSION,
        event_id=event_id,
        event_type=event_type,
        stripe_event_id=stripe_event_id,
        stripe_event_type=stripe_event_type,
        workspace_id=workspace_id,
        livemode=livemode,
        **moments("occurred_at", occurred_at),
        customer_id=customer.customer_id,
        customer_email=customer.email,
        external_user_id=customer.external_user_id,
        subscription_id=sub.subscription_id,
        status=sub.status,
        previous_status=previous_status,
        is_active=sub.status in ACTIVE_STATUSES,
        price_id=sub.price_id,
        price_lookup_key=sub.price_lookup_key,
        product_id=sub.product_id,
        plan_interval=sub.plan_interval,
        quantity=sub.quantity,
        preset=sub.preset,
        cancel_at_period_end=sub.cancel_at_period_end,
        **moments("current_period_end", sub.current_period_end),
        **moments("canceled_at", sub.canceled_at),
        **moments("trial_end", sub.trial_end),
        invoice_id=payment.invoice_id,
        amount_paid=payment.amount_paid,
        currency=payment.currency,
        subscription_version=sub.version,
        is_test=is_test,
    )


def encode(event: FlatEvent) -> str:
    """The JSON text stored and sent, byte for byte the same on every attempt."""
    return msgspec.json.encode(event).decode()


def decode(body: str | bytes) -> FlatEvent:
    """A stored flat event body back as a ``FlatEvent``."""
    return msgspec.json.decode(body, type=FlatEvent)
