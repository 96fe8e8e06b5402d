"""The Stripe event the ingest benchmarks send: a realistic ``customer.subscription.updated``.

Shaped like Stripe's own fixtures (current API version: the period sits on the items), about 2 KB.
``@ID@``, ``@SUB@``, ``@CUS@`` and ``@CREATED@`` are filled in per request (by ``lua/stripe_event.lua``
under wrk, by ``render`` in Python), so that every event is new and touches its own subscription.
"""

import functools
import hashlib
import hmac
import json
import time
from typing import Any

API_VERSION = "2025-03-31.basil"
LOOKUP_KEY = "bench_monthly"


def _subscription() -> dict[str, Any]:
    item = {
        "id": "si_@SUB@",
        "object": "subscription_item",
        "created": 1730000000,
        "current_period_start": 1730000000,
        "current_period_end": 1732678400,
        "discounts": [],
        "metadata": {},
        "price": {
            "id": "price_bench_monthly",
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "created": 1721948530,
            "currency": "usd",
            "livemode": False,
            "lookup_key": LOOKUP_KEY,
            "metadata": {},
            "nickname": None,
            "product": "prod_bench",
            "recurring": {"interval": "month", "interval_count": 1, "meter": None, "usage_type": "licensed"},
            "tax_behavior": "unspecified",
            "type": "recurring",
            "unit_amount": 2000,
            "unit_amount_decimal": "2000",
        },
        "quantity": 1,
        "subscription": "sub_@SUB@",
        "tax_rates": [],
    }
    return {
        "id": "sub_@SUB@",
        "object": "subscription",
        "application": None,
        "automatic_tax": {"enabled": False, "liability": None},
        "billing_cycle_anchor": 1730000000,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": 1730000000,
        "currency": "usd",
        "customer": "@CUS@",
        "days_until_due": None,
        "default_payment_method": "pm_1PgafmB7WZ01zgkW6dKueIc5",
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {"object": "list", "data": [item], "has_more": False, "url": "/v1/subscription_items"},
        "latest_invoice": "in_1PgafmB7WZ01zgkW6dKueIc5",
        "livemode": False,
        "metadata": {"external_user_id": "user_@CUS@"},
        "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None},
        "pending_update": None,
        "schedule": None,
        "start_date": 1730000000,
        "status": "active",
        "trial_end": None,
        "trial_start": None,
    }


@functools.cache
def template() -> str:
    """The event JSON with its markers, compact like Stripe's."""
    event = {
        "id": "@ID@",
        "object": "event",
        "api_version": API_VERSION,
        "created": 1,
        "data": {"object": _subscription(), "previous_attributes": {"cancel_at_period_end": True}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_bench", "idempotency_key": None},
        "type": "customer.subscription.updated",
    }
    return json.dumps(event, separators=(",", ":")).replace('"created":1,', '"created":@CREATED@,', 1)


def render(serial: str, customer: str, created: int | None = None) -> bytes:
    """One concrete event."""
    text = template().replace("@ID@", f"evt_{serial}").replace("@SUB@", serial)
    text = text.replace("@CUS@", customer).replace("@CREATED@", str(created or int(time.time())))
    return text.encode()


def stripe_signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``body``."""
    timestamp = timestamp or int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"
