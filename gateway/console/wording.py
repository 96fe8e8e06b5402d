"""A preset in plain words: what its Stripe portal lets customers do, and what it does not offer."""

from collections.abc import Sequence

from gateway.presets.rules import enabled_features
from gateway.presets.schema import FEATURES, Preset, SubscriptionCancel, SubscriptionPause, SubscriptionUpdate

#: Each feature as the thing a customer does, for "Not offered: ...".
FEATURE_WORDS = {
    "customer_update": "updating their details",
    "invoice_history": "invoice history",
    "payment_method_update": "updating the payment method",
    "subscription_cancel": "canceling",
    "subscription_pause": "pausing",
    "subscription_update": "switching plans",
}
FLOW_WORDS = {
    "payment_method_update": "the payment method form",
    "subscription_cancel": "the cancellation page",
    "subscription_update": "the plan switcher",
    "subscription_update_confirm": "the confirmation of a chosen plan",
}
_DETAILS = {"tax_id": "tax ID", "shipping": "shipping address"}
_UPDATES = {
    "price": "switch plans",
    "quantity": "change the quantity",
    "promotion_code": "apply promotion codes",
}
_PRORATION = {
    "create_prorations": "prorated on the next invoice",
    "always_invoice": "prorated and invoiced at once",
    "none": "without proration",
}


def listing(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` ("" for none)."""
    if len(words) < 2:  # noqa: PLR2004
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _cancel(cancel: SubscriptionCancel) -> str:
    when = "immediately" if cancel.mode == "immediately" else "at the end of the billing period"
    sentence = f"Customers can cancel their subscription, {when}"
    if cancel.mode == "immediately" and cancel.proration_behavior:
        sentence += f", {_PRORATION[cancel.proration_behavior]}"
    reason = cancel.cancellation_reason
    if reason is not None and reason.enabled and reason.options:
        sentence += f"; they are asked why ({listing([o.replace('_', ' ') for o in reason.options])})"
    return sentence + "."


def _pause(pause: SubscriptionPause) -> str:
    duration = pause.duration
    if duration is None or duration.type == "indefinite":
        return "Customers can pause their subscription until they resume it."
    options = [
        f"{o.interval_count} {o.interval}{'s' if o.interval_count > 1 else ''}"
        for o in duration.interval_options
    ]
    return f"Customers can pause their subscription for {listing(options) or 'a set time'}."


def _update(update: SubscriptionUpdate) -> str:
    allowed = [_UPDATES[u] for u in update.default_allowed_updates or []]
    sentence = f"Customers can {listing(allowed) or 'change their subscription'}"
    prices = [p for product in update.products or [] for p in product.prices]
    keys = [k for product in update.products or [] for k in product.prices_by_lookup_key]
    offered = [*(f"price {p}" for p in prices), *(f"lookup key {k}" for k in keys)]
    if offered:
        sentence += f", among {listing(offered)}"
    if update.proration_behavior:
        sentence += f", {_PRORATION[update.proration_behavior]}"
    return sentence + "."


def describe(preset: Preset) -> tuple[list[str], str]:
    """What the portal lets customers do, sentence by sentence, and the features it leaves out."""
    features = preset.features
    on = enabled_features(preset)
    said: list[str] = []
    if "customer_update" in on and features.customer_update is not None:
        details = [_DETAILS.get(d, d) for d in features.customer_update.allowed_updates]
        said.append(f"Customers can update their {listing(details) or 'details'}.")
    if "payment_method_update" in on:
        said.append("Customers can update their payment method.")
    if "invoice_history" in on:
        said.append("Customers can see and download their invoices.")
    if "subscription_update" in on and features.subscription_update is not None:
        said.append(_update(features.subscription_update))
    if "subscription_pause" in on and features.subscription_pause is not None:
        said.append(_pause(features.subscription_pause))
    if "subscription_cancel" in on and features.subscription_cancel is not None:
        said.append(_cancel(features.subscription_cancel))
    if preset.flow:
        said.append(f"Every portal URL opens straight at {FLOW_WORDS[preset.flow]}.")
    if preset.default_return_url:
        said.append(f"Customers return to {preset.default_return_url} when they leave.")
    if preset.match is not None:
        matched = [*preset.match.prices_by_lookup_key, *preset.match.prices, *preset.match.products]
        said.append(f"Preset auto picks it for subscriptions on {listing(matched)}.")
    return said, listing([FEATURE_WORDS[name] for name in FEATURES if name not in on])
