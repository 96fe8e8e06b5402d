"""Invoices the sandbox's subscriptions make, paid at once.

A charge fails when the subscription's or customer's payment method is ``pm_card_chargeCustomerFail``
(Stripe's test payment method for a declined charge).
"""

from stripe.params import InvoiceListParams, InvoiceRetrieveParams

from gateway.sandbox.core import Call, Operation, matching, retriever
from gateway.sandbox.store import new_id
from gateway.sandbox.wire import Obj, list_object

#: Stripe's test payment method whose charges are declined.
FAILING_PAYMENT_METHOD = "pm_card_chargeCustomerFail"


def payment_fails(call: Call, subscription: Obj) -> bool:
    """Whether charging this subscription's customer is declined."""
    customer = call.store.objects.get(subscription["customer"]) or {}
    methods = {
        subscription.get("default_payment_method"),
        (customer.get("invoice_settings") or {}).get("default_payment_method"),
    }
    return FAILING_PAYMENT_METHOD in methods


def bill(call: Call, subscription: Obj, reason: str, *, announce: bool = True) -> Obj:
    """Invoice the subscription's current period; emits ``invoice.paid`` or ``invoice.payment_failed``.

    With ``announce=False`` the caller emits it later (``announce_invoice``), after its own event.
    """
    items = subscription["items"]["data"]
    start, end = items[0]["current_period_start"], items[0]["current_period_end"]
    trialing = subscription["status"] == "trialing"
    invoice_id = new_id("in", 24)
    lines = [_line(call, invoice_id, subscription, item, amount_zero=trialing) for item in items]
    total = sum(line["amount"] for line in lines)
    failed = total > 0 and payment_fails(call, subscription)
    customer = call.store.objects.get(subscription["customer"]) or {}
    now = call.store.now()
    invoice: Obj = {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Portal Gateway Sandbox",
        "amount_due": total,
        "amount_paid": 0 if failed else total,
        "amount_remaining": total if failed else 0,
        "attempt_count": 1,
        "attempted": True,
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "created": now,
        "currency": subscription["currency"],
        "customer": subscription["customer"],
        "customer_email": customer.get("email"),
        "customer_name": customer.get("name"),
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": call.livemode,
        "metadata": {},
        "number": f"{customer.get('invoice_prefix', 'SANDBOX')}-{invoice_id[-6:].upper()}",
        "parent": {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": subscription["metadata"],
                "subscription": subscription["id"],
            },
        },
        "period_end": end,
        "period_start": start,
        "status": "open" if failed else "paid",
        "status_transitions": {"finalized_at": now, "paid_at": None if failed else now, "voided_at": None},
        "subscription": subscription["id"],
        "subtotal": total,
        "total": total,
    }
    call.store.add(invoice)
    subscription["latest_invoice"] = invoice_id
    if announce:
        announce_invoice(call, invoice)
    return invoice


def announce_invoice(call: Call, invoice: Obj) -> None:
    """Emit ``invoice.paid`` or ``invoice.payment_failed`` for an invoice."""
    call.emit("invoice.paid" if invoice["status"] == "paid" else "invoice.payment_failed", invoice)


def _line(call: Call, invoice_id: str, subscription: Obj, item: Obj, *, amount_zero: bool) -> Obj:
    price = item["price"]
    amount = 0 if amount_zero else (price["unit_amount"] or 0) * item["quantity"]
    product = call.store.objects.get(price["product"]) or {"name": price["product"]}
    interval = (price["recurring"] or {}).get("interval", "month")
    return {
        "id": new_id("il", 24),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": f"{item['quantity']} x {product['name']} (per {interval})",
        "invoice": invoice_id,
        "livemode": call.livemode,
        "metadata": {},
        "parent": {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription["id"],
                "subscription_item": item["id"],
            },
        },
        "period": {"end": item["current_period_end"], "start": item["current_period_start"]},
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price["id"], "product": price["product"]},
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "quantity": item["quantity"],
    }


def list_(call: Call) -> Obj:
    """``GET /v1/invoices`` by ``customer``, ``subscription`` or ``status``."""
    invoices = call.store.all("invoice", call.livemode)
    invoices = matching(invoices, call.params, ("customer", "subscription", "status"))
    return list_object("/v1/invoices", invoices, call.params)


OPERATIONS = [
    Operation("GET", "/v1/invoices", InvoiceListParams, list_),
    Operation("GET", "/v1/invoices/{id}", InvoiceRetrieveParams, retriever("invoice")),
]
