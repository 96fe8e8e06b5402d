"""A gateway deployment to benchmark: its settings, a migrated database, workspaces, keys, history.

Everything is made through the gateway's own code (migrations, ``create_workspace``, ``create_key``)
or its HTTP API (subscribers), so the bench measures what a user would run. Stored history for the
scale runs is bulk-inserted with SQLAlchemy Core into the gateway's own tables.
"""

import asyncio
import base64
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.procs import ROOT, http
from gateway import cli as gateway_cli
from gateway.app import create_app
from gateway.db import make_engine, make_session_factory, upgrade_database
from gateway.ids import new_id
from gateway.keys import create_key
from gateway.models import Delivery, Event, StripeEvent, Subscriber, Subscription
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.workspaces import create_workspace

T = TypeVar("T")
SECRET_KEY = "bench-secret-key-" + "x" * 32
STRIPE_KEY = "sk_test_bench0000000000000000"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/gateway_bench"


@dataclass
class Tenant:
    """One workspace with its keys and its Stripe webhook secret."""

    workspace_id: str
    admin_key: str
    portal_key: str
    webhook_secret: str
    subscriber_secret: str = ""


@dataclass
class Deployment:
    """Settings (as ``GATEWAY_*`` variables) and the tenants made in its database."""

    env: dict[str, str]
    tenants: list[Tenant] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        """The gateway's ``Settings`` for ``env``."""
        values = {
            k.removeprefix("GATEWAY_").lower(): v for k, v in self.env.items() if k.startswith("GATEWAY_")
        }
        return Settings(**values)  # type: ignore[arg-type]

    @property
    def is_postgres(self) -> bool:
        """Whether it runs on PostgreSQL."""
        return not self.settings.is_sqlite

    def write_keys(self, path: Path) -> Path:
        """The portal keys, one per line (for ``lua/portal.lua`` and the portal baseline)."""
        path.write_text("".join(f"{t.portal_key}\n" for t in self.tenants))
        return path

    def write_targets(self, path: Path) -> Path:
        """``webhook path<TAB>secret`` per workspace (for ``lua/stripe_event.lua``)."""
        path.write_text(
            "".join(f"/v1/stripe/webhooks/{t.workspace_id}\t{t.webhook_secret}\n" for t in self.tenants)
        )
        return path


def run_async(work: Callable[[AsyncEngine], Awaitable[T]], settings: Settings) -> T:
    """``work`` with an engine on ``settings``' database, in a loop of its own."""

    async def main() -> T:
        engine = make_engine(settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


async def _postgres_schema(url: str, statement: str) -> None:
    parsed = make_url(url)
    conn_args = {"host": parsed.host, "port": parsed.port or 5432, "user": parsed.username}
    try:
        conn = await asyncpg.connect(database=parsed.database, **conn_args)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(database="postgres", **conn_args)
        await admin.execute(f'CREATE DATABASE "{parsed.database}"')
        await admin.close()
        conn = await asyncpg.connect(database=parsed.database, **conn_args)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def postgres_reachable(url: str) -> bool:
    """Whether PostgreSQL answers at ``url`` (its database is created if missing)."""
    try:
        asyncio.run(_postgres_schema(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError):
        return False
    return True


def prepare(
    work: Path,
    *,
    name: str,
    stripe_base: str,
    postgres_url: str = "",
    workspaces: int = 1,
    worker: str = "off",
) -> Deployment:
    """A migrated database (a SQLite file, or a fresh PostgreSQL schema) with ``workspaces`` tenants."""
    env = {
        # As deployed: no sandbox in the measured process (the Stripe stand-in is a process of its own).
        "GATEWAY_ENV": "production",
        "GATEWAY_SECRET_KEY": SECRET_KEY,
        "GATEWAY_DATA_DIR": str(work / f"{name}-data"),
        "GATEWAY_PRESETS_DIR": str(ROOT / "presets"),
        "GATEWAY_STRIPE_API_BASE": stripe_base,
        "GATEWAY_ALLOW_PRIVATE_CALLBACKS": "true",
        "GATEWAY_WORKER": worker,
        # Rate limits are per key and would cap a benchmark long before the gateway does.
        "GATEWAY_RATE_LIMIT": "10000000/s",
    }
    if postgres_url:
        schema = f"bench_{name.replace('-', '_')}_{secrets.token_hex(3)}"
        asyncio.run(_postgres_schema(postgres_url, f"CREATE SCHEMA {schema}"))
        env |= {"GATEWAY_DATABASE_URL": postgres_url, "GATEWAY_DATABASE_SCHEMA": schema}
    else:
        database = work / f"{name}.db"
        for leftover in work.glob(f"{name}.db*"):
            leftover.unlink()
        env["GATEWAY_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    deployment = Deployment(env=env)
    settings = deployment.settings
    upgrade_database(settings)
    deployment.tenants = run_async(lambda engine: _make_tenants(engine, settings, workspaces), settings)
    return deployment


async def _make_tenants(engine: AsyncEngine, settings: Settings, count: int) -> list[Tenant]:
    vault = Vault(settings.secret_keys())
    tenants = []
    async with make_session_factory(engine)() as session, session.begin():
        for number in range(count):
            webhook_secret = "whsec_" + secrets.token_hex(16)
            workspace, admin_key = await create_workspace(
                session,
                vault,
                settings,
                name=f"bench-{number}",
                stripe_key=STRIPE_KEY,
                webhook_secret=webhook_secret,
            )
            _, portal_key = await create_key(session, workspace=workspace, scope="portal", name="bench")
            tenants.append(Tenant(workspace.id, admin_key, portal_key, webhook_secret))
    return tenants


def drop(deployment: Deployment) -> None:
    """Drop a PostgreSQL deployment's schema (a SQLite file is left in the work folder)."""
    schema = deployment.env.get("GATEWAY_DATABASE_SCHEMA")
    if schema:
        asyncio.run(_postgres_schema(deployment.env["GATEWAY_DATABASE_URL"], f"DROP SCHEMA {schema} CASCADE"))


def route_paths(deployment: Deployment) -> set[str]:
    """The paths the gateway on main serves (to know which benchmarks it can run yet)."""
    return {route.path for route in create_app(deployment.settings).routes}


def subscribe(deployment: Deployment, base_url: str, callback_url: str, max_in_flight: int = 4) -> None:
    """One subscriber per workspace, to ``callback_url``, for every event type.

    Through the API when the gateway has it; before the subscribers API was on main, as rows.
    """
    if "/v1/subscribers" not in route_paths(deployment):
        subscriber_rows(deployment, callback_url, max_in_flight)
        return
    for tenant in deployment.tenants:
        fields = {
            "url": callback_url,
            "event_types": ["*"],
            "description": "bench",
            "max_in_flight": max_in_flight,
        }
        headers = {"Authorization": f"Bearer {tenant.admin_key}", "Content-Type": "application/json"}
        status, answer = http("POST", f"{base_url}/v1/subscribers", json.dumps(fields).encode(), headers)
        if status != 201:
            msg = f"creating a subscriber failed: {status} {answer[:500]!r}"
            raise RuntimeError(msg)
        tenant.subscriber_secret = json.loads(answer)["secret"]


def subscriber_rows(deployment: Deployment, url: str, max_in_flight: int = 4) -> None:
    """One subscriber per workspace, written straight into the database."""
    run_async(lambda engine: _subscriber_rows(engine, deployment, url, max_in_flight), deployment.settings)


async def _subscriber_rows(engine: AsyncEngine, deployment: Deployment, url: str, max_in_flight: int) -> None:
    vault = Vault(deployment.settings.secret_keys())
    async with make_session_factory(engine)() as session, session.begin():
        for tenant in deployment.tenants:
            tenant.subscriber_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
            secret = vault.encrypt(tenant.subscriber_secret)
            row = Subscriber(id=new_id("sub"), workspace_id=tenant.workspace_id, url=url, secret_enc=secret)
            row.max_in_flight = max_in_flight
            session.add(row)


def count_rows(deployment: Deployment) -> dict[str, int]:
    """Rows in the tables the ingest path writes."""

    async def work(engine: AsyncEngine) -> dict[str, int]:
        counts = {}
        async with engine.connect() as conn:
            for model in (StripeEvent, Event, Subscription, Delivery):
                table: Any = model.__table__  # type: ignore[attr-defined]
                counts[table.name] = (
                    await conn.execute(select(func.count()).select_from(table))
                ).scalar_one()
        return counts

    return run_async(work, deployment.settings)


def pipeline_ready(
    deployment: Deployment, routes: tuple[str, ...] = ("/v1/stripe/webhooks/", "/v1/subscribers")
) -> str:
    """What the gateway on main lacks to take a Stripe event all the way to a callback ("" if nothing)."""
    paths = route_paths(deployment)
    missing = [p for p in routes if not any(r.startswith(p) for r in paths)]
    if "worker" not in gateway_cli.main.commands:  # type: ignore[attr-defined]
        missing.append("gateway worker")
    return f"not on main yet: {', '.join(missing)}" if missing else ""


def pending_deliveries(deployment: Deployment) -> int:
    """Deliveries not yet succeeded or given up."""

    async def work(engine: AsyncEngine) -> int:
        table: Any = Delivery.__table__  # type: ignore[attr-defined]
        async with engine.connect() as conn:
            query = select(func.count()).select_from(table).where(table.c.status == "pending")
            count: int = (await conn.execute(query)).scalar_one()
            return count

    return run_async(work, deployment.settings)
