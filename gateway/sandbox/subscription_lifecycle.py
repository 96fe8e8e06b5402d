"""What happens to a subscription over time: cancellation, pause and resume, trials and renewals.

``renew`` is the sandbox's own test helper (``POST /v1/test_helpers/subscriptions/{id}/renew``): the
current period ends now, so tests reach ``invoice.payment_failed``, ``past_due`` and the end of a
subscription set to cancel at period end without waiting a month.
"""

import copy
from typing import NotRequired, TypedDict

from gateway.sandbox import invoices
from gateway.sandbox.core import Call, previous_attributes
from gateway.sandbox.errors import invalid
from gateway.sandbox.subscription_items import period_end
from gateway.sandbox.wire import Obj


def save_change(call: Call, subscription: Obj, before: Obj, extra_event: str = "") -> Obj:
    """Store a changed subscription and emit ``customer.subscription.updated`` (and ``extra_event``)."""
    previous = previous_attributes(before, subscription)
    if previous:
        call.store.add(subscription)
        call.emit("customer.subscription.updated", subscription, previous)
        if extra_event:
            call.emit(extra_event, subscription)
    return subscription


def end_trial(call: Call, subscription: Obj) -> None:
    """The trial ends now: active, with a first full period starting now."""
    now = call.store.now()
    subscription["trial_end"] = now
    subscription["status"] = "active"
    for item in subscription["items"]["data"]:
        item["current_period_start"] = now
        item["current_period_end"] = period_end(now, item["price"]["recurring"])


def settle_invoice(call: Call, subscription: Obj, reason: str) -> None:
    """Bill a new period; a declined charge makes the subscription ``past_due``."""
    before = copy.deepcopy(subscription)
    invoice = invoices.bill(call, subscription, reason)
    if invoice["status"] == "open" and subscription["status"] in ("active", "trialing"):
        subscription["status"] = "past_due"
    elif invoice["status"] == "paid" and subscription["status"] in ("past_due", "incomplete", "unpaid"):
        subscription["status"] = "active"
    save_change(call, subscription, before)


def cancel(call: Call) -> Obj:
    """``DELETE /v1/subscriptions/{id}``: canceled now; emits ``customer.subscription.deleted``."""
    subscription = call.target("subscription")
    if subscription["status"] == "canceled":
        msg = f"The subscription {subscription['id']} has already been canceled."
        raise invalid(msg)
    return end(call, subscription, reason=call.params.get("cancellation_details", {}))


def end(call: Call, subscription: Obj, *, reason: Obj | None = None) -> Obj:
    """End a subscription now."""
    now = call.store.now()
    subscription["status"] = "canceled"
    subscription["canceled_at"] = subscription["canceled_at"] or now
    subscription["ended_at"] = now
    subscription["cancellation_details"].update({"reason": "cancellation_requested", **(reason or {})})
    call.store.add(subscription)
    call.emit("customer.subscription.deleted", subscription)
    return subscription


def pause(call: Call) -> Obj:
    """``POST /v1/subscriptions/{id}/pause``: ``paused``; emits updated and ``...paused``."""
    subscription = call.target("subscription")
    if subscription["status"] not in ("active", "trialing", "past_due"):
        msg = f"A subscription with status '{subscription['status']}' cannot be paused."
        raise invalid(msg)
    before = copy.deepcopy(subscription)
    subscription["status"] = "paused"
    return save_change(call, subscription, before, "customer.subscription.paused")


def resume(call: Call) -> Obj:
    """``POST /v1/subscriptions/{id}/resume``: ``active`` again; emits updated and ``...resumed``."""
    subscription = call.target("subscription")
    if subscription["status"] != "paused":
        msg = "Only a paused subscription can be resumed."
        raise invalid(msg)
    before = copy.deepcopy(subscription)
    subscription["status"] = "active"
    return save_change(call, subscription, before, "customer.subscription.resumed")


class RenewParams(TypedDict):
    """The sandbox's own test helper: end the current period now."""

    expand: NotRequired[list[str]]
    #: Decline the renewal's charge whatever the customer's payment method.
    fail: NotRequired[bool]


def renew(call: Call) -> Obj:
    """``POST /v1/test_helpers/subscriptions/{id}/renew``: the period ends now (a sandbox helper).

    A subscription set to cancel at period end is canceled; a trial ends; otherwise a new period is
    invoiced (``invoice.paid``, or ``invoice.payment_failed`` and ``past_due``).
    """
    subscription = call.target("subscription")
    if subscription["status"] == "canceled":
        msg = "A canceled subscription does not renew."
        raise invalid(msg)
    if subscription["cancel_at_period_end"] or subscription["cancel_at"]:
        return end(call, subscription, reason={"reason": "cancellation_requested"})
    before = copy.deepcopy(subscription)
    if subscription["status"] == "trialing":
        end_trial(call, subscription)
    else:
        for item in subscription["items"]["data"]:
            start = item["current_period_end"]
            item["current_period_start"] = start
            item["current_period_end"] = period_end(start, item["price"]["recurring"])
    if call.params.get("fail"):
        subscription["default_payment_method"] = invoices.FAILING_PAYMENT_METHOD
    save_change(call, subscription, before)
    settle_invoice(call, subscription, "subscription_cycle")
    return subscription
