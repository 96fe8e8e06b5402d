"""A fast local Stripe stand-in for benchmarks: the calls the portal path makes, and a count of each.

A bare ASGI app (no framework), so that it is never the bottleneck: it answers a portal session in
a few microseconds. It speaks enough of Stripe's wire protocol for the official SDK (form bodies
with ``a[b][0]`` keys, JSON objects, list objects, Stripe's error shape). ``GET /__stats`` gives the
number of calls by ``METHOD /path`` (IDs folded to ``{id}``), which is how the bench checks that a
portal URL costs exactly one upstream call; ``POST /__reset`` zeroes them.
"""

import itertools
import json
import re
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

from litestar.types import Receive, Scope, Send

from bench.apps.asgi import read_body, respond, serve_lifespan

CALLS: Counter[str] = Counter()
CONFIGURATIONS: dict[str, dict[str, Any]] = {}
_SEQUENCE = itertools.count(1)
_KEY = re.compile(r"[^\[\]]+")
_ID = re.compile(r"/(bpc|bps|cus|price|prod|sub|we)_[A-Za-z0-9_]+")


def decode_form(body: bytes) -> dict[str, Any]:
    """Stripe's nested form encoding (``a[b][0]=x``) as dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = _KEY.findall(key)
        node: Any = root
        for part, following in itertools.pairwise(parts):
            child: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(child)
                node = node[index]
            else:
                node = node.setdefault(part, child)
        last = parts[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    return root


def _new_id(prefix: str) -> str:
    return f"{prefix}_bench{next(_SEQUENCE):010d}"


def _error(status: int, message: str, code: str = "", param: str = "") -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {"type": "invalid_request_error", "message": message, "code": code, "param": param}
    }


def _list(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "url": url, "has_more": False, "data": data}


def _configuration(config_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": config_id,
        "object": "billing_portal.configuration",
        "active": params.get("active", "true") != "false",
        "application": None,
        "business_profile": params.get("business_profile", {}),
        "created": int(time.time()),
        "default_return_url": params.get("default_return_url"),
        "features": params.get("features", {}),
        "is_default": False,
        "livemode": False,
        "login_page": {"enabled": False, "url": None},
        "metadata": params.get("metadata", {}),
        "name": params.get("name"),
        "updated": int(time.time()),
    }


def _session(params: dict[str, Any]) -> dict[str, Any]:
    session_id = _new_id("bps")
    now = int(time.time())
    return {
        "id": session_id,
        "object": "billing_portal.session",
        "configuration": params.get("configuration", "bpc_default"),
        "created": now,
        "customer": params.get("customer", ""),
        "flow": None,
        "livemode": False,
        "locale": params.get("locale"),
        "on_behalf_of": None,
        "return_url": params.get("return_url"),
        "url": f"https://billing.stripe.test/p/session/{session_id}",
    }


def _price(lookup_key: str) -> dict[str, Any]:
    interval = "year" if "annual" in lookup_key or "year" in lookup_key else "month"
    return {
        "id": f"price_{lookup_key}",
        "object": "price",
        "active": True,
        "currency": "usd",
        "livemode": False,
        "lookup_key": lookup_key,
        "product": "prod_bench",
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": 1200,
    }


def _customer(customer_id: str) -> dict[str, Any]:
    return {"id": customer_id, "object": "customer", "email": f"{customer_id}@example.test", "metadata": {}}


def route(method: str, path: str, query: bytes, body: bytes) -> tuple[int, dict[str, Any]]:  # noqa: PLR0911
    """The answer to one Stripe API call."""
    if method == "POST" and path == "/v1/billing_portal/sessions":
        return 200, _session(decode_form(body))
    if path == "/v1/billing_portal/configurations":
        if method == "POST":
            config = _configuration(_new_id("bpc"), decode_form(body))
            CONFIGURATIONS[config["id"]] = config
            return 200, config
        return 200, _list(path, list(CONFIGURATIONS.values()))
    if path.startswith("/v1/billing_portal/configurations/"):
        config_id = path.rsplit("/", 1)[1]
        if config_id not in CONFIGURATIONS:
            return _error(404, f"No such configuration: '{config_id}'", "resource_missing", "id")
        if method == "POST":
            params = decode_form(body)
            CONFIGURATIONS[config_id] = {**CONFIGURATIONS[config_id], **_configuration(config_id, params)}
        return 200, CONFIGURATIONS[config_id]
    if path == "/v1/prices":
        keys = [v for k, v in parse_qsl(query.decode()) if k.startswith("lookup_keys")]
        return 200, _list(path, [_price(k) for k in keys])
    if path.startswith("/v1/customers/"):
        return 200, _customer(path.rsplit("/", 1)[1])
    if path in ("/v1/customers", "/v1/subscriptions"):
        return 200, _list(path, [])
    return _error(404, f"Unrecognized request URL ({method}: {path}).")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point."""
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    method, path = scope["method"], scope["path"]
    body = await read_body(receive)
    if path == "/__stats":
        status, answer = 200, dict(CALLS)
    elif path == "/__reset":
        CALLS.clear()
        status, answer = 200, {}
    elif not dict(scope["headers"]).get(b"authorization", b"").startswith(b"Bearer sk_"):
        status, answer = 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key."}}
    else:
        CALLS[f"{method} {_ID.sub('/{id}', path)}"] += 1
        status, answer = route(method, path, scope["query_string"], body)
    await respond(send, status, json.dumps(answer).encode(), [(b"request-id", b"req_bench")])
