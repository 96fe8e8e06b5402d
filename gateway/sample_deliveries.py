"""``POST /v1/subscribers/{id}/test``: a sample of each subscribed type, sent through the real pipeline.

Each sample is a stored flat event marked ``is_test`` and a delivery like any other: queued in the
request's transaction, signed, retried and logged, so a test shows exactly what the receiver will
get and whether it answers. A ``stripe``-format subscriber gets a Stripe-shaped event of the matching
Stripe type instead, with the same facts (and ``"gateway_test": true``).
"""

import json
import os
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.flat_events import EVENT_TYPES, FlatEvent, encode
from gateway.ids import new_id
from gateway.models import Delivery, Event, StripeEvent, Subscriber, utcnow
from gateway.outbox import enqueue
from gateway.sample_events import sample_event
from gateway.subscribers import require_enabled


async def send_samples(session: AsyncSession, subscriber: Subscriber, *, livemode: bool) -> list[Delivery]:
    """Queue one sample per event type ``subscriber`` takes; the deliveries, in type order."""
    require_enabled(subscriber)
    now = utcnow()
    types = (
        EVENT_TYPES
        if "*" in subscriber.event_types
        else [t for t in EVENT_TYPES if t in subscriber.event_types]
    )
    deliveries: list[Delivery] = []
    for event_type in types:
        flat = sample_event(
            event_type,
            workspace_id=subscriber.workspace_id,
            livemode=livemode,
            event_id=new_id("evt_gw"),
            occurred_at=int(now.timestamp()),
        )
        event = Event(
            id=flat.event_id,
            workspace_id=subscriber.workspace_id,
            event_type=event_type,
            stripe_event_id=flat.stripe_event_id,
            customer_id=flat.customer_id,
            subscription_id=flat.subscription_id,
            is_test=True,
            body=encode(flat),
            created_at=now,
        )
        session.add(event)
        # Never stored: it only gives a ``stripe``-format subscriber its body and webhook-id.
        stripe_event = _stripe_sample(flat, now)
        deliveries += await enqueue(
            session,
            workspace_id=subscriber.workspace_id,
            events=[event],
            stripe_event=stripe_event,
            subscribers=[subscriber],
        )
    await session.flush()
    return deliveries


def _stripe_sample(flat: FlatEvent, now: datetime) -> StripeEvent:
    """A Stripe-shaped event carrying the sample's facts."""
    stripe_id = "evt_test_" + os.urandom(12).hex()
    payload = {
        "id": stripe_id,
        "object": "event",
        "type": flat.stripe_event_type,
        "created": int(now.timestamp()),
        "livemode": flat.livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": _stripe_object(flat)},
        "gateway_test": True,
    }
    return StripeEvent(
        workspace_id=flat.workspace_id,
        stripe_event_id=stripe_id,
        type=flat.stripe_event_type,
        livemode=flat.livemode,
        stripe_created=int(now.timestamp()),
        payload=json.dumps(payload, separators=(",", ":")),
    )


def _stripe_object(flat: FlatEvent) -> dict[str, Any]:
    kind = flat.stripe_event_type.rsplit(".", 1)[0]
    if kind == "customer":
        return {
            "id": flat.customer_id,
            "object": "customer",
            "email": flat.customer_email,
            "metadata": {"external_user_id": flat.external_user_id},
        }
    if kind == "invoice":
        return {
            "id": flat.invoice_id,
            "object": "invoice",
            "customer": flat.customer_id,
            "subscription": flat.subscription_id,
            "amount_paid": flat.amount_paid,
            "currency": flat.currency,
            "status": "paid" if flat.event_type == "invoice.paid" else "open",
        }
    if kind == "checkout.session":
        return {
            "id": "cs_test_sample",
            "object": "checkout.session",
            "mode": "subscription",
            "customer": flat.customer_id,
            "subscription": flat.subscription_id,
            "amount_total": flat.amount_paid,
            "currency": flat.currency,
            "status": "complete",
        }
    return {
        "id": flat.subscription_id,
        "object": "subscription",
        "customer": flat.customer_id,
        "status": flat.status,
        "cancel_at_period_end": flat.cancel_at_period_end,
        "canceled_at": flat.canceled_at_unix or None,
        "trial_end": flat.trial_end_unix or None,
        "items": {
            "object": "list",
            "data": [
                {
                    "object": "subscription_item",
                    "quantity": flat.quantity,
                    "current_period_end": flat.current_period_end_unix,
                    "price": {
                        "id": flat.price_id,
                        "object": "price",
                        "lookup_key": flat.price_lookup_key,
                        "product": flat.product_id,
                        "recurring": {"interval": flat.plan_interval},
                    },
                }
            ],
        },
        "metadata": {"external_user_id": flat.external_user_id},
    }
