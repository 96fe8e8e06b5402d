"""The portal path's own cost, in process: CPU microseconds per request, gateway against baseline.

Both apps are driven through ASGI directly (no sockets, no uvicorn) with the Stripe SDK's HTTP
client swapped for one that answers from the Stripe stand-in's code in the same process: all the
SDK's work (request building, response parsing) stays, the network goes. What remains is what the
gateway adds around one Stripe call, measured without the noise of a busy machine.
``python -m bench.overhead --profile`` also prints where the gateway's extra time goes (cProfile).
"""

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import stripe

from bench.apps import stripe_double

Message = dict[str, Any]
ASGIApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class InProcessStripe(stripe.AIOHTTPClient):
    """The SDK's aiohttp client, answering from the stand-in's routes instead of the network."""

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """What the stand-in would have answered."""
        del headers
        parts = urlsplit(url)
        body = post_data if isinstance(post_data, bytes) else (post_data or "").encode()
        status, answer = stripe_double.route(method.upper(), parts.path, parts.query.encode(), body)
        return json.dumps(answer).encode(), status, {"request-id": "req_inprocess"}


async def _lifespan(app: ASGIApp) -> Callable[[], Awaitable[None]]:
    """Start ``app``'s lifespan; a function that shuts it down."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(started)

    async def shutdown() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return shutdown


async def call(app: ASGIApp, path: str, body: bytes, key: str) -> tuple[int, bytes]:
    """One POST through the app's ASGI interface."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {key}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def per_request_us(app: ASGIApp, path: str, body: bytes, key: str, requests: int) -> float:
    """CPU microseconds per request over ``requests`` sequential requests (after a warm-up)."""
    for _ in range(200):
        status, answer = await call(app, path, body, key)
        if status != 200:
            msg = f"{path} answered {status}: {answer[:300]!r}"
            raise RuntimeError(msg)
    started = time.process_time()
    for _ in range(requests):
        await call(app, path, body, key)
    return (time.process_time() - started) * 1e6 / requests


def main() -> None:
    """Measure both apps; with ``--profile``, also cProfile the gateway."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.requests, profile=args.profile))))


async def measure(requests: int, *, profile: bool = False) -> dict[str, Any]:
    """Gateway and baseline microseconds per portal URL, in process."""
    from bench.deployment import STRIPE_KEY, prepare  # noqa: PLC0415  (needs the environment set below)
    from bench.scenarios.portal import BODY, PATH  # noqa: PLC0415

    stripe.AIOHTTPClient = InProcessStripe  # type: ignore[misc]  # both apps build theirs at startup
    work = Path(tempfile.mkdtemp(prefix="gateway-overhead-"))
    deployment = await asyncio.to_thread(prepare, work, name="overhead", stripe_base="http://stripe.invalid")
    key = deployment.tenants[0].portal_key
    os.environ |= deployment.env | {
        "BENCH_KEYS": str(deployment.write_keys(work / "keys.txt")),
        "BENCH_STRIPE_KEY": STRIPE_KEY,
        "BENCH_STRIPE_BASE": "http://stripe.invalid",
    }
    from bench.apps import portal_baseline  # noqa: PLC0415
    from gateway.app import create_app  # noqa: PLC0415

    results: dict[str, Any] = {}
    for name, app in (("gateway", create_app(deployment.settings)), ("baseline", portal_baseline.app)):
        shutdown = await _lifespan(app)
        results[f"{name}_us_per_request"] = round(
            await per_request_us(app, PATH, BODY.encode(), key, requests), 1
        )
        if profile and name == "gateway":
            profiler = cProfile.Profile()
            profiler.enable()
            await per_request_us(app, PATH, BODY.encode(), key, requests)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        await shutdown()
    results["added_us_per_request"] = round(
        results["gateway_us_per_request"] - results["baseline_us_per_request"], 1
    )
    results["ratio"] = round(results["baseline_us_per_request"] / results["gateway_us_per_request"], 3)
    return results


if __name__ == "__main__":
    main()
