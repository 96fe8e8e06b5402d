"""The sandbox portal page as plain HTML: what a customer sees and the forms they submit.

No JavaScript and no build step; every action is a ``<form method="post">`` answered with a 303 back
to the page (or to the return URL a deep link names).
"""

from datetime import UTC, datetime
from html import escape
from typing import Any

from gateway.sandbox.wire import Obj

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1a1f36}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}section{border:1px solid #e3e8ee;
border-radius:8px;padding:1rem;margin:1rem 0}form{display:inline-block;margin:.25rem .5rem .25rem 0}
button{padding:.4rem .8rem;border-radius:6px;border:1px solid #635bff;background:#635bff;color:#fff}
button.secondary{background:#fff;color:#635bff}.notice{background:#e6f4ea;padding:.5rem 1rem;
border-radius:6px}.muted{color:#697386}table{width:100%;border-collapse:collapse}td{padding:.25rem 0}
"""


def money(amount: int | None, currency: str) -> str:
    """``$29.00``-style amounts (cents in, like Stripe)."""
    symbol = "$" if currency == "usd" else f"{currency.upper()} "
    return f"{symbol}{(amount or 0) / 100:,.2f}"


def day(moment: int | None) -> str:
    """A Unix time as a date."""
    return datetime.fromtimestamp(moment, UTC).strftime("%b %d, %Y") if moment else ""


def page(title: str, body: str, *, return_url: str = "") -> str:
    """A whole HTML document."""
    back = (
        f'<p><a id="return" href="{escape(return_url)}">&larr; Return to the app</a></p>'
        if return_url
        else ""
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_STYLE}</style></head>'
        f'<body>{back}<p class="muted">Sandbox customer portal (test mode)</p>{body}</body></html>'
    )


def form(action: str, label: str, fields: dict[str, Any], *, name: str, secondary: bool = False) -> str:
    """A one-button form posting ``fields``."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(str(v))}">' for k, v in fields.items()
    )
    css = ' class="secondary"' if secondary else ""
    return (
        f'<form method="post" action="{escape(action)}">{hidden}'
        f'<button type="submit" name="{escape(name)}"{css}>{escape(label)}</button></form>'
    )


def plan_line(price: Obj, product_name: str, quantity: int) -> str:
    """``Pro - $29.00 per month x 2``."""
    interval = (price.get("recurring") or {}).get("interval", "")
    times = f" x {quantity}" if quantity != 1 else ""
    amount = money(price["unit_amount"], price["currency"])
    return f"{escape(product_name)} &mdash; {amount} per {interval}{times}"


def cancel_form(action: str, subscription: Obj, cancel_feature: Obj) -> str:
    """The cancel button, with a reason picker when the configuration asks for one."""
    reason = cancel_feature.get("cancellation_reason") or {}
    picker = ""
    if reason.get("enabled"):
        options = "".join(
            f'<option value="{escape(o)}">{escape(o.replace("_", " "))}</option>'
            for o in reason.get("options", [])
        )
        picker = f'<select name="reason"><option value="">Reason (optional)</option>{options}</select> '
    label = "Cancel plan" if cancel_feature.get("mode") != "immediately" else "Cancel plan now"
    return (
        f'<form method="post" action="{escape(action)}"><input type="hidden" name="subscription" '
        f'value="{escape(subscription["id"])}">{picker}'
        f'<button type="submit" name="cancel">{label}</button></form>'
    )


def quantity_form(action: str, subscription: Obj, item: Obj) -> str:
    """A quantity field and its button."""
    return (
        f'<form method="post" action="{escape(action)}"><input type="hidden" name="subscription" '
        f'value="{escape(subscription["id"])}"><input type="hidden" name="item" value="{escape(item["id"])}">'
        f'<input type="number" min="1" name="quantity" value="{item["quantity"]}" aria-label="Quantity"> '
        '<button type="submit" name="update_quantity" class="secondary">Update quantity</button></form>'
    )


def invoice_table(invoices: list[Obj]) -> str:
    """The invoice history."""
    if not invoices:
        return '<p class="muted">No invoices yet.</p>'
    rows = "".join(
        f"<tr><td>{day(i['created'])}</td><td>{money(i['total'], i['currency'])}</td>"
        f'<td>{escape(i["status"])}</td><td class="muted">{escape(i["number"] or "")}</td></tr>'
        for i in invoices
    )
    return f"<table>{rows}</table>"
