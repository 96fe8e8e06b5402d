"""What the sandbox portal shows a customer and what each of its buttons does.

Every rule is checked again on submit (the feature is on, the subscription is the customer's, the
price is one the configuration offers), and every change goes through the sandbox's API.
"""

from dataclasses import dataclass
from html import escape
from typing import Any

from gateway.sandbox import portal_html as html
from gateway.sandbox.core import Sandbox
from gateway.sandbox.errors import invalid
from gateway.sandbox.wire import Obj

#: Stripe's test card, offered by the payment method form.
TEST_CARD = "pm_card_visa"
_CARDS = {TEST_CARD: "Visa ending in 4242", "pm_card_chargeCustomerFail": "Visa ending in 0341 (declines)"}


@dataclass
class View:
    """One portal session being used."""

    sandbox: Sandbox
    token: str
    session: Obj
    state: Obj

    @property
    def page_url(self) -> str:
        """Where the page lives (relative, so it works behind any host)."""
        return f"/sandbox/portal/{self.token}"

    @property
    def features(self) -> Obj:
        """The configuration's features."""
        configuration: Obj = self.sandbox.store.objects[self.session["configuration"]]
        return configuration["features"]  # type: ignore[no-any-return]

    def call(self, method: str, path: str, params: Obj | None = None) -> Obj:
        """The sandbox API, in the session's mode."""
        return self.sandbox.call(method, path, params, livemode=self.session["livemode"])

    def customer(self) -> Obj:
        """The session's customer."""
        return self.call("GET", f"/v1/customers/{self.session['customer']}")

    def subscriptions(self) -> list[Obj]:
        """The customer's subscriptions that are not over."""
        found = self.call("GET", "/v1/subscriptions", {"customer": self.session["customer"], "limit": 100})
        return list(found["data"])

    def subscription(self, subscription_id: str) -> Obj:
        """One of the customer's subscriptions (another customer's is refused)."""
        subscription = self.call("GET", f"/v1/subscriptions/{subscription_id}")
        if subscription["customer"] != self.session["customer"]:
            msg = "That subscription is not yours."
            raise invalid(msg)
        return subscription

    def switch_prices(self, subscription: Obj) -> list[Obj]:
        """The prices the customer may switch to: configured, recurring, same tax behaviour, not current.

        The portal only switches single-item subscriptions, and only between prices whose
        ``tax_behavior`` matches and is not ``unspecified`` (``reference/stripe-portal.md`` §1.3).
        """
        update = self.features["subscription_update"]
        items = subscription["items"]["data"]
        if not update["enabled"] or "price" not in update["default_allowed_updates"] or len(items) != 1:
            return []
        current = items[0]["price"]
        if current["tax_behavior"] == "unspecified":
            return []
        prices = [self.call("GET", f"/v1/prices/{p}") for e in update["products"] or [] for p in e["prices"]]
        return [
            p
            for p in prices
            if p["id"] != current["id"] and p["tax_behavior"] == current["tax_behavior"] and p["active"]
        ]

    def act(self, action: str, data: dict[str, str]) -> str:
        """Do ``action``; the notice to show."""
        handler = getattr(self, f"_do_{action}", None)
        if handler is None:
            msg = f"Unknown portal action: {action}"
            raise invalid(msg)
        notice: str = handler(data)
        return notice

    def _do_cancel(self, data: dict[str, str]) -> str:
        feature = self.features["subscription_cancel"]
        if not feature["enabled"]:
            msg = "Canceling is not available in this portal."
            raise invalid(msg)
        subscription = self.subscription(data.get("subscription", ""))
        details = {"feedback": data["reason"]} if data.get("reason") else {}
        path = f"/v1/subscriptions/{subscription['id']}"
        if feature["mode"] == "immediately":
            self.call("DELETE", path, {"cancellation_details": details} if details else {})
            return "Your plan has been canceled."
        self.call("POST", path, {"cancel_at_period_end": True, "cancellation_details": details})
        ends = subscription["items"]["data"][0]["current_period_end"]
        return f"Your plan will be canceled on {html.day(ends)}."

    def _do_renew(self, data: dict[str, str]) -> str:
        subscription = self.subscription(data.get("subscription", ""))
        self.call("POST", f"/v1/subscriptions/{subscription['id']}", {"cancel_at_period_end": False})
        return "Your plan will renew."

    def _do_switch(self, data: dict[str, str]) -> str:
        subscription = self.subscription(data.get("subscription", ""))
        allowed = {p["id"]: p for p in self.switch_prices(subscription)}
        price = allowed.get(data.get("price", ""))
        if price is None:
            msg = "That plan is not offered here."
            raise invalid(msg)
        item = subscription["items"]["data"][0]
        self.call(
            "POST",
            f"/v1/subscriptions/{subscription['id']}",
            {"items": [{"id": item["id"], "price": price["id"]}]},
        )
        return "Your plan has been updated."

    def _do_quantity(self, data: dict[str, str]) -> str:
        update = self.features["subscription_update"]
        if not update["enabled"] or "quantity" not in update["default_allowed_updates"]:
            msg = "Changing the quantity is not available in this portal."
            raise invalid(msg)
        subscription = self.subscription(data.get("subscription", ""))
        quantity = int(data.get("quantity", "0") or 0)
        if quantity < 1:
            msg = "The quantity must be at least 1."
            raise invalid(msg)
        item = subscription["items"]["data"][0]
        self.call(
            "POST",
            f"/v1/subscriptions/{subscription['id']}",
            {"items": [{"id": item["id"], "quantity": quantity}]},
        )
        return "Your quantity has been updated."

    def _do_confirm(self, _: dict[str, str]) -> str:
        flow = self.session.get("flow") or {}
        confirm = flow.get("subscription_update_confirm")
        if flow.get("type") != "subscription_update_confirm" or not confirm:
            msg = "Nothing to confirm."
            raise invalid(msg)
        items = [{k: v for k, v in i.items() if v is not None} for i in confirm["items"]]
        self.call("POST", f"/v1/subscriptions/{confirm['subscription']}", {"items": items})
        return "Your plan has been updated."

    def _do_payment_method(self, _: dict[str, str]) -> str:
        if not self.features["payment_method_update"]["enabled"]:
            msg = "Updating the payment method is not available in this portal."
            raise invalid(msg)
        path = f"/v1/customers/{self.session['customer']}"
        self.call("POST", path, {"invoice_settings": {"default_payment_method": TEST_CARD}})
        return "Your payment method has been updated."

    def _do_pause(self, data: dict[str, str]) -> str:
        if not self.features["subscription_pause"]["enabled"]:
            msg = "Pausing is not available in this portal."
            raise invalid(msg)
        subscription = self.subscription(data.get("subscription", ""))
        self.call("POST", f"/v1/subscriptions/{subscription['id']}/pause")
        return "Your plan has been paused."


def _product_name(view: View, price: Obj) -> str:
    product = view.sandbox.store.objects.get(price["product"]) or {}
    return str(product.get("name", price["product"]))


def subscription_section(view: View, subscription: Obj, *, only: str = "") -> str:
    """One subscription and the buttons the configuration allows (``only`` one kind, for a deep link)."""
    action = view.page_url
    item = subscription["items"]["data"][0]
    lines = "<br>".join(
        html.plan_line(i["price"], _product_name(view, i["price"]), i["quantity"])
        for i in subscription["items"]["data"]
    )
    status = subscription["status"]
    note = f"Renews {html.day(item['current_period_end'])}"
    if subscription["cancel_at_period_end"]:
        note = f"Cancels {html.day(item['current_period_end'])}"
    parts = [
        f'<section id="{escape(subscription["id"])}"><h2>Current plan</h2><p>{lines}</p>',
        f'<p class="muted">{escape(status)} &middot; {note}</p>',
    ]
    features = view.features
    ids: dict[str, Any] = {"subscription": subscription["id"]}
    if only in ("", "subscription_update"):
        for price in view.switch_prices(subscription):
            amount = html.money(price["unit_amount"], price["currency"])
            label = f"Switch to {_product_name(view, price)} ({amount} per {price['recurring']['interval']})"
            parts.append(
                html.form(
                    f"{action}/switch", label, {**ids, "price": price["id"]}, name="switch", secondary=True
                )
            )
        update = features["subscription_update"]
        if update["enabled"] and "quantity" in update["default_allowed_updates"] and only == "":
            parts.append(html.quantity_form(f"{action}/quantity", subscription, item))
    if only in ("", "subscription_cancel") and features["subscription_cancel"]["enabled"]:
        if subscription["cancel_at_period_end"]:
            parts.append(html.form(f"{action}/renew", "Renew plan", ids, name="renew"))
        else:
            parts.append(html.cancel_form(f"{action}/cancel", subscription, features["subscription_cancel"]))
    if (
        only in ("", "subscription_pause")
        and features["subscription_pause"]["enabled"]
        and status == "active"
    ):
        parts.append(html.form(f"{action}/pause", "Pause plan", ids, name="pause", secondary=True))
    return "".join(parts) + "</section>"


def home_page(view: View, notice: str) -> str:
    """The whole portal."""
    customer = view.customer()
    features = view.features
    body = [f"<h1>{escape(customer.get('name') or customer.get('email') or customer['id'])}</h1>"]
    if notice:
        body.append(f'<p class="notice" role="status">{escape(notice)}</p>')
    body.append(f'<p class="muted">{escape(customer.get("email") or "")}</p>')
    subscriptions = view.subscriptions()
    body.extend(subscription_section(view, s) for s in subscriptions)
    if not subscriptions:
        body.append('<section><p class="muted">No active subscriptions.</p></section>')
    if features["payment_method_update"]["enabled"]:
        method = (customer.get("invoice_settings") or {}).get("default_payment_method") or ""
        method = _CARDS.get(method, method) or "None on file"
        body.append(f"<section><h2>Payment method</h2><p>{escape(method)}</p>")
        body.append(
            html.form(
                f"{view.page_url}/payment_method",
                "Use test card 4242",
                {},
                name="payment_method",
                secondary=True,
            )
        )
        body.append("</section>")
    if features["invoice_history"]["enabled"]:
        invoices = view.call("GET", "/v1/invoices", {"customer": customer["id"], "limit": 24})["data"]
        body.append(f"<section><h2>Invoice history</h2>{html.invoice_table(invoices)}</section>")
    return html.page("Customer portal", "".join(body), return_url=view.session["return_url"])


def flow_page(view: View, flow: Obj, notice: str) -> str:
    """Only the step a deep link asks for."""
    kind = flow["type"]
    body = [f'<p class="notice" role="status">{escape(notice)}</p>'] if notice else []
    if kind == "payment_method_update":
        body.append("<h1>Update your payment method</h1>")
        body.append(
            html.form(f"{view.page_url}/payment_method", "Use test card 4242", {}, name="payment_method")
        )
    elif kind == "subscription_update_confirm":
        confirm = flow["subscription_update_confirm"]
        subscription = view.subscription(confirm["subscription"])
        wanted = confirm["items"][0]
        price = view.call(
            "GET", f"/v1/prices/{wanted.get('price') or subscription['items']['data'][0]['price']['id']}"
        )
        quantity = wanted.get("quantity") or subscription["items"]["data"][0]["quantity"]
        body.append(
            "<h1>Confirm your new plan</h1>"
            f"<p>{html.plan_line(price, _product_name(view, price), quantity)}</p>"
        )
        body.append(html.form(f"{view.page_url}/confirm", "Confirm", {}, name="confirm"))
    else:
        subscription = view.subscription(flow[kind]["subscription"])
        titles = {
            "subscription_cancel": "Cancel your plan",
            "subscription_update": "Change your plan",
            "subscription_pause": "Pause your plan",
        }
        body.append(f"<h1>{titles[kind]}</h1>")
        body.append(subscription_section(view, subscription, only=kind))
    return html.page("Customer portal", "".join(body), return_url=view.session["return_url"])
