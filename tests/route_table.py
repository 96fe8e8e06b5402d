"""The app's route table as tests walk it: every route with its path and query parameters, the
documented request bodies, a workspace with an object for every parameter, and the database's rows
(to show what a walk changed).
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.params import ParameterKwarg
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import ApiKey, Delivery, Event
from gateway.vault import Vault
from tests import stripe_payloads as sp
from tests.receivers import add_subscriber
from tests.support import Tenant

ROOT = Path(__file__).parent.parent
#: The names routes give B's objects (path and query parameters, body fields), each filled by populate.
OBJECT_NAMES = (
    "subscriber_id", "subscriber", "delivery_id", "event_id", "event", "key_id", "name", "preset",
    "customer", "customer_id", "subscription_id", "subscription", "stripe_event",
)  # fmt: skip
#: Each workspace's own preset: names unlike each other, so "did you mean" hints are alike for both.
PRESETS = {"acme": "acme-gold", "globex": "globex-platinum"}
#: Handler arguments that are never query parameters.
_NOT_QUERY = {"request", "state", "data", "headers", "cookies", "query", "scope", "socket", "body"}


@dataclass
class Objects:
    """One workspace's objects, by the names routes give their parameters (path and query)."""

    tenant: Tenant
    values: dict[str, str]
    secrets: list[str] = field(default_factory=list)

    def identifiers(self) -> set[str]:
        """Everything of this workspace another must never see: IDs, names, secrets."""
        return {self.tenant.workspace_id, *self.values.values(), *self.secrets}


async def populate(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    tenant: Tenant,
    tag: str,
) -> Objects:
    """A subscriber (with a static header), a Stripe event with its flat event and delivery, a mirrored
    subscription, a workspace preset and a second key."""
    token = f"bubble-token-{tag}-0123456789"
    subscriber, secret = await add_subscriber(
        db, vault, tenant.workspace_id, f"http://127.0.0.1:9/{tag}-hook", headers={"Authorization": token}
    )
    await sp.enable_webhooks(
        db, vault, tenant.workspace_id, [f"whsec_{tag}_0123456789abcdef"], subscriber=False
    )
    customer, subscription = f"cus_{tag}_isolated", f"sub_{tag}_isolated"
    stripe_event = sp.event(
        "customer.subscription.updated",
        sp.subscription(subscription, customer=customer),
        event_id=f"evt_{tag}_1",
    )
    sent = await sp.send(client, tenant.workspace_id, stripe_event, secret=f"whsec_{tag}_0123456789abcdef")
    assert sent.status_code == 200, sent.text
    preset = PRESETS.get(tag, f"{tag}-gold")
    put = await client.put(
        f"/v1/presets/{preset}",
        json={"features": {"invoice_history": {"enabled": True}}},
        headers=tenant.headers(),
    )
    assert put.status_code in {200, 201}, put.text
    async with db() as session:
        event = (await session.exec(select(Event).where(Event.workspace_id == tenant.workspace_id))).one()
        delivery = (
            await session.exec(select(Delivery).where(Delivery.workspace_id == tenant.workspace_id))
        ).one()
        keys = (await session.exec(select(ApiKey).where(ApiKey.workspace_id == tenant.workspace_id))).all()
    portal_key = next(k.id for k in keys if k.scope == "portal")
    values = {
        "subscriber_id": subscriber,
        "subscriber": subscriber,
        "delivery_id": delivery.id,
        "event_id": event.id,
        "event": event.id,
        "key_id": portal_key,
        "name": preset,
        "preset": preset,
        "customer": customer,
        "customer_id": customer,
        "subscription_id": subscription,
        "subscription": subscription,
        "stripe_event": f"evt_{tag}_1",
    }
    assert set(values) == set(OBJECT_NAMES)
    secrets = [tenant.admin_key, tenant.portal_key, secret, token, f"whsec_{tag}_0123456789abcdef"]
    return Objects(tenant=tenant, values=values, secrets=secrets)


@dataclass
class Route:
    """One method of one route of the app."""

    method: str
    path: str  # as documented: ``/v1/keys/{key_id}``
    path_params: list[str]
    query_params: list[str]
    #: Whether the handler reads a request body.
    takes_body: bool = False

    def url(self, values: dict[str, str]) -> str:
        """The path with its parameters filled from ``values``."""
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], self.path)


def app_routes(app: Litestar) -> list[Route]:
    """Every (method, path) the app serves, HEAD and OPTIONS aside, with its path and query parameters."""
    found: list[Route] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for handler in route.route_handlers:
            if not isinstance(handler, HTTPRouteHandler):
                continue
            dependencies = set(handler.resolve_dependencies())
            path_params = list(route.path_parameters)
            query = []
            for name, definition in handler.parsed_fn_signature.parameters.items():
                marker = definition.kwarg_definition
                if name in _NOT_QUERY or name in dependencies or name in path_params:
                    continue
                if isinstance(marker, ParameterKwarg) and (marker.header or marker.cookie):
                    continue
                query.append(marker.query if isinstance(marker, ParameterKwarg) and marker.query else name)
            found.extend(
                Route(method, path, path_params, query, "data" in handler.parsed_fn_signature.parameters)
                for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"})
            )
    return found


def request_examples() -> dict[tuple[str, str], Any]:
    """The documented request body of each operation (openapi.yaml), by method and path."""
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    examples = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            schema = content.get("schema", {})
            found = schema.get("examples") or [e["value"] for e in content.get("examples", {}).values()]
            if found:
                examples[method.upper(), path] = found[0]
    return examples


async def table_rows(db: async_sessionmaker[AsyncSession], but: str = "") -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, except the rows of workspace ``but`` (and times of last use)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with db() as session:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c.name for c in table.columns if c.name != "last_used_at"]
            query = text(f"SELECT {', '.join(columns)} FROM {table.name}")  # noqa: S608  (names from the models)
            result = await (await session.connection()).execute(query)
            owner = "id" if table.name == "workspaces" else "workspace_id"
            kept = [r for r in result.all() if owner not in columns or r[columns.index(owner)] != but]
            rows[table.name] = sorted(kept, key=repr)
    return rows
