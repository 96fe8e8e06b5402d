"""GET /metrics: Prometheus text with requests by route, Stripe calls, webhooks and the outbox backlog."""

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import metrics
from gateway.app import create_app
from gateway.metrics import stripe_operation
from gateway.models import Delivery, utcnow
from gateway.vault import Vault
from tests import stripe_payloads as sp
from tests.receivers import (
    add_subscriber,
    all_settled,
    queue_events,
    receiving,
    running,
    until,
    wait_for_deliveries,
)
from tests.sandbox import SandboxServer
from tests.servers import free_port
from tests.support import Database, Tenant, assert_error, make_settings

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: AsyncTestClient[Litestar] | httpx.AsyncClient) -> Samples:
    """Every sample on /metrics, by name and labels."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_http_requests_by_route_method_and_status(client: AsyncTestClient[Litestar]) -> None:
    """Responses count under their path template (IDs make no new series); unrouted ones as one."""
    before = await scrape(client)
    await client.get("/healthz")
    await client.get("/v1/events/evt_gw_1")  # 401: no key
    await client.get("/v1/events/evt_gw_2")
    await client.get("/no/such/path")
    await client.request("BREW", "/healthz")
    after = await scrape(client)
    name = "gateway_http_requests_total"
    counted = {
        ("/healthz", "GET", "200"): 1,
        ("/v1/events/{event_id}", "GET", "401"): 2,
        ("unmatched", "GET", "404"): 1,
        ("unmatched", "other", "405"): 1,  # no handler for that method
    }
    for (route, method, status), count in counted.items():
        labels = {"route": route, "method": method, "status": status}
        assert value(after, name, **labels) - value(before, name, **labels) == count, labels


async def test_stripe_requests_and_latency_by_operation(
    client: AsyncTestClient[Litestar], sandbox: SandboxServer, sandbox_tenant: Tenant
) -> None:
    """A portal session is one POST /v1/billing_portal/sessions (after the one-time preset sync), timed."""
    customer = sandbox.client.v1.customers.create(params={"email": "ada@example.com"}).id
    headers = sandbox_tenant.headers("portal")
    await client.post("/v1/portal-sessions", json={"customer": customer}, headers=headers)
    before = await scrape(client)
    response = await client.post("/v1/portal-sessions", json={"customer": customer}, headers=headers)
    assert response.status_code == 200, response.text
    after = await scrape(client)
    operation = "POST /v1/billing_portal/sessions"
    ok = {"operation": operation, "status": "200"}
    assert (
        value(after, "gateway_stripe_requests_total", **ok)
        - value(before, "gateway_stripe_requests_total", **ok)
        == 1
    )
    count = "gateway_stripe_request_duration_seconds_count"
    assert value(after, count, operation=operation) - value(before, count, operation=operation) == 1
    total = "gateway_stripe_request_duration_seconds_sum"
    assert value(after, total, operation=operation) > value(before, total, operation=operation)


@pytest.mark.parametrize(
    ("method", "url", "operation"),
    [
        ("post", "https://api.stripe.com/v1/billing_portal/sessions", "POST /v1/billing_portal/sessions"),
        ("get", "https://api.stripe.com/v1/customers/cus_NffrFeUfNV2Hib", "GET /v1/customers/{id}"),
        ("get", "http://127.0.0.1:9/sandbox/stripe/v1/prices?lookup_keys[]=x", "GET /v1/prices"),
        (
            "post",
            "https://api.stripe.com/v1/subscriptions/sub_1Mow/cancel",
            "POST /v1/subscriptions/{id}/cancel",
        ),
    ],
)
def test_stripe_operations_name_no_ids(method: str, url: str, operation: str) -> None:
    """Operations are a method and a path with IDs replaced, so the series stay few."""
    assert stripe_operation(method, url) == operation


async def test_stripe_webhooks_by_outcome(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """Received (applied), duplicated and rejected webhook requests are counted apart."""
    await sp.enable_webhooks(db, vault, tenant.workspace_id)
    event = sp.event("customer.subscription.created", sp.subscription())
    before = await scrape(client)
    assert (await sp.send(client, tenant.workspace_id, event)).status_code == 200
    assert (await sp.send(client, tenant.workspace_id, event)).status_code == 200
    assert_error(
        await sp.send(client, tenant.workspace_id, event, secret="whsec_wrong"), 400, "signature_invalid"
    )
    after = await scrape(client)
    name = "gateway_stripe_webhooks_total"
    deltas = {
        o: value(after, name, outcome=o) - value(before, name, outcome=o)
        for o in ("applied", "duplicate", "rejected")
    }
    assert deltas == {"applied": 1, "duplicate": 1, "rejected": 1}


async def test_outbox_backlog_and_lag(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """Pending deliveries, those due now, and how long the oldest due one has waited."""
    await sp.enable_webhooks(db, vault, tenant.workspace_id)
    now = utcnow()
    rows = {"due_long_ago": -120, "due_just_now": -1, "retry_later": 600}
    async with db() as session, session.begin():
        for name, offset in rows.items():
            session.add(
                Delivery(
                    id=f"dlv_{name}",
                    workspace_id=tenant.workspace_id,
                    subscriber_id=f"sbr_all_{tenant.workspace_id[-6:]}",
                    event_type="subscription.updated",
                    message_id=name,
                    body="{}",
                    next_attempt_at=now + timedelta(seconds=offset),
                )
            )
        session.add(
            Delivery(
                id="dlv_done",
                workspace_id=tenant.workspace_id,
                subscriber_id=f"sbr_all_{tenant.workspace_id[-6:]}",
                event_type="subscription.updated",
                message_id="done",
                body="{}",
                status="succeeded",
                next_attempt_at=now - timedelta(hours=1),
            )
        )
    samples = await scrape(client)
    assert value(samples, "gateway_outbox_pending") == 3
    assert value(samples, "gateway_outbox_due") == 2
    assert 120 <= value(samples, "gateway_outbox_oldest_due_age_seconds") < 180


async def test_metrics_port_keeps_metrics_off_the_api(
    tmp_path: Path, database: Database, db: async_sessionmaker[AsyncSession]
) -> None:
    """With GATEWAY_METRICS_PORT, /metrics answers there only; the API's port says not found."""
    port = free_port()
    app = create_app(make_settings(tmp_path, database, metrics_port=port))
    async with AsyncTestClient(app) as client:
        assert_error(await client.get("/metrics"), 404, "not_found")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as private:
            samples = await scrape(private)
    assert ("gateway_outbox_pending", frozenset()) in samples


def _counted(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_delivery_attempts_by_outcome(
    tmp_path: Path, database: Database, tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """A callback that fails once then succeeds counts one retrying and one succeeded attempt."""

    async def flaky(_request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=500) if n == 1 else web.json_response({"ok": True})

    name = "gateway_delivery_attempts_total"
    before = {o: _counted(name, outcome=o) for o in ("retrying", "succeeded", "failed")}
    async with receiving(flaky) as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        await queue_events(db, tenant.workspace_id)
        async with running(make_settings(tmp_path, database, retry_schedule=(0.1,)), vault):
            await wait_for_deliveries(db, all_settled)
    after = {o: _counted(name, outcome=o) - before[o] for o in before}
    assert after == {"retrying": 1, "succeeded": 1, "failed": 0}


async def test_an_outcome_fenced_off_counts_as_a_lease_loss(
    tmp_path: Path, database: Database, tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """When another worker took the delivery over mid-attempt, the late outcome is refused and counted."""
    released = asyncio.Event()

    async def stalled(_request: web.Request, _n: int) -> web.StreamResponse:
        await released.wait()
        return web.json_response({"ok": True})

    name = "gateway_worker_lease_losses_total"
    before = _counted(name)
    async with receiving(stalled) as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        await queue_events(db, tenant.workspace_id)
        async with running(make_settings(tmp_path, database), vault):
            await until(lambda: bool(receiver.requests))
            async with db() as session, session.begin():  # as a worker whose lease began would
                await session.exec(update(Delivery).values(attempts=Delivery.attempts + 1))  # type: ignore[call-overload]
            released.set()
            await until(lambda: _counted(name) > before)
    assert _counted(name) - before == 1


async def test_a_worker_serves_metrics_with_its_own_engine(
    tmp_path: Path, database: Database, db: async_sessionmaker[AsyncSession]
) -> None:
    """`gateway worker` has no app: its listener opens an engine of its own for the outbox gauges."""
    settings = make_settings(tmp_path, database, metrics_port=free_port())
    base_url = f"http://127.0.0.1:{settings.metrics_port}"
    async with metrics.metrics_listener(settings), httpx.AsyncClient(base_url=base_url) as private:
        samples = await scrape(private)
    assert samples[("gateway_outbox_pending", frozenset())] == 0
