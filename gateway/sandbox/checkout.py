"""Checkout sessions in subscription mode, and the sandbox's hosted checkout page.

``POST /v1/checkout/sessions`` answers a ``url`` into ``/sandbox/checkout/{id}``; its "Pay" button
makes the customer (unless one was given) and the subscription, completes the session
(``checkout.session.completed``) and sends the browser to ``success_url``.
"""

from html import escape
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from stripe.params.checkout import SessionCreateParams, SessionRetrieveParams

from gateway.sandbox import portal_html as html
from gateway.sandbox.core import Call, Operation, Sandbox, checked_metadata, retriever
from gateway.sandbox.errors import StripeApiError, invalid
from gateway.sandbox.store import new_id
from gateway.sandbox.wire import Obj

EXPIRES_AFTER_S = 24 * 3600
_OPTIONS: dict[str, Any] = {
    "exclude_from_auth": True,
    "include_in_schema": False,
    "security": [],
    "tags": ["sandbox"],
}


def create(call: Call) -> Obj:
    """``POST /v1/checkout/sessions`` (``mode=subscription`` with ``line_items[][price]``)."""
    p = call.params
    if p.get("mode") != "subscription":
        msg = "The sandbox's Checkout supports mode=subscription only."
        raise invalid(msg, param="mode")
    if "customer" in p:
        call.store.get("customer", p["customer"], call.livemode, param="customer")
    items = p.get("line_items") or []
    if not items or any("price" not in i for i in items):
        msg = "Missing required param: line_items[0][price]."
        raise invalid(msg, param="line_items", code="parameter_missing")
    prices = [
        call.store.get("price", i["price"], call.livemode, param=f"line_items[{n}][price]")
        for n, i in enumerate(items)
    ]
    total = sum(
        (price["unit_amount"] or 0) * i.get("quantity", 1) for price, i in zip(prices, items, strict=True)
    )
    now = call.store.now()
    session_id = new_id("cs_live" if call.livemode else "cs_test", 40)
    session: Obj = {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "cancel_url": p.get("cancel_url"),
        "client_reference_id": p.get("client_reference_id"),
        "created": now,
        "currency": prices[0]["currency"],
        "customer": p.get("customer"),
        "customer_details": None,
        "customer_email": p.get("customer_email"),
        "expires_at": now + EXPIRES_AFTER_S,
        "invoice": None,
        "livemode": call.livemode,
        "metadata": checked_metadata(p.get("metadata") or {}),
        "mode": "subscription",
        "payment_status": "unpaid",
        "status": "open",
        "subscription": None,
        "success_url": p.get("success_url"),
        "ui_mode": "hosted",
        "url": f"{call.base_url}/sandbox/checkout/{session_id}",
    }
    call.store.add(session)
    call.store.private[session_id] = {
        "line_items": [{"price": i["price"], "quantity": i.get("quantity", 1)} for i in items]
    }
    return session


def complete(sandbox: Sandbox, session: Obj, email: str) -> Obj:
    """Pay: customer, subscription, then ``checkout.session.completed``."""
    mode = session["livemode"]
    customer_id = session["customer"]
    if customer_id is None:
        customer = sandbox.call(
            "POST", "/v1/customers", {"email": email or session["customer_email"] or ""}, livemode=mode
        )
        customer_id = customer["id"]
    items = sandbox.store.private[session["id"]]["line_items"]
    params = {"customer": customer_id, "items": items, "metadata": session["metadata"]}
    subscription = sandbox.call("POST", "/v1/subscriptions", params, livemode=mode)
    customer = sandbox.store.objects[customer_id]
    session.update(
        {
            "customer": customer_id,
            "customer_details": {"email": customer["email"], "name": customer["name"], "phone": None},
            "invoice": subscription["latest_invoice"],
            "payment_status": "paid",
            "status": "complete",
            "subscription": subscription["id"],
            "url": None,
        }
    )
    sandbox.store.add(session)
    call = Call(sandbox, mode, {}, base_url=sandbox.public_url)
    call.emit("checkout.session.completed", session)
    sandbox.changed()
    return session


def _open(sandbox: Sandbox, session_id: str) -> Obj | None:
    session = sandbox.store.objects.get(session_id)
    if session is None or session["object"] != "checkout.session":
        return None
    return session


@get(
    "/sandbox/checkout/{session_id:str}",
    operation_id="sandboxCheckoutPage",
    summary="Sandbox checkout",
    **_OPTIONS,
)
async def checkout_page(request: Request[Any, Any, Any], session_id: FromPath[str]) -> Response[str]:
    """The hosted checkout page: what is bought, and a Pay button."""
    session = _open(request.app.state.sandbox, session_id)
    if session is None or session["status"] != "open":
        body = "<h1>This checkout session is not open.</h1>"
        return Response(html.page("Checkout", body), status_code=404, media_type="text/html; charset=utf-8")
    store = request.app.state.sandbox.store
    lines = ""
    for item in store.private[session_id]["line_items"]:
        price = store.objects[item["price"]]
        lines += f"<p>{html.plan_line(price, store.objects[price['product']]['name'], item['quantity'])}</p>"
    email = (
        ""
        if session["customer"]
        else '<p><input type="email" name="email" required placeholder="Email" aria-label="Email"></p>'
    )
    body = (
        f"<h1>Subscribe</h1>{lines}"
        f"<p><strong>{html.money(session['amount_total'], session['currency'])}</strong></p>"
        f'<form method="post" action="/sandbox/checkout/{escape(session_id)}">{email}'
        '<button type="submit" name="pay">Pay with test card 4242</button></form>'
    )
    return Response(
        html.page("Checkout", body, return_url=session["cancel_url"] or ""),
        media_type="text/html; charset=utf-8",
    )


@post(
    "/sandbox/checkout/{session_id:str}",
    operation_id="sandboxCheckoutPay",
    summary="Sandbox checkout pay",
    status_code=303,
    **_OPTIONS,
)
async def checkout_pay(request: Request[Any, Any, Any], session_id: FromPath[str]) -> Response[str]:
    """Pay, then off to ``success_url`` (``{CHECKOUT_SESSION_ID}`` filled in, as Stripe does)."""
    sandbox: Sandbox = request.app.state.sandbox
    session = _open(sandbox, session_id)
    if session is None or session["status"] != "open":
        return Response("", status_code=303, headers={"Location": f"/sandbox/checkout/{session_id}"})
    form = await request.form()
    try:
        complete(sandbox, session, str(form.get("email", "")))
    except StripeApiError as exc:
        body = f"<h1>Payment failed</h1><p>{escape(exc.message)}</p>"
        return Response(html.page("Checkout", body), status_code=400, media_type="text/html; charset=utf-8")
    target = (session["success_url"] or "/").replace("{CHECKOUT_SESSION_ID}", session_id)
    return Response("", status_code=303, headers={"Location": target})


OPERATIONS = [
    Operation("POST", "/v1/checkout/sessions", SessionCreateParams, create),
    Operation("GET", "/v1/checkout/sessions/{id}", SessionRetrieveParams, retriever("checkout.session")),
]
HANDLERS = [checkout_page, checkout_pay]
