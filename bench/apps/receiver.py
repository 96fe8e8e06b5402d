"""A local callback receiver for benchmarks: answers 200 at once, counts and timestamps what arrives.

``GET /__stats``: deliveries received, distinct ``webhook-id``s, first and last arrival (Unix
seconds). ``GET /__arrivals``: arrival time by Stripe event ID (for the end-to-end latency probe).
``GET /__last``: the last request's headers and body (to check its signature). ``POST /__reset``.
"""

import json
import re
import time
from typing import Any

from litestar.types import Receive, Scope, Send

from bench.apps.asgi import read_body, respond, serve_lifespan

_STRIPE_EVENT_ID = re.compile(rb'"stripe_event_id"\s*:\s*"([^"]+)"|^\{[^{]*?"id"\s*:\s*"(evt_[^"]+)"')


class Tally:
    """What arrived so far."""

    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.ids: set[bytes] = set()
        self.arrivals: dict[str, float] = {}
        self.last_request: dict[str, Any] = {}

    def record(self, headers: dict[bytes, bytes], body: bytes) -> None:
        """One delivery."""
        now = time.time()
        self.count += 1
        self.first = self.first or now
        self.last = now
        self.ids.add(headers.get(b"webhook-id", b""))
        match = _STRIPE_EVENT_ID.search(body)
        if match:
            self.arrivals.setdefault((match.group(1) or match.group(2)).decode(), now)
        self.last_request = {"headers": headers, "body": body}

    def stats(self) -> dict[str, Any]:
        """Counts and times."""
        return {"count": self.count, "distinct": len(self.ids), "first": self.first, "last": self.last}


TALLY = Tally()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point."""
    global TALLY  # noqa: PLW0603  (reset replaces the tally)
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    path = scope["path"]
    answer: Any = {}
    if path == "/__stats":
        answer = TALLY.stats()
    elif path == "/__arrivals":
        answer = TALLY.arrivals
    elif path == "/__last":
        last = TALLY.last_request
        answer = {
            "headers": {k.decode(): v.decode() for k, v in last.get("headers", {}).items()},
            "body": last.get("body", b"").decode(),
        }
    elif path == "/__reset":
        TALLY = Tally()
    else:
        TALLY.record(dict(scope["headers"]), body)
    await respond(send, 200, json.dumps(answer).encode())
