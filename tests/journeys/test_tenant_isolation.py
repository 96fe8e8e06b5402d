"""Tenant isolation: through every route, workspace A never reads, changes or learns of B's objects.

The routes come from the app's own route table: a route added later is exercised here on its own
(its path parameters filled with B's objects), and the suite fails until it is, or until it is listed
in ``PUBLIC`` with the reason no workspace key guards it. A's admin key (and A's console session)
asks for each of B's objects and for a nonexistent one of the same shape: the two answers must be the
same (status, error code, message), lists filtered by B's IDs must be empty, no answer may contain
anything of B's that A did not send, and B's rows in the database must be exactly as before.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Workspace
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.workspaces import webhook_secrets
from tests import stripe_payloads as sp
from tests.console import csrf_in, sign_in, text_of
from tests.route_table import OBJECT_NAMES, Objects, Route, app_routes, populate, request_examples, table_rows
from tests.support import Database, Tenant, assert_error, make_settings

pytestmark = pytest.mark.anyio

#: Routes no workspace key guards, and why A's key is not what could expose B there.
PUBLIC = {
    ("GET", "/healthz"): "liveness: no workspace data",
    ("GET", "/readyz"): "readiness: no workspace data",
    ("GET", "/metrics"): "process-wide counters, no IDs (served on a private port in production)",
    ("GET", "/v1/sample-events/{event_type}"): "fixed sample payloads, no workspace data",
    ("GET", "/p/return"): "a static page",
    (
        "GET",
        "/p/{token}",
    ): "signed links bound to the signer's workspace (test_a_link_is_bound_to_its_workspace)",
    (
        "POST",
        "/v1/stripe/webhooks/{workspace_id}",
    ): "Stripe's signature (test_a_workspace_secret_posts_nowhere_else)",
    ("GET", "/console/sign-in"): "the sign-in form",
    ("POST", "/console/sign-in"): "exchanges a key for a session of that key's workspace",
    ("POST", "/console/sign-out"): "clears the cookie",
    ("GET", "/console/static/{file_path}"): "the stylesheet",
}
#: Route prefixes outside any workspace: the OpenAPI viewers and the development Stripe sandbox.
PUBLIC_PREFIXES = ("/schema", "/sandbox/")


#: A value of each name that no workspace has, shaped like the real ones.
def _missing(value: str) -> str:
    return value[:-3] + "zzz"


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    # Stripe is a closed port: nothing here may reach a real Stripe.
    return make_settings(tmp_path, database, stripe_api_base="http://127.0.0.1:9")


def _is_public(route: Route) -> bool:
    return (route.method, route.path) in PUBLIC or route.path.startswith(PUBLIC_PREFIXES)


def _with(body: Any, values: dict[str, str]) -> Any:
    """``body`` with each field that names an object (a customer, a preset...) set to it from ``values``
    (a B object, or a missing one); free text such as a key's ``name`` is left as documented."""
    if isinstance(body, dict):
        return {k: values.get(k, v) if isinstance(v, str) and k != "name" else v for k, v in body.items()}
    return body


def _normalised(response: httpx.Response, sent: dict[str, str]) -> tuple[int, str, str]:
    """Status, error code and message (or page text) with what was sent and request IDs blanked."""
    is_json = response.headers.get("content-type", "").startswith("application/json")
    body = response.json() if is_json else {}
    words = str(body.get("error_message", "")) if is_json else text_of(response.text)
    for value in sent.values():
        words = words.replace(value, "<sent>")
    words = re.sub(r"req_\w+", "<request>", words)
    return response.status_code, str(body.get("error_code", "")) if is_json else "", words


def _leaks(response: httpx.Response, other: Objects, sent: dict[str, str]) -> list[str]:
    return sorted(x for x in other.identifiers() if x in response.text and x not in sent.values())


@dataclass
class World:
    """A (asking) and B (asked about), each with one of everything."""

    a: Objects
    b: Objects


@pytest.fixture
async def world(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    tenant: Tenant,
    other_tenant: Tenant,
) -> World:
    return World(
        a=await populate(client, db, vault, tenant, "acme"),
        b=await populate(client, db, vault, other_tenant, "globex"),
    )


async def test_every_route_is_exercised_or_public(app: Litestar) -> None:
    """The route table has no route this file neither exercises nor lists as public (with a reason)."""
    guarded = [r for r in app_routes(app) if not _is_public(r)]
    unmapped = [
        f"{r.method} {r.path}: {p!r}" for r in guarded for p in r.path_params if p not in OBJECT_NAMES
    ]
    assert unmapped == [], "give B an object for these parameters in _populate, or list the route in PUBLIC"
    elsewhere = [f"{r.method} {r.path}" for r in guarded if not r.path.startswith(("/v1/", "/console"))]
    assert elsewhere == [], "only /v1 and /console routes are exercised: list these in PUBLIC or test them"
    stale = [key for key in PUBLIC if key not in {(r.method, r.path) for r in app_routes(app)}]
    assert stale == [], "PUBLIC lists routes the app no longer has"


async def test_api_keys_of_a_never_reach_b(
    app: Litestar,
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    world: World,
) -> None:
    """Every /v1 route: B's IDs answer as nonexistent ones do, filters by B's IDs find nothing, no
    answer shows B's data, and B's rows are untouched."""
    a, b = world.a, world.b
    before = await table_rows(db, but=a.tenant.workspace_id)
    examples = request_examples()
    exercised = []
    # Reads first: a PUT of a preset named like B's makes A one of its own, which later lists would show.
    for route in sorted(app_routes(app), key=lambda r: r.method != "GET"):
        if _is_public(route) or not route.path.startswith("/v1/"):
            continue
        exercised.append(f"{route.method} {route.path}")
        answers = []
        for values in (b.values, {k: _missing(v) for k, v in b.values.items()}):
            sent = {p: values[p] for p in route.path_params + route.query_params if p in values}
            body = _with(examples.get((route.method, route.path)), values)
            if isinstance(body, dict):
                sent |= {k: v for k, v in body.items() if isinstance(v, str) and values.get(k) == v}
            response = await client.request(
                route.method,
                route.url(values),
                params={q: values[q] for q in route.query_params if q in values},
                json=body,
                headers={**a.tenant.headers(), "X-Dry-Run": "1"},  # portal sessions: no Stripe call
            )
            # 503 may come: A's own preset named like B's (made by the PUT) syncs to no Stripe, both times.
            assert response.status_code != 500, (route, response.text)
            assert _leaks(response, b, sent) == [], (route, response.text)
            if route.method == "GET" and sent and not route.path_params:
                assert response.json()["data"] == [], (route, "a filter by B's IDs found something")
            answers.append(_normalised(response, sent))
        assert answers[0] == answers[1], (route, "B's object answers unlike a nonexistent one", answers)
    assert len(exercised) >= 20
    assert await table_rows(db, but=a.tenant.workspace_id) == before


async def test_the_console_of_a_never_reaches_b(
    app: Litestar,
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    world: World,
) -> None:
    """Every /console page and form, signed in as A: B's IDs answer as nonexistent ones, no page shows
    B's data, and B's rows are untouched."""
    a, b = world.a, world.b
    before = await table_rows(db, but=a.tenant.workspace_id)
    # The same client as the API's: a second one would start the app again, in another event loop.
    console = await sign_in(client, a.tenant.admin_key)
    exercised = 0
    for route in app_routes(app):
        if _is_public(route) or not route.path.startswith("/console"):
            continue
        exercised += 1
        answers = []
        for values in (b.values, {k: _missing(v) for k, v in b.values.items()}):
            sent = {p: values[p] for p in route.path_params + route.query_params if p in values}
            params = {q: values[q] for q in route.query_params if q in values}
            if route.method == "GET":
                response = await client.get(route.url(values), params=params)
            else:
                response = await console.submit(route.url(values), params=params)
            assert response.status_code < 500, (route, text_of(response.text)[:300])
            assert _leaks(response, b, sent) == [], (route, text_of(response.text)[:300])
            answers.append(_normalised(response, sent))
            if "csrf_token" in response.text:
                console.csrf = csrf_in(response.text)
        assert answers[0] == answers[1], (route, answers)
    assert exercised >= 15
    assert await table_rows(db, but=a.tenant.workspace_id) == before


async def test_a_workspace_secret_posts_nowhere_else(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    world: World,
) -> None:
    """An event signed with A's Stripe secret, posted to B's webhook URL, is refused; B stores nothing."""
    a, b = world.a, world.b
    async with db() as session:
        a_workspace = await session.get(Workspace, a.tenant.workspace_id)
        assert a_workspace is not None
        [a_secret] = webhook_secrets(vault, a_workspace)
    before = await table_rows(db, but=a.tenant.workspace_id)
    stripe_event = sp.event("customer.subscription.deleted", sp.subscription(b.values["subscription_id"]))
    refused = await sp.send(client, b.tenant.workspace_id, stripe_event, secret=a_secret)
    assert_error(refused, 400, "signature_invalid")
    after = await table_rows(db, but=a.tenant.workspace_id)
    for table in ("stripe_events", "events", "deliveries", "subscriptions"):
        assert after[table] == before[table]


async def test_a_link_is_bound_to_its_workspace(client: AsyncTestClient[Litestar], world: World) -> None:
    """A link A makes for B's customer and preset names opens in A's workspace only: it carries A's ID."""
    a, b = world.a, world.b
    response = await client.post(
        "/v1/portal-links", json={"customer": b.values["customer"]}, headers=a.tenant.headers("portal")
    )
    assert response.status_code == 200, response.text
    claims = client.app.state.link_signer.verify(response.json()["url"].rsplit("/", 1)[1])
    assert claims.workspace_id == a.tenant.workspace_id
    assert _leaks(response, b, {"customer": b.values["customer"]}) == []
