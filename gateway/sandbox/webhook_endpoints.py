"""Webhook endpoints (the ``secret`` is shown once, at creation) and events (list, retrieve)."""

import secrets

from stripe.params import (
    EventListParams,
    EventRetrieveParams,
    WebhookEndpointCreateParams,
    WebhookEndpointDeleteParams,
    WebhookEndpointListParams,
    WebhookEndpointRetrieveParams,
    WebhookEndpointUpdateParams,
)

from gateway.sandbox.core import API_VERSION, Call, Operation, checked_metadata, metadata_merged, retriever
from gateway.sandbox.errors import invalid
from gateway.sandbox.store import new_id
from gateway.sandbox.wire import Obj, list_object


def _check_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        msg = f"Invalid URL: {url}. URLs must begin with http:// or https://."
        raise invalid(msg, param="url", code="url_invalid")
    return url


def create(call: Call) -> Obj:
    """``POST /v1/webhook_endpoints``: the answer carries ``secret`` (``whsec_...``), never shown again."""
    p = call.params
    endpoint: Obj = {
        "id": new_id("we", 24),
        "object": "webhook_endpoint",
        "api_version": p.get("api_version") or API_VERSION,
        "application": None,
        "created": call.store.now(),
        "description": p.get("description") or None,
        "enabled_events": list(p["enabled_events"]),
        "livemode": call.livemode,
        "metadata": checked_metadata(p.get("metadata") or {}),
        "status": "enabled",
        "url": _check_url(p["url"]),
    }
    secret = "whsec_" + secrets.token_hex(32)
    call.store.add(endpoint)
    call.store.private[endpoint["id"]] = {"secret": secret}
    return {**endpoint, "secret": secret}


def update(call: Call) -> Obj:
    """``POST /v1/webhook_endpoints/{id}``: ``url``, ``enabled_events``, ``disabled``, metadata."""
    endpoint = call.target("webhook_endpoint")
    p = call.params
    if "url" in p:
        endpoint["url"] = _check_url(p["url"])
    if "enabled_events" in p:
        endpoint["enabled_events"] = list(p["enabled_events"])
    if "disabled" in p:
        endpoint["status"] = "disabled" if p["disabled"] else "enabled"
    if "description" in p:
        endpoint["description"] = p["description"] or None
    if "metadata" in p:
        endpoint["metadata"] = checked_metadata(metadata_merged(endpoint["metadata"], p["metadata"]))
    call.store.add(endpoint)
    return endpoint


def delete(call: Call) -> Obj:
    """``DELETE /v1/webhook_endpoints/{id}``."""
    endpoint = call.target("webhook_endpoint")
    endpoint["deleted"] = True
    call.store.add(endpoint)
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


def list_(call: Call) -> Obj:
    """``GET /v1/webhook_endpoints``."""
    return list_object(
        "/v1/webhook_endpoints", call.store.all("webhook_endpoint", call.livemode), call.params
    )


def list_events(call: Call) -> Obj:
    """``GET /v1/events`` by ``type`` (``*`` wildcards), ``types[]``, ``created`` and ``delivery_success``."""
    p = call.params
    events = call.store.all("event", call.livemode)
    if kind := p.get("type"):
        prefix = kind.rstrip("*")
        events = [
            e for e in events if e["type"] == kind or (kind.endswith("*") and e["type"].startswith(prefix))
        ]
    if types := p.get("types"):
        events = [e for e in events if e["type"] in types]
    if "delivery_success" in p:
        events = [e for e in events if _delivered(call, e["id"]) == p["delivery_success"]]
    created = p.get("created")
    if isinstance(created, int):
        events = [e for e in events if e["created"] == created]
    elif isinstance(created, dict):
        bounds = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
        for op, value in created.items():
            events = [e for e in events if bounds[op](e["created"], value)]
    return list_object("/v1/events", events, p)


def _delivered(call: Call, event_id: str) -> bool:
    return event_id not in call.store.pending and f"undelivered:{event_id}" not in call.store.private


OPERATIONS = [
    Operation("POST", "/v1/webhook_endpoints", WebhookEndpointCreateParams, create),
    Operation("GET", "/v1/webhook_endpoints", WebhookEndpointListParams, list_),
    Operation(
        "GET", "/v1/webhook_endpoints/{id}", WebhookEndpointRetrieveParams, retriever("webhook_endpoint")
    ),
    Operation("POST", "/v1/webhook_endpoints/{id}", WebhookEndpointUpdateParams, update),
    Operation("DELETE", "/v1/webhook_endpoints/{id}", WebhookEndpointDeleteParams, delete),
    Operation("GET", "/v1/events", EventListParams, list_events),
    Operation("GET", "/v1/events/{id}", EventRetrieveParams, retriever("event")),
]
