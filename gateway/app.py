"""``create_app(settings)``: the Litestar application. Nothing connects until its lifespan starts."""

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import __version__
from gateway.auth import ApiKeyMiddleware, Authenticator, provide_principal
from gateway.console import console_router, template_config
from gateway.db import (
    make_engine,
    make_read_session_factory,
    make_session_factory,
    migration_heads,
    open_session,
)
from gateway.idempotency import IdempotencyMiddleware, purge_idempotency_records
from gateway.inbox import run_inbox
from gateway.logs import configure_logging
from gateway.metrics import serve_metrics_port
from gateway.openapi import document
from gateway.portal.links import LinkSigner
from gateway.portal.sessions import Portal
from gateway.presets.catalog import report_preset_problems
from gateway.ratelimit import RateLimiter
from gateway.responses import assign_request_id, error_response, send_request_id
from gateway.routes import ROUTES
from gateway.settings import Settings
from gateway.stripe_client import StripeClients
from gateway.vault import Vault
from gateway.worker import deliveries_lifespan

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
HOUSEKEEPING_INTERVAL_S = 10.0


async def _provide_session(state: State) -> AsyncIterator[AsyncSession]:
    async for session in open_session(state.session_factory):
        yield session


def _provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def _provide_vault(state: State) -> Vault:
    vault: Vault = state.vault
    return vault


async def _housekeeping(state: State) -> None:
    """Flush key usage often; purge expired idempotency records now and then."""
    rounds = 0
    while True:
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
        try:
            await state.authenticator.flush_usage()
            if rounds % 360 == 0:
                async with state.session_factory() as session, session.begin():
                    await purge_idempotency_records(session)
        except Exception:
            logger.exception("housekeeping failed; will try again")
        rounds += 1


@contextlib.asynccontextmanager
async def _database(app: Litestar) -> AsyncIterator[None]:
    state = app.state
    state.vault = Vault(state.settings.secret_keys())
    state.migration_heads = migration_heads()
    state.engine = make_engine(state.settings)
    state.session_factory = make_session_factory(state.engine)
    state.read_sessions = make_read_session_factory(state.engine)
    state.authenticator = Authenticator(
        state.session_factory, RateLimiter(*state.settings.rate_limit), reads=state.read_sessions
    )
    state.stripe = StripeClients(state.settings, state.vault)
    state.portal = Portal(state.settings, state.session_factory, state.stripe, reads=state.read_sessions)
    state.link_signer = LinkSigner(state.settings.secret_keys())
    report_preset_problems(state.settings)
    task = asyncio.create_task(_housekeeping(state), name="housekeeping")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await state.authenticator.flush_usage()
        await state.stripe.close()
        await state.engine.dispose()


def _freeze_startup_heap() -> None:
    """Leave what startup built (the app, the ORM, the SDK) out of every later garbage collection.

    A full collection walks every tracked object: about 180,000 after startup, 120 ms a walk here,
    which made the portal path's p99 under load twice the bare baseline's and cost ~15 % of its
    throughput. Objects made later are collected as before.
    """
    gc.collect()
    gc.freeze()


def _openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Portal Gateway",
        version=__version__,
        description="Stripe Customer Portal URLs by preset, and subscription changes out to your callbacks.",
        security=[{"bearerAuth": []}, {"apiKeyHeader": []}],
        components=Components(
            security_schemes={
                "bearerAuth": SecurityScheme(
                    type="http", scheme="bearer", description="Authorization: Bearer gw_..."
                ),
                "apiKeyHeader": SecurityScheme(
                    type="apiKey",
                    name="X-API-Key",
                    security_scheme_in="header",
                    description="X-API-Key: gw_...",
                ),
            }
        ),
        use_handler_docstrings=True,
        path="/schema",
    )


def _sandbox(settings: Settings) -> tuple[list[Any], list[Any]]:
    """The sandbox's routes and lifespan in development; in production none, and its code never loaded."""
    if settings.env == "production":
        return [], []
    from gateway.sandbox.app import sandbox_handlers, serve_sandbox  # noqa: PLC0415

    return sandbox_handlers(), [serve_sandbox]


def create_app(settings: Settings | None = None) -> Litestar:
    """The gateway application for ``settings`` (read from the environment when not given)."""
    settings = settings or Settings()
    configure_logging()
    state = State({"settings": settings})

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Any:
        return error_response(request, exc)

    sandbox_handlers, sandbox_lifespan = _sandbox(settings)
    app = Litestar(
        route_handlers=[*ROUTES, console_router(), *sandbox_handlers],
        state=state,
        lifespan=[_database, deliveries_lifespan, run_inbox, *sandbox_lifespan, serve_metrics_port],
        on_startup=[_freeze_startup_heap],  # after every lifespan above has started
        dependencies={
            "session": Provide(_provide_session),
            "principal": Provide(provide_principal),
            "settings": Provide(_provide_settings, sync_to_thread=False),
            "vault": Provide(_provide_vault, sync_to_thread=False),
        },
        before_send=[send_request_id],
        middleware=[
            assign_request_id,
            DefineMiddleware(ApiKeyMiddleware, exclude=["^/schema"]),
            IdempotencyMiddleware,
        ],
        exception_handlers={Exception: handle},
        openapi_config=_openapi_config(),
        template_config=template_config(),
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=None,
        debug=False,
    )
    document(app)
    return app
