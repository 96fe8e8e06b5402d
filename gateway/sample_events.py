"""Samples of each flat event type, every field filled, for receivers that learn a schema from one call.

Bubble ("Detect data"), Make ("Re-determine data structure"), Zapier and n8n take their field list and
types from the first payload they see; an empty or zero field there gives the builder nothing to map.
So a sample fills every field with a plausible value, whatever the type would carry in real life.
"""

from gateway.customers import CustomerState
from gateway.errors import NotFound
from gateway.flat_events import EVENT_TYPES, FLAT_TYPES, FlatEvent, PaymentFacts, build_flat_event
from gateway.mirror import MirrorState

#: 2026-11-25T18:05:00Z: samples served over HTTP are the same on every call.
SAMPLE_MOMENT = 1_795_629_900
_DAY = 86_400

_STRIPE_TYPE = {flat: stripe for stripe, flat in reversed(FLAT_TYPES.items())}
#: (status, previous_status) a sample of each type shows.
_STATUSES = {
    "subscription.created": ("active", "incomplete"),
    "subscription.canceled": ("canceled", "active"),
    "subscription.paused": ("paused", "active"),
    "subscription.resumed": ("active", "paused"),
    "subscription.trial_ending": ("trialing", "trialing"),
}


def sample_event(
    event_type: str,
    *,
    workspace_id: str = "ws_sample",
    livemode: bool = False,
    event_id: str = "",
    occurred_at: int = SAMPLE_MOMENT,
) -> FlatEvent:
    """A fully filled, ``is_test`` flat event of ``event_type``; ``NotFound`` for an unknown type."""
    if event_type not in EVENT_TYPES:
        msg = f"No flat event type {event_type!r}. Types: {', '.join(EVENT_TYPES)}."
        raise NotFound(msg)
    status, previous_status = _STATUSES.get(event_type, ("active", "active"))
    return build_flat_event(
        event_id=event_id or "evt_gw_sample_" + event_type.replace(".", "_"),
        event_type=event_type,
        workspace_id=workspace_id,
        livemode=livemode,
        occurred_at=occurred_at,
        stripe_event_id="evt_1SampleGatewayEvent0001",
        stripe_event_type=_STRIPE_TYPE[event_type],
        customer=CustomerState(
            customer_id="cus_SampleCustomer01", email="jenny@example.com", external_user_id="user_1234"
        ),
        subscription=MirrorState(
            subscription_id="sub_1SampleSubscription01",
            customer_id="cus_SampleCustomer01",
            status=status,
            price_id="price_1SampleMonthly0001",
            price_lookup_key="pro_monthly",
            product_id="prod_SampleProduct01",
            plan_interval="month",
            quantity=1,
            preset="default",
            cancel_at_period_end=event_type == "subscription.canceled",
            current_period_end=occurred_at + 30 * _DAY,
            canceled_at=occurred_at,
            trial_end=occurred_at + 3 * _DAY,
            version=3,
        ),
        previous_status=previous_status,
        payment=PaymentFacts(
            invoice_id="in_1SampleInvoice0001",
            amount_paid=0 if event_type == "invoice.payment_failed" else 2000,
            currency="usd",
        ),
        is_test=True,
    )
