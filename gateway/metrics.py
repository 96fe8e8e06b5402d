"""Prometheus metrics: each owning module counts what it does in one line; ``GET /metrics`` renders them.

Counters live in this process (web and worker machines each report their own); the outbox gauges are
read from the database when scraped, so every process reports the whole backlog. Names and meanings
are listed in ``docs/operations.md``. ``prometheus_client`` costs ~0.5 us per counted request here.
"""

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC
from typing import Any, Protocol, TypeVar, cast

import prometheus_client
import stripe
from aiohttp import web
from litestar import Litestar
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from gateway.db import make_engine
from gateway.errors import SignatureInvalid, ValidationFailed
from gateway.models import Delivery, utcnow
from gateway.settings import Settings

logger = logging.getLogger(__name__)
#: A delivery's state after an attempt, as the metric names it.
_DELIVERY_OUTCOMES = {"succeeded": "succeeded", "pending": "retrying", "failed": "failed"}


class _HasStatus(Protocol):
    @property
    def status(self) -> str: ...


Decided = TypeVar("Decided", bound=_HasStatus)
Receive = TypeVar("Receive", bound=Callable[..., Awaitable[tuple[Any, str]]])

prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # one series per counter

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
REGISTRY = CollectorRegistry()

HTTP_REQUESTS = Counter(
    "gateway_http_requests",
    "HTTP responses by route (its path template; 'unmatched' for none), method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
STRIPE_REQUESTS = Counter(
    "gateway_stripe_requests",
    "Requests sent to Stripe (each attempt: the SDK's retries count), by operation and HTTP status "
    "('error': no answer).",
    ["operation", "status"],
    registry=REGISTRY,
)
STRIPE_DURATION = Histogram(
    "gateway_stripe_request_duration_seconds",
    "Time from sending a request to Stripe to reading its answer, by operation.",
    ["operation"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0),
    registry=REGISTRY,
)
STRIPE_WEBHOOKS = Counter(
    "gateway_stripe_webhooks",
    "Stripe webhook requests by outcome: applied, stale, ignored (received and recorded), duplicate "
    "(received before), rejected (bad signature or body: nothing stored).",
    ["outcome"],
    registry=REGISTRY,
)
DELIVERY_ATTEMPTS = Counter(
    "gateway_delivery_attempts",
    "Callback attempts by outcome: succeeded, retrying (failed, another attempt is scheduled), "
    "failed (failed, no attempt left or the subscriber is gone).",
    ["outcome"],
    registry=REGISTRY,
)
LEASE_LOSSES = Counter(
    "gateway_worker_lease_losses",
    "Attempt outcomes a worker could not record: its lease had been taken over (the delivery may be "
    "sent twice), or the delivery was settled meanwhile.",
    registry=REGISTRY,
)
OUTBOX_PENDING = Gauge(
    "gateway_outbox_pending", "Deliveries not yet succeeded or failed (due now or later).", registry=REGISTRY
)
OUTBOX_DUE = Gauge("gateway_outbox_due", "Pending deliveries whose attempt is due now.", registry=REGISTRY)
OUTBOX_OLDEST_DUE_AGE = Gauge(
    "gateway_outbox_oldest_due_age_seconds",
    "How long the longest-waiting due delivery has been due (0: none is waiting): the delivery lag.",
    registry=REGISTRY,
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_http_children: dict[tuple[str, str, int], Any] = {}


def count_response(scope: Any, status: int) -> None:
    """Count one HTTP response (``before_send``); the label set is bounded by the routes."""
    key = (scope.get("path_template", ""), scope.get("method", ""), status)
    child = _http_children.get(key)
    if child is None:
        method = key[1] if key[1] in _METHODS else "other"
        child = HTTP_REQUESTS.labels(key[0] or "unmatched", method, str(status))
        _http_children[key] = child
    child.inc()


@functools.lru_cache(maxsize=1024)
def stripe_operation(method: str, url: str) -> str:
    """``POST /v1/billing_portal/sessions``; IDs in the path become ``{id}`` (``GET /v1/customers/{id}``)."""
    path = url.split("?", 1)[0].split("://", 1)[-1]
    parts = path.split("/")[1:]  # drop the host
    # Stripe IDs mix a prefix with digits or capitals (cus_NffrFeUfNV2Hib); resource names do not.
    words = ["{id}" if "_" in p and any(c.isdigit() or c.isupper() for c in p) else p for p in parts]
    while words and words[0] not in {"v1", "v2"}:  # an API base with a path (the sandbox's)
        words = words[1:]
    return f"{method.upper()} /{'/'.join(words)}"


@functools.cache  # bounded: the operations the gateway uses times the statuses Stripe answers
def _stripe_children(operation: str, status: str) -> tuple[Any, Any]:
    return STRIPE_REQUESTS.labels(operation, status), STRIPE_DURATION.labels(operation)


def meter_stripe_requests(http: stripe.HTTPClient) -> None:
    """Count and time every request the SDK's ``http`` client sends (each retry too)."""
    send = http.request_async

    async def request_async(
        method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        started, status = time.perf_counter(), "error"
        try:
            answer = await send(method, url, headers, post_data)
            status = str(answer[1])
            return answer
        finally:
            requests, duration = _stripe_children(stripe_operation(method, url), status)
            requests.inc()
            duration.observe(time.perf_counter() - started)

    http.request_async = request_async  # type: ignore[method-assign]


def counts_stripe_webhooks(receive: Receive) -> Receive:
    """Decorator for the inbox: count each Stripe webhook request by the outcome it returns."""

    @functools.wraps(receive)
    async def counted(*args: Any, **kwargs: Any) -> tuple[Any, str]:
        try:
            event, outcome = await receive(*args, **kwargs)
        except (SignatureInvalid, ValidationFailed):
            STRIPE_WEBHOOKS.labels("rejected").inc()
            raise
        STRIPE_WEBHOOKS.labels(outcome).inc()
        return event, outcome

    return cast("Receive", counted)


async def refresh_outbox_gauges(engine: AsyncEngine) -> None:
    """Read the backlog from the database (at scrape time: two counts over pending rows)."""
    now = utcnow()
    pending, due = col(Delivery.status) == "pending", col(Delivery.next_attempt_at) <= now
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).where(pending))).scalar_one()
        count, oldest = (
            await conn.execute(select(func.count(), func.min(Delivery.next_attempt_at)).where(pending, due))
        ).one()
    OUTBOX_PENDING.set(total)
    OUTBOX_DUE.set(count)
    if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC
        oldest = oldest.replace(tzinfo=UTC)
    OUTBOX_OLDEST_DUE_AGE.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)


async def render(engine: AsyncEngine) -> bytes:
    """Every metric in Prometheus' text format (the counters even when the database cannot answer)."""
    try:
        await refresh_outbox_gauges(engine)
    except Exception:  # metrics matter most when something is wrong
        logger.warning("could not read the outbox backlog; its gauges keep their last values", exc_info=True)
    return prometheus_client.generate_latest(REGISTRY)


def count_delivery_attempt(outcome: Decided) -> Decided:
    """Count one finished callback attempt by what follows it; the outcome, unchanged."""
    DELIVERY_ATTEMPTS.labels(_DELIVERY_OUTCOMES.get(outcome.status, outcome.status)).inc()
    return outcome


def count_lease_losses(unrecorded: int) -> None:
    """Count outcomes a worker could not record: its lease had been taken over (or the row was gone)."""
    if unrecorded > 0:
        LEASE_LOSSES.inc(unrecorded)


@contextlib.asynccontextmanager
async def serve_metrics_port(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: with ``GATEWAY_METRICS_PORT``, serve ``/metrics`` there only (a private port)."""
    async with metrics_listener(app.state.settings, app.state.engine):
        yield


@contextlib.asynccontextmanager
async def metrics_listener(settings: Settings, engine: AsyncEngine | None = None) -> AsyncIterator[None]:
    """``GET /metrics`` on ``HOST:GATEWAY_METRICS_PORT`` (nothing when that is 0).

    Without an ``engine`` (``gateway worker``) it opens its own for the outbox gauges.
    """
    if not settings.metrics_port:
        yield
        return
    own = engine is None
    database = make_engine(settings) if engine is None else engine

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=await render(database), headers={"Content-Type": CONTENT_TYPE})

    server = web.Application()
    server.router.add_get("/metrics", metrics)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.metrics_port).start()
    try:
        yield
    finally:
        await runner.cleanup()
        if own:
            await database.dispose()
