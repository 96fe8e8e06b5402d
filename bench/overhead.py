"""A path's own cost, in process: CPU microseconds per request, gateway against its baseline.

Both apps are driven through ASGI directly (no sockets, no uvicorn). For the portal path the Stripe
SDK's HTTP client is swapped for one that answers from the Stripe stand-in's code in the same
process: all the SDK's work (request building, response parsing) stays, the network goes. Ingest
sends new signed events 50 at a time, so that commits group as under load; CPU time counts every
thread (the SQLite writers too). What remains is what the gateway adds, measured without the noise
of a busy machine. ``python -m bench.overhead ingest --profile`` also prints where the gateway's
time goes (cProfile); ``--postgres URL`` puts the gateway's database on PostgreSQL (the baseline
stays on ``sqlite3``), where the writer's CPU is counted and the server's is not.
"""

import argparse
import asyncio
import cProfile
import itertools
import json
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import stripe

from bench import events
from bench.apps import stripe_double
from bench.deployment import STRIPE_KEY, Deployment, drop, prepare, subscriber_rows
from gateway import stripe_client
from gateway.app import create_app

Message = dict[str, Any]
#: Alternating measured rounds per app.
ROUNDS = 7
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


Request = tuple[str, bytes, dict[str, str]]  # path, body, headers


async def call(app: ASGIApp, request: Request) -> tuple[int, bytes]:
    """One POST through the app's ASGI interface."""
    path, body, headers = request
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
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
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


async def per_request_us(
    app: ASGIApp, requests: Callable[[], Request], count: int, concurrency: int = 1
) -> float:
    """CPU microseconds per request (all threads) over ``count`` requests, ``concurrency`` at a time."""

    async def batch(size: int) -> None:
        for status, answer in await asyncio.gather(*(call(app, requests()) for _ in range(size))):
            if status != 200:
                msg = f"answered {status}: {answer[:300]!r}"
                raise RuntimeError(msg)

    for _ in range(200 // concurrency):
        await batch(concurrency)
    started = time.process_time()
    for _ in range(count // concurrency):
        await batch(concurrency)
    return (time.process_time() - started) * 1e6 / (count // concurrency * concurrency)


def portal_workload(deployment: Deployment, work: Path) -> tuple[Callable[[], Request], int, ASGIApp]:
    """The same portal URL request each time, one at a time; and the baseline app."""
    from bench.scenarios.portal import BODY, PATH  # noqa: PLC0415

    os.environ |= {
        "BENCH_KEYS": str(deployment.write_keys(work / "keys.txt")),
        "BENCH_STRIPE_KEY": STRIPE_KEY,
        "BENCH_STRIPE_BASE": "http://stripe.invalid",
    }
    from bench.apps import portal_baseline  # noqa: PLC0415  (reads the variables above)

    request = (PATH, BODY.encode(), {"authorization": f"Bearer {deployment.tenants[0].portal_key}"})
    return lambda: request, 1, portal_baseline.app


def ingest_workload(deployment: Deployment, work: Path) -> tuple[Callable[[], Request], int, ASGIApp]:
    """A new signed Stripe event each time, 50 at a time (so that commits group); and the baseline app."""
    tenant = deployment.tenants[0]
    os.environ |= {
        "BENCH_TARGETS": str(deployment.write_targets(work / "targets.tsv")),
        "BENCH_BASELINE_DB": str(work / "baseline.db"),
    }
    from bench.apps import ingest_baseline  # noqa: PLC0415  (reads the variables above)

    serial = itertools.count()

    def request() -> Request:
        body = events.render(f"inproc{next(serial)}", "cus_inproc")
        signature = {"stripe-signature": events.stripe_signature(body, tenant.webhook_secret)}
        return f"/v1/stripe/webhooks/{tenant.workspace_id}", body, signature

    return request, 50, ingest_baseline.app


WORKLOADS = {"portal": portal_workload, "ingest": ingest_workload}


def main() -> None:
    """Measure the gateway and the baseline of one path; with ``--profile``, also cProfile the gateway."""
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", choices=WORKLOADS, default="portal")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL: the gateway's database there")
    args = parser.parse_args()
    outcome = measure(args.path, args.requests, profile=args.profile, postgres_url=args.postgres)
    print(json.dumps(asyncio.run(outcome)))


async def measure(
    path: str, requests: int, *, profile: bool = False, postgres_url: str = ""
) -> dict[str, Any]:
    """Gateway and baseline CPU microseconds per request of ``path``, in process."""
    stripe.AIOHTTPClient = InProcessStripe  # type: ignore[misc]  # both apps build theirs at startup
    # The gateway's own subclass (it maps a body cut short to a connection error) was bound at import.
    stripe_client._AIOHTTPClient = InProcessStripe  # type: ignore[misc]  # noqa: SLF001
    work = Path(tempfile.mkdtemp(prefix="gateway-overhead-"))
    deployment = await asyncio.to_thread(
        prepare, work, name="overhead", stripe_base="http://stripe.invalid", postgres_url=postgres_url
    )
    await asyncio.to_thread(subscriber_rows, deployment, "http://127.0.0.1:9/hook")
    os.environ |= deployment.env
    make_request, concurrency, baseline = WORKLOADS[path](deployment, work)
    results: dict[str, Any] = {"path": path, "concurrency": concurrency}
    apps = {"gateway": create_app(deployment.settings), "baseline": baseline}
    shutdowns = [await _lifespan(app) for app in apps.values()]
    # Rounds alternate between the two apps and each side keeps its median round: this VM's speed
    # drifts by 20 % from one second to the next, which one long pass each would read as cost.
    costs: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(ROUNDS):
        for name, app in apps.items():
            costs[name].append(
                await per_request_us(app, make_request, max(requests // ROUNDS, 1), concurrency)
            )
    for name, rounds in costs.items():
        results[f"{name}_us_per_request"] = round(statistics.median(rounds), 1)
        results[f"{name}_rounds_us"] = [round(cost, 1) for cost in rounds]
    if profile:
        profiler = cProfile.Profile(time.thread_time)  # this thread's CPU, not waits
        profiler.enable()
        await per_request_us(apps["gateway"], make_request, requests, concurrency)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(45)
    for shutdown in shutdowns:
        await shutdown()
    if postgres_url:
        await asyncio.to_thread(drop, deployment)
    results["added_us_per_request"] = round(
        results["gateway_us_per_request"] - results["baseline_us_per_request"], 1
    )
    results["ratio"] = round(results["baseline_us_per_request"] / results["gateway_us_per_request"], 3)
    return results


if __name__ == "__main__":
    main()
