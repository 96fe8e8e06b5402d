"""Products and prices, with ``lookup_key`` (unique per account), ``recurring`` and ``tax_behavior``."""

from stripe.params import (
    PriceCreateParams,
    PriceListParams,
    PriceRetrieveParams,
    PriceUpdateParams,
    ProductCreateParams,
    ProductListParams,
    ProductRetrieveParams,
    ProductUpdateParams,
)

from gateway.sandbox.core import Call, Operation, checked_metadata, matching, metadata_merged, retriever
from gateway.sandbox.errors import invalid
from gateway.sandbox.store import new_id
from gateway.sandbox.wire import Obj, list_object

MAX_LOOKUP_KEYS = 10


def create_product(call: Call) -> Obj:
    """``POST /v1/products`` (``default_price_data`` creates its price too)."""
    p = call.params
    now = call.store.now()
    product: Obj = {
        "id": p.get("id") or new_id("prod", 14),
        "object": "product",
        "active": p.get("active", True),
        "created": now,
        "default_price": None,
        "description": p.get("description") or None,
        "images": p.get("images", []),
        "livemode": call.livemode,
        "marketing_features": [],
        "metadata": checked_metadata(p.get("metadata") or {}),
        "name": p["name"],
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": now,
        "url": None,
    }
    if product["id"] in call.store.objects:
        msg = f"Product already exists with ID {product['id']}"
        raise invalid(msg, param="id", code="resource_already_exists")
    call.store.add(product)
    if data := p.get("default_price_data"):
        price = _new_price(call, {**data, "product": product["id"]})
        product["default_price"] = price["id"]
    call.emit("product.created", product)
    return product


def update_product(call: Call) -> Obj:
    """``POST /v1/products/{id}``."""
    product = call.target("product")
    for key in ("name", "active", "description"):
        if key in call.params:
            product[key] = call.params[key]
    if "metadata" in call.params:
        product["metadata"] = checked_metadata(metadata_merged(product["metadata"], call.params["metadata"]))
    product["updated"] = call.store.now()
    call.store.add(product)
    return product


def list_products(call: Call) -> Obj:
    """``GET /v1/products``."""
    products = call.store.all("product", call.livemode)
    if "active" in call.params:
        products = [p for p in products if p["active"] == call.params["active"]]
    if ids := call.params.get("ids"):
        products = [p for p in products if p["id"] in ids]
    return list_object("/v1/products", products, call.params)


def _new_price(call: Call, p: Obj) -> Obj:
    """A price from create parameters (also ``product_data`` and ``default_price_data``)."""
    if "product_data" in p:
        product = create_product(Call(call.sandbox, call.livemode, p["product_data"], request=call.request))
        p = {**p, "product": product["id"]}
    if "product" not in p:
        msg = "Missing required param: product."
        raise invalid(msg, param="product", code="parameter_missing")
    product = call.store.get("product", p["product"], call.livemode, param="product")
    recurring = p.get("recurring")
    lookup_key = p.get("lookup_key") or None
    if lookup_key:
        _claim_lookup_key(call, lookup_key, transfer=p.get("transfer_lookup_key", False))
    amount = p.get("unit_amount")
    price: Obj = {
        "id": new_id("price", 24),
        "object": "price",
        "active": p.get("active", True),
        "billing_scheme": "per_unit",
        "created": call.store.now(),
        "currency": p["currency"].lower(),
        "custom_unit_amount": None,
        "livemode": call.livemode,
        "lookup_key": lookup_key,
        "metadata": checked_metadata(p.get("metadata") or {}),
        "nickname": p.get("nickname") or None,
        "product": product["id"],
        "recurring": None
        if recurring is None
        else {
            "interval": recurring["interval"],
            "interval_count": recurring.get("interval_count", 1),
            "meter": None,
            "trial_period_days": recurring.get("trial_period_days"),
            "usage_type": recurring.get("usage_type", "licensed"),
        },
        "tax_behavior": p.get("tax_behavior", "unspecified"),
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time" if recurring is None else "recurring",
        "unit_amount": amount,
        "unit_amount_decimal": None if amount is None else str(amount),
    }
    call.store.add(price)
    call.emit("price.created", price)
    return price


def _claim_lookup_key(call: Call, lookup_key: str, *, transfer: bool, keep: str = "") -> None:
    """Take ``lookup_key`` for a price: refused when another price has it, unless transferred."""
    for other in call.store.all("price", call.livemode):
        if other["lookup_key"] == lookup_key and other["id"] != keep:
            if not transfer:
                msg = (
                    f"A price (`{other['id']}`) already uses that lookup key. Pass "
                    "`transfer_lookup_key=true` to move it to this price."
                )
                raise invalid(msg, param="lookup_key")
            other["lookup_key"] = None


def create_price(call: Call) -> Obj:
    """``POST /v1/prices``."""
    return _new_price(call, call.params)


def update_price(call: Call) -> Obj:
    """``POST /v1/prices/{id}``: ``lookup_key`` (with ``transfer_lookup_key``), ``active``, ``metadata``."""
    price = call.target("price")
    p = call.params
    if "lookup_key" in p:
        if p["lookup_key"]:
            _claim_lookup_key(
                call, p["lookup_key"], transfer=p.get("transfer_lookup_key", False), keep=price["id"]
            )
        price["lookup_key"] = p["lookup_key"] or None
    if "tax_behavior" in p:
        if price["tax_behavior"] != "unspecified" and p["tax_behavior"] != price["tax_behavior"]:
            msg = "The tax behavior of a price cannot be changed once it is set."
            raise invalid(msg, param="tax_behavior")
        price["tax_behavior"] = p["tax_behavior"]
    if "active" in p:
        price["active"] = p["active"]
    if "nickname" in p:
        price["nickname"] = p["nickname"] or None
    if "metadata" in p:
        price["metadata"] = checked_metadata(metadata_merged(price["metadata"], p["metadata"]))
    call.store.add(price)
    return price


def list_prices(call: Call) -> Obj:
    """``GET /v1/prices`` by ``lookup_keys[]`` (up to 10), ``product``, ``active``, ``type``, ``currency``."""
    p = call.params
    prices = call.store.all("price", call.livemode)
    if (keys := p.get("lookup_keys")) is not None:
        if len(keys) > MAX_LOOKUP_KEYS:
            msg = f"Invalid array: lookup_keys can have at most {MAX_LOOKUP_KEYS} items."
            raise invalid(msg, param="lookup_keys")
        prices = [price for price in prices if price["lookup_key"] in keys]
    prices = matching(prices, p, ("product", "active", "type", "currency"))
    if interval := p.get("recurring", {}).get("interval"):
        prices = [price for price in prices if (price["recurring"] or {}).get("interval") == interval]
    return list_object("/v1/prices", prices, p)


OPERATIONS = [
    Operation("POST", "/v1/products", ProductCreateParams, create_product),
    Operation("GET", "/v1/products", ProductListParams, list_products),
    Operation("GET", "/v1/products/{id}", ProductRetrieveParams, retriever("product")),
    Operation("POST", "/v1/products/{id}", ProductUpdateParams, update_product),
    Operation("POST", "/v1/prices", PriceCreateParams, create_price),
    Operation("GET", "/v1/prices", PriceListParams, list_prices),
    Operation("GET", "/v1/prices/{id}", PriceRetrieveParams, retriever("price")),
    Operation("POST", "/v1/prices/{id}", PriceUpdateParams, update_price),
]
