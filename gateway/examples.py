"""Examples of each operation's request and answer for ``openapi.yaml``, made by the code that makes them.

Keyed by ``operation_id``. The flat bodies come from the same builders as the real answers (samples,
``msgspec`` structs), so an example cannot show a key the API does not send.
"""

from typing import Any

import msgspec

from gateway.flat_events import moments
from gateway.sample_events import SAMPLE_MOMENT, sample_event
from gateway.timestamps import iso_of_unix

REQUEST_ID = "req_5f0c2a9e8b7d6c5b4a392817"
CUSTOMER = "cus_NffrFeUfNV2Hib"


_SAMPLE = msgspec.to_builtins(sample_event("subscription.updated"))
_ISO = iso_of_unix(SAMPLE_MOMENT)


def _page(*items: dict[str, Any]) -> dict[str, Any]:
    return {"data": list(items), "has_more": False, "next_cursor": "", "ok": True}


_KEY = {
    "id": "key_01m8a5avbebrn6ecppjkt6drpg",
    "name": "bubble",
    "scope": "portal",
    "prefix": "gw_test_4fQz",
    "created_at": _ISO,
    "last_used_at": "",
    "revoked": False,
    "ok": True,
}
_PORTAL_REQUEST = {"customer": CUSTOMER, "preset": "legacy", "return_url": "https://app.example/account"}
_PORTAL_ANSWER = {
    "ok": True,
    "url": "https://billing.stripe.com/p/session/test_YWNjdF8xTjBCNm",
    "preset": "legacy",
    "customer_id": CUSTOMER,
    "flow": "",
    "expires_at": iso_of_unix(SAMPLE_MOMENT + 300),
    "expires_at_unix": SAMPLE_MOMENT + 300,
    "livemode": False,
    "request_id": REQUEST_ID,
}
_PRESET = {
    "description": "Customers can cancel (at the end of the period) and do nothing else.",
    "features": {"subscription_cancel": {"enabled": True, "mode": "at_period_end"}},
}
_PRESET_ITEM = {
    "name": "cancel-only",
    "origin": "workspace",
    "description": _PRESET["description"],
    "flow": "",
    "valid": True,
    "problems": [],
    "preset": _PRESET,
    "configuration_id": "bpc_1MowQVLkdIwHu7ixeRlqHVzs",
    "sync_state": "synced",
    "synced_at": _ISO,
    "stripe_params": {"features": {"subscription_cancel": {"enabled": True, "mode": "at_period_end"}}},
    "hash": "9f2c4e1a7b3d5c6e8f0a1b2c3d4e5f60",
    "ok": True,
}
_SUBSCRIPTION = {
    **{k: _SAMPLE[k] for k in ("subscription_id", "customer_id", "status", "is_active", "price_id")},
    **{k: _SAMPLE[k] for k in ("price_lookup_key", "product_id", "plan_interval", "quantity", "preset")},
    "cancel_at_period_end": False,
    **moments("current_period_end", SAMPLE_MOMENT + 30 * 86400),
    **moments("canceled_at", 0),
    **moments("trial_end", 0),
    "version": 3,
    "updated_at": _ISO,
}
_STRIPE_EVENT = {
    "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
    "object": "event",
    "api_version": "2026-10-28.endive",
    "created": SAMPLE_MOMENT,
    "type": "customer.subscription.deleted",
    "livemode": False,
    "data": {"object": {"id": _SAMPLE["subscription_id"], "object": "subscription", "customer": CUSTOMER}},
}

_SUBSCRIBER = {
    "id": "sbr_01m8a5cq4x7k2n9p3r6t8v0w1y",
    "url": "https://yourapp.bubbleapps.io/version-test/api/1.1/wf/stripe-subscription",
    "event_types": ["subscription.created", "subscription.updated", "subscription.canceled"],
    "format": "flat",
    "headers": {"Authorization": "[redacted]"},
    "description": "Bubble (development)",
    "enabled": True,
    "disabled_reason": "",
    "max_in_flight": 4,
    "failing_since": "",
    "previous_secret_expires_at": "",
    "created_at": _ISO,
    "updated_at": _ISO,
    "warnings": [],
    "ok": True,
}
_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105  (an example, not a secret)
_DELIVERY = {
    "id": "dlv_01m8a5d2f6h8k0m2p4r6t8v0w2",
    "subscriber_id": _SUBSCRIBER["id"],
    "event_id": _SAMPLE["event_id"],
    "stripe_event_id": _SAMPLE["stripe_event_id"],
    "event_type": _SAMPLE["event_type"],
    "message_id": _SAMPLE["event_id"],
    "status": "succeeded",
    "attempt_count": 1,
    "next_attempt_at": "",
    "last_status_code": 200,
    "last_error": "",
    "created_at": _ISO,
    "updated_at": _ISO,
    "succeeded_at": _ISO,
    "ok": True,
}
_ATTEMPT = {
    "attempt": 1,
    "started_at": _ISO,
    "duration_ms": 84,
    "status_code": 200,
    "response_body": '{"status":"success","response":{}}',
    "error": "",
    "next_attempt_at": "",
}

#: ``operation_id`` -> the request body's example (only operations that take a JSON body).
REQUESTS: dict[str, Any] = {
    "createKey": {"scope": "portal", "name": "bubble"},
    "createPortalSession": _PORTAL_REQUEST,
    "createPortalLink": {**_PORTAL_REQUEST, "flow": "subscription_cancel", "expires_in": 3600},
    "putPreset": _PRESET,
    "receiveStripeEvent": _STRIPE_EVENT,
    "createSubscriber": {
        "url": "https://yourapp.bubbleapps.io/version-test/api/1.1/wf/stripe-subscription/initialize",
        "event_types": ["subscription.created", "subscription.updated", "subscription.canceled"],
        "headers": {"Authorization": "Bearer 8f14e45fceea167a5a36dedd4bea2543"},
        "description": "Bubble (development)",
    },
    "updateSubscriber": {"url": _SUBSCRIBER["url"]},
    "recoverSubscriberDeliveries": {"since": _ISO},
}

#: ``operation_id`` -> the success answer's example (JSON answers only).
ANSWERS: dict[str, Any] = {
    "getHealth": {"ok": True, "database": "", "migrations": ""},
    "getReadiness": {"ok": True, "database": "ok", "migrations": "current"},
    "listKeys": _page(_KEY),
    "createKey": {**_KEY, "api_key": "gw_test_4fQzXbq0Vd8RkT2mYh6LpWs9"},
    "revokeKey": {**_KEY, "revoked": True},
    "createPortalSession": {
        **_PORTAL_ANSWER,
        "session_id": "bps_1MowQVLkdIwHu7ixeRlqHVzs",
        "configuration_id": "bpc_1MowQVLkdIwHu7ixeRlqHVzs",
    },
    "createPortalLink": {
        **_PORTAL_ANSWER,
        "url": "https://gateway.example/p/eyJ3Ijoid3NfMDFtOGE1YXZiZWJybjZlY3BwamtydDZkcnBnIn0.Zx1",
        "flow": "subscription_cancel",
        "expires_at": iso_of_unix(SAMPLE_MOMENT + 3600),
        "expires_at_unix": SAMPLE_MOMENT + 3600,
    },
    "listPresets": _page(_PRESET_ITEM),
    "getPreset": _PRESET_ITEM,
    "putPreset": _PRESET_ITEM,
    "deletePreset": {"name": "cancel-only", "deleted": True, "file_preset_applies": True, "ok": True},
    "syncPreset": {**_PRESET_ITEM, "action": "update", "changes": []},
    "listCustomerSubscriptions": _page(_SUBSCRIPTION),
    "receiveStripeEvent": {"stripe_event_id": _STRIPE_EVENT["id"], "outcome": "applied", "ok": True},
    "getSampleEvent": _SAMPLE,
    "listEvents": _page(_SAMPLE),
    "getEvent": {**_SAMPLE, "ok": True},
    "listSubscribers": _page(_SUBSCRIBER),
    "createSubscriber": {**_SUBSCRIBER, "url": f"{_SUBSCRIBER['url']}/initialize", "secret": _SECRET},
    "getSubscriber": _SUBSCRIBER,
    "updateSubscriber": _SUBSCRIBER,
    "deleteSubscriber": _SUBSCRIBER,
    "rotateSubscriberSecret": {**_SUBSCRIBER, "previous_secret_expires_at": _ISO, "secret": _SECRET},
    "testSubscriber": _page({**_DELIVERY, "status": "pending", "attempt_count": 0, "next_attempt_at": _ISO}),
    "recoverSubscriberDeliveries": {"requeued": 3, "ok": True},
    "listDeliveries": _page(_DELIVERY),
    "getDelivery": {**_DELIVERY, "body": msgspec.json.encode(_SAMPLE).decode(), "attempts": [_ATTEMPT]},
    "retryDelivery": {**_DELIVERY, "status": "pending", "next_attempt_at": _ISO},
}
