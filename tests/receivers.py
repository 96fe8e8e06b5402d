"""Callback receivers on 127.0.0.1 for delivery tests, and helpers to queue and await deliveries."""

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.egress import CallbackGuard
from gateway.ids import new_id
from gateway.models import Delivery, Event
from gateway.outbox import enqueue
from gateway.settings import Settings
from gateway.subscribers import create_subscriber
from gateway.vault import Vault
from gateway.worker import Worker, stop_worker


@dataclass
class Received:
    """One request a receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


Reply = Callable[[web.Request, int], Awaitable[web.StreamResponse]]


@dataclass
class Receiver:
    """Answers with ``reply(request, n)`` (n counts from 1) and records every request under its URL.

    The URL has a random first segment: other suites running on this machine may send stray
    callbacks to a port this receiver reuses, and those must not count. With ``record`` off, requests
    are answered but not kept (``reply`` counts what it needs: long runs would fill memory).
    """

    reply: Reply
    port: int = 0
    prefix: str = field(default_factory=lambda: "/r" + secrets.token_hex(4))
    requests: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    record: bool = True

    @property
    def url(self) -> str:
        """Where to send callbacks (append any path)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def url_on(self, host: str) -> str:
        """The same URL with another host name (resolved by a test's own DNS)."""
        return f"http://{host}:{self.port}{self.prefix}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not request.path.startswith(self.prefix):
            return web.Response(status=404)
        body = await request.read()
        path = request.path_qs.removeprefix(self.prefix) or "/"
        if self.record:
            self.requests.append(Received(path, dict(request.headers), body, time.monotonic()))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self.reply(request, len(self.requests))
        finally:
            self.in_flight -= 1


async def ok(_request: web.Request, _n: int) -> web.StreamResponse:
    return web.json_response({"ok": True})


@asynccontextmanager
async def receiving(reply: Reply = ok, *, record: bool = True) -> AsyncIterator[Receiver]:
    """A receiver served on a free port of 127.0.0.1 in this event loop."""
    receiver = Receiver(reply, record=record)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.port = runner.addresses[0][1]
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def subscribe(client: Any, tenant: Any, url: str, **body: object) -> dict[str, Any]:
    """A subscriber created through the API (201 asserted); the answer, ``secret`` included."""
    response = await client.post("/v1/subscribers", json={"url": url, **body}, headers=tenant.headers())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def add_subscriber(
    db: async_sessionmaker[AsyncSession], vault: Vault, workspace_id: str, url: str, **fields: Any
) -> tuple[str, str]:
    """A subscriber (private URLs allowed); its ID and secret."""
    values: dict[str, Any] = {"event_types": ["*"], "format": "flat", "headers": {}, **fields}
    async with db() as session, session.begin():
        subscriber, secret = await create_subscriber(
            session, vault, CallbackGuard(allow_private=True), workspace_id=workspace_id, url=url, **values
        )
    return subscriber.id, secret


async def queue_events(
    db: async_sessionmaker[AsyncSession],
    workspace_id: str,
    count: int = 1,
    event_type: str = "subscription.updated",
) -> list[Delivery]:
    """``count`` flat events of ``event_type``, queued for every subscriber that wants them."""
    async with db() as session, session.begin():
        events = []
        for i in range(count):
            event_id = new_id("evt_gw")
            body = f'{{"event_id":"{event_id}","event_type":"{event_type}","n":{i},"note":"caf\\u00e9 ✓"}}'
            events.append(Event(id=event_id, workspace_id=workspace_id, event_type=event_type, body=body))
        session.add_all(events)
        await session.flush()
        return await enqueue(session, workspace_id=workspace_id, events=events)


async def until(condition: Callable[[], bool], *, within: float = 30.0) -> None:
    """Wait until ``condition()`` holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            msg = "condition not reached in time"
            raise AssertionError(msg)
        await asyncio.sleep(0.01)


async def wait_for_deliveries(
    db: async_sessionmaker[AsyncSession],
    check: Callable[[list[Delivery]], bool],
    *,
    within: float = 30.0,
) -> list[Delivery]:
    """Poll the deliveries until ``check`` holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        async with db() as session:
            rows = list((await session.exec(select(Delivery).order_by(Delivery.id))).all())
        if check(rows):
            return rows
        if time.monotonic() > deadline:
            summary = [(d.id, d.status, d.attempts, d.last_status_code, d.last_error) for d in rows]
            msg = f"deliveries did not reach the expected state: {summary}"
            raise AssertionError(msg)
        await asyncio.sleep(0.02)


def all_settled(rows: list[Delivery]) -> bool:
    return bool(rows) and all(d.status != "pending" for d in rows)


@asynccontextmanager
async def running(settings: Settings, vault: Vault, **options: Any) -> AsyncIterator[Worker]:
    """A worker delivering in this event loop until the block ends (then stopped gracefully)."""
    options.setdefault("guard", CallbackGuard(allow_private=settings.allow_private_callbacks))
    worker = Worker(settings=settings, vault=vault, **options)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        await stop_worker(worker, task)
