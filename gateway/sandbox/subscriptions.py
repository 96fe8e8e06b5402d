"""Subscriptions, single or multi item, with their periods on the items (API 2025-03-31 and later).

Create (invoiced at once), update price or quantity, cancel now or at period end, pause and resume,
list by customer; each change emits Stripe's events.
"""

import copy

from stripe.params import (
    SubscriptionCancelParams,
    SubscriptionCreateParams,
    SubscriptionListParams,
    SubscriptionPauseParams,
    SubscriptionResumeParams,
    SubscriptionRetrieveParams,
    SubscriptionUpdateParams,
)

from gateway.sandbox import invoices
from gateway.sandbox.core import Call, Operation, checked_metadata, metadata_merged, retriever
from gateway.sandbox.errors import invalid
from gateway.sandbox.store import new_id
from gateway.sandbox.subscription_items import (
    DAY_S,
    check_items,
    new_item,
    recurring_price,
    update_items,
)
from gateway.sandbox.subscription_lifecycle import (
    RenewParams,
    cancel,
    end_trial,
    pause,
    renew,
    resume,
    save_change,
    settle_invoice,
)
from gateway.sandbox.wire import Obj, list_object

TRIAL_WILL_END_S = 3 * DAY_S
_LIVE = ("active", "trialing", "past_due", "unpaid", "incomplete", "paused")


def create(call: Call) -> Obj:
    """``POST /v1/subscriptions``: ``active`` (or ``trialing``), invoiced at once."""
    p = call.params
    customer = call.store.get("customer", p["customer"], call.livemode, param="customer")
    specs: list[Obj] = p.get("items") or []
    if not specs:
        msg = "Missing required param: items."
        raise invalid(msg, param="items", code="parameter_missing")
    now = call.store.now()
    trial_end = _trial_end(p, now)
    sub_id = new_id("sub", 24)
    start = trial_end or now
    items = []
    for i, spec in enumerate(specs):
        if "price" not in spec:
            msg = "The sandbox needs items[][price] (price_data is not supported)."
            raise invalid(msg, param=f"items[{i}][price]", code="parameter_missing")
        price = recurring_price(call, spec["price"], f"items[{i}][price]")
        items.append(new_item(call, sub_id, price, spec.get("quantity", 1), now))
    check_items(items)
    if trial_end:
        for item in items:
            item["current_period_end"] = start
    subscription: Obj = {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": start,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": now,
        "currency": items[0]["price"]["currency"],
        "customer": customer["id"],
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": p.get("default_payment_method") or None,
        "default_source": None,
        "default_tax_rates": [],
        "description": p.get("description") or None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": items,
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "latest_invoice": None,
        "livemode": call.livemode,
        "metadata": checked_metadata(p.get("metadata") or {}),
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": now,
        "status": "trialing" if trial_end else "active",
        "test_clock": None,
        "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": now if trial_end else None,
    }
    if p.get("cancel_at_period_end"):
        subscription["cancel_at_period_end"] = True
        subscription["cancel_at"] = items[0]["current_period_end"]
    if not trial_end and invoices.payment_fails(call, subscription):
        subscription["status"] = "incomplete"
    invoice = invoices.bill(call, subscription, "subscription_create", announce=False)
    call.store.add(subscription)
    call.emit("customer.subscription.created", subscription)
    invoices.announce_invoice(call, invoice)
    if trial_end and trial_end - now <= TRIAL_WILL_END_S:
        call.emit("customer.subscription.trial_will_end", subscription)
    return subscription


def _trial_end(p: Obj, now: int) -> int | None:
    if p.get("trial_end") not in (None, "now"):
        if p["trial_end"] <= now:
            msg = "Invalid timestamp: must be an integer Unix timestamp in the future."
            raise invalid(msg, param="trial_end")
        return int(p["trial_end"])
    if days := p.get("trial_period_days"):
        return now + int(days) * DAY_S
    return None


def update(call: Call) -> Obj:
    """``POST /v1/subscriptions/{id}``; emits ``customer.subscription.updated``.

    Items (price, quantity, added, deleted), cancel at period end, ``cancel_at``, ``trial_end=now``,
    metadata.
    """
    before = call.target("subscription")
    subscription = copy.deepcopy(before)  # a refused update leaves the stored one as it was
    p = call.params
    ended = subscription["status"] in ("canceled", "incomplete_expired")
    if ended and set(p) - {"metadata", "cancellation_details", "expand"}:
        msg = "A canceled subscription can only update its cancellation_details and metadata."
        raise invalid(msg)
    if "items" in p:
        update_items(call, subscription, p["items"])
    _update_cancellation(subscription, p)
    if p.get("trial_end") == "now" and subscription["status"] == "trialing":
        end_trial(call, subscription)
    for key in ("description", "default_payment_method"):
        if key in p:
            subscription[key] = p[key] or None
    if "metadata" in p:
        subscription["metadata"] = checked_metadata(metadata_merged(subscription["metadata"], p["metadata"]))
    new_cycle = (
        before["items"]["data"][0]["plan"]["interval"] != subscription["items"]["data"][0]["plan"]["interval"]
    )
    save_change(call, subscription, before)
    if new_cycle or (before["status"] == "trialing" and subscription["status"] != "trialing"):
        settle_invoice(call, subscription, "subscription_update")
    return subscription


def _update_cancellation(subscription: Obj, p: Obj) -> None:
    if "cancel_at_period_end" in p:
        subscription["cancel_at_period_end"] = p["cancel_at_period_end"]
        end = subscription["items"]["data"][0]["current_period_end"]
        subscription["cancel_at"] = end if p["cancel_at_period_end"] else None
    if "cancel_at" in p:
        subscription["cancel_at"] = p["cancel_at"] or None
        subscription["cancel_at_period_end"] = False
    if details := p.get("cancellation_details"):
        subscription["cancellation_details"].update({k: v or None for k, v in details.items()})


def list_(call: Call) -> Obj:
    """``GET /v1/subscriptions``: by ``customer``, ``price``, ``status`` (default: all but canceled)."""
    p = call.params
    subs = call.store.all("subscription", call.livemode)
    if "customer" in p:
        subs = [s for s in subs if s["customer"] == p["customer"]]
    if "price" in p:
        subs = [s for s in subs if any(i["price"]["id"] == p["price"] for i in s["items"]["data"])]
    status = p.get("status", "")
    if status == "all":
        pass
    elif status:
        subs = [s for s in subs if s["status"] == status]
    else:
        subs = [s for s in subs if s["status"] in _LIVE]
    return list_object("/v1/subscriptions", subs, p)


OPERATIONS = [
    Operation("POST", "/v1/subscriptions", SubscriptionCreateParams, create),
    Operation("GET", "/v1/subscriptions", SubscriptionListParams, list_),
    Operation("GET", "/v1/subscriptions/{id}", SubscriptionRetrieveParams, retriever("subscription")),
    Operation("POST", "/v1/subscriptions/{id}", SubscriptionUpdateParams, update),
    Operation("DELETE", "/v1/subscriptions/{id}", SubscriptionCancelParams, cancel),
    Operation("POST", "/v1/subscriptions/{id}/pause", SubscriptionPauseParams, pause),
    Operation("POST", "/v1/subscriptions/{id}/resume", SubscriptionResumeParams, resume),
    Operation("POST", "/v1/test_helpers/subscriptions/{id}/renew", RenewParams, renew),
]
