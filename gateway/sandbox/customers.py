"""Customers: create, retrieve, update (``customer.updated``), delete, list by email, search."""

import re
from collections.abc import Callable

from stripe.params import (
    CustomerCreateParams,
    CustomerDeleteParams,
    CustomerListParams,
    CustomerRetrieveParams,
    CustomerSearchParams,
    CustomerUpdateParams,
)

from gateway.sandbox.core import (
    Call,
    Operation,
    checked_metadata,
    metadata_merged,
    previous_attributes,
    retriever,
)
from gateway.sandbox.errors import invalid
from gateway.sandbox.store import new_id
from gateway.sandbox.wire import Obj, list_object

_SETTABLE = ("email", "name", "phone", "description", "preferred_locales")
_CLAUSE = re.compile(r"""^\s*(metadata\[['"]([^'"]+)['"]\]|[a-z_]+)\s*([:~])\s*['"](.*)['"]\s*$""")
_SEARCHABLE = ("email", "name", "phone", "metadata")


def create(call: Call) -> Obj:
    """``POST /v1/customers``."""
    p = call.params
    customer: Obj = {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": call.store.now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": p.get("description") or None,
        "discount": None,
        "email": p.get("email") or None,
        "invoice_prefix": new_id("x", 8)[2:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": p.get("invoice_settings", {}).get("default_payment_method") or None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": call.livemode,
        "metadata": checked_metadata(p.get("metadata") or {}),
        "name": p.get("name") or None,
        "next_invoice_sequence": 1,
        "phone": p.get("phone") or None,
        "preferred_locales": p.get("preferred_locales", []),
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    call.store.add(customer)
    call.emit("customer.created", customer)
    return customer


def update(call: Call) -> Obj:
    """``POST /v1/customers/{id}``: emits ``customer.updated`` with the previous values."""
    customer = call.target("customer")
    before = {**customer, "invoice_settings": dict(customer["invoice_settings"])}
    p = call.params
    for key in _SETTABLE:
        if key in p:
            customer[key] = p[key] or None
    if "metadata" in p:
        customer["metadata"] = checked_metadata(metadata_merged(customer["metadata"], p["metadata"]))
    if "default_payment_method" in p.get("invoice_settings", {}):
        default = p["invoice_settings"]["default_payment_method"] or None
        customer["invoice_settings"]["default_payment_method"] = default
    previous = previous_attributes(before, customer)
    if previous:
        call.store.add(customer)
        call.emit("customer.updated", customer, previous)
    return customer


def delete(call: Call) -> Obj:
    """``DELETE /v1/customers/{id}``."""
    customer = call.target("customer")
    customer["deleted"] = True
    call.store.add(customer)
    call.emit("customer.deleted", {k: v for k, v in customer.items() if k != "deleted"})
    return {"id": customer["id"], "object": "customer", "deleted": True}


def list_(call: Call) -> Obj:
    """``GET /v1/customers`` (``email`` matches exactly, case-insensitively, like Stripe)."""
    customers = call.store.all("customer", call.livemode)
    if email := call.params.get("email"):
        customers = [c for c in customers if (c["email"] or "").lower() == email.lower()]
    return list_object("/v1/customers", customers, call.params)


def search(call: Call) -> Obj:
    """``GET /v1/customers/search``: Stripe's query language, in part.

    ``email``, ``name``, ``phone`` and ``metadata['key']`` with ``:`` (exact) or ``~`` (substring),
    joined by ``AND`` or ``OR``.
    """
    query: str = call.params["query"]
    joiner = " OR " if " OR " in query else " AND "
    if " OR " in query and " AND " in query:
        msg = "Search queries cannot mix AND and OR."
        raise invalid(msg, param="query")
    tests = [_clause(part) for part in query.split(joiner)]
    combine = any if joiner == " OR " else all
    found = [c for c in call.store.all("customer", call.livemode) if combine(t(c) for t in tests)]
    limit = int(call.params.get("limit", 10))
    return {
        "object": "search_result",
        "data": found[:limit],
        "has_more": len(found) > limit,
        "next_page": None,
        "url": "/v1/customers/search",
    }


def _clause(text: str) -> Callable[[Obj], bool]:
    match = _CLAUSE.match(text)
    if match is None:
        msg = f"Invalid search query: {text.strip()!r}. Write clauses like email:'jane@example.com'."
        raise invalid(msg, param="query")
    field, meta_key, operator, wanted = match.groups()
    if meta_key is None and field not in _SEARCHABLE:
        msg = f"Field '{field}' is not supported for search on customers."
        raise invalid(msg, param="query")

    def test(customer: Obj) -> bool:
        value = customer["metadata"].get(meta_key) if meta_key else customer.get(field)
        if value is None:
            return False
        if operator == "~":
            return wanted.lower() in str(value).lower()
        return str(value).lower() == wanted.lower() if field == "email" else str(value) == wanted

    return test


OPERATIONS = [
    Operation("POST", "/v1/customers", CustomerCreateParams, create),
    Operation("GET", "/v1/customers/search", CustomerSearchParams, search),
    Operation("GET", "/v1/customers", CustomerListParams, list_),
    Operation("GET", "/v1/customers/{id}", CustomerRetrieveParams, retriever("customer")),
    Operation("POST", "/v1/customers/{id}", CustomerUpdateParams, update),
    Operation("DELETE", "/v1/customers/{id}", CustomerDeleteParams, delete),
]
