"""What a Stripe event says about its subscription, customer and payment, in any API version."""

from gateway.flat_events import FLAT_TYPES, PaymentFacts
from gateway.stripe_events import VerifiedEvent
from gateway.stripe_objects import dict_of, id_of, int_of, str_of

SUBSCRIPTION_EVENTS = frozenset(t for t in FLAT_TYPES if t.startswith("customer.subscription."))
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed"})
CHECKOUT_COMPLETED = "checkout.session.completed"
CUSTOMER_UPDATED = "customer.updated"
CONFIGURATION_UPDATED = "billing_portal.configuration.updated"
#: Every type the gateway acts on; ``gateway workspace create --register-webhook`` subscribes to these.
HANDLED_EVENTS: tuple[str, ...] = (*FLAT_TYPES, CONFIGURATION_UPDATED)


def subscription_of(event: VerifiedEvent) -> str:
    """The ID of the subscription the event is about, or ""."""
    obj = event.object
    if event.type in SUBSCRIPTION_EVENTS:
        return str_of(obj.get("id"))
    if event.type == CHECKOUT_COMPLETED:
        return id_of(obj.get("subscription"))
    if event.type in INVOICE_EVENTS:
        # Since API 2025-03-31.basil the subscription is under ``parent``; before, at the top.
        details = dict_of(dict_of(obj.get("parent")).get("subscription_details"))
        return id_of(obj.get("subscription")) or id_of(details.get("subscription"))
    return ""


def customer_of(event: VerifiedEvent) -> str:
    """The ID of the customer the event is about, or ""."""
    if event.type == CUSTOMER_UPDATED:
        return str_of(event.object.get("id"))
    return id_of(event.object.get("customer"))


def contact_of(event: VerifiedEvent) -> dict[str, str]:
    """The customer's e-mail and the builder's user ID as an invoice or checkout session carries them."""
    obj = event.object
    if event.type in INVOICE_EVENTS:
        return {"email": str_of(obj.get("customer_email"))}
    return {
        "email": str_of(dict_of(obj.get("customer_details")).get("email"))
        or str_of(obj.get("customer_email")),
        # Checkout links made by no-code apps usually carry the app's user ID here.
        "external_user_id": str_of(dict_of(obj.get("metadata")).get("external_user_id"))
        or str_of(obj.get("client_reference_id")),
    }


def payment_of(event: VerifiedEvent) -> PaymentFacts:
    """The invoice, amount paid and currency of an invoice or checkout event."""
    obj = event.object
    if event.type == CHECKOUT_COMPLETED:
        paid = obj.get("payment_status") == "paid"
        return PaymentFacts(
            invoice_id=id_of(obj.get("invoice")),
            amount_paid=int_of(obj.get("amount_total")) if paid else 0,
            currency=str_of(obj.get("currency")),
        )
    return PaymentFacts(
        invoice_id=str_of(obj.get("id")),
        amount_paid=int_of(obj.get("amount_paid")),
        currency=str_of(obj.get("currency")),
    )
