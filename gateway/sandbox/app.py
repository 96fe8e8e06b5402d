"""The sandbox's HTTP surface, mounted in the gateway (development only) or served alone for tests."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar
from litestar.datastructures import State

from gateway.sandbox import checkout, control, portal_page
from gateway.sandbox.api import stripe_api
from gateway.sandbox.core import Sandbox
from gateway.settings import Settings

#: Where a development gateway keeps its sandbox's state (under ``GATEWAY_DATA_DIR``).
STATE_FILE = "sandbox-state.json"


def sandbox_handlers() -> list[Any]:
    """Every route of the sandbox (all under ``/sandbox``)."""
    return [stripe_api, *control.HANDLERS, *portal_page.HANDLERS, *checkout.HANDLERS]


@contextlib.asynccontextmanager
async def serve_sandbox(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: the gateway's own sandbox, its state kept under ``GATEWAY_DATA_DIR``."""
    settings: Settings = app.state.settings
    if settings.env == "production":
        yield
        return
    sandbox = Sandbox(state_path=settings.data_dir / STATE_FILE, public_url=settings.public_url)
    app.state.sandbox = sandbox
    async with running(sandbox):
        yield


@contextlib.asynccontextmanager
async def running(sandbox: Sandbox) -> AsyncIterator[Sandbox]:
    """Deliver pending events while serving; save and stop on the way out."""
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.faults.closing = True
        await sandbox.close()


def create_sandbox_app(sandbox: Sandbox) -> Litestar:
    """The sandbox alone (for tests and benchmarks), at the same paths as in the gateway."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with running(sandbox):
            yield

    return Litestar(
        route_handlers=sandbox_handlers(),
        state=State({"sandbox": sandbox}),
        lifespan=[lifespan],
        openapi_config=None,
        logging_config=None,
    )
