"""A builder asks for portal URLs by preset, against the sandbox: every shipped preset, reuse, auto, flows."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Subscription
from gateway.sandbox.seed import Seeded
from tests.journeys.stripe_calls import StripeCalls
from tests.sandbox import SandboxServer
from tests.support import Tenant

pytestmark = pytest.mark.anyio

SESSIONS = "POST /v1/billing_portal/sessions"
CONFIG_CREATES = "POST /v1/billing_portal/configurations"

# preset -> features it enables (everything else is off in its Stripe configuration)
SHIPPED = {
    "default": {"customer_update", "invoice_history", "payment_method_update", "subscription_cancel"},
    "legacy": {
        "customer_update",
        "invoice_history",
        "payment_method_update",
        "subscription_cancel",
        "subscription_update",
    },
    "cancel-only": {"subscription_cancel"},
    "billing-only": {"invoice_history", "payment_method_update"},
    "read-only": {"invoice_history"},
}


@pytest.fixture
def seeded(sandbox: SandboxServer) -> Seeded:
    return sandbox.seed()


async def _session(client: AsyncTestClient[Litestar], tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/portal-sessions", json=body, headers=tenant.headers("portal"))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _configuration(sandbox: SandboxServer, configuration_id: str) -> dict[str, Any]:
    return sandbox.client.v1.billing_portal.configurations.retrieve(configuration_id).to_dict()


@pytest.mark.parametrize("preset", sorted(SHIPPED))
async def test_each_shipped_preset_opens_its_portal(
    client: AsyncTestClient[Litestar],
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    seeded: Seeded,
    preset: str,
) -> None:
    """Each shipped preset gives a working portal URL whose configuration enables exactly its features."""
    grace = seeded.customers["grace@example.com"]
    answer = await _session(client, sandbox_tenant, customer=grace, preset=preset)
    assert answer["ok"] is True
    assert answer["preset"] == preset
    assert answer["customer_id"] == grace
    assert answer["url"].startswith(f"{sandbox.url}/sandbox/portal/")
    assert answer["session_id"].startswith("bps_")
    assert answer["livemode"] is False
    assert answer["expires_at_unix"] > 0
    configuration = _configuration(sandbox, answer["configuration_id"])
    enabled = {name for name, feature in configuration["features"].items() if feature.get("enabled")}
    assert enabled == SHIPPED[preset]
    assert configuration["metadata"]["gateway_preset"] == preset
    async with httpx.AsyncClient() as browser:  # the URL opens, offering what the preset allows
        page = await browser.get(answer["url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert ("Cancel plan" in page.text) == ("subscription_cancel" in SHIPPED[preset])


async def test_legacy_offers_the_legacy_prices(
    client: AsyncTestClient[Litestar], sandbox: SandboxServer, sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """legacy's lookup keys resolve to the workspace's legacy prices, on their one product."""
    answer = await _session(
        client, sandbox_tenant, customer=seeded.customers["ada@example.com"], preset="legacy"
    )
    products = _configuration(sandbox, answer["configuration_id"])["features"]["subscription_update"][
        "products"
    ]
    assert [(p["product"], sorted(p["prices"])) for p in products] == [
        (seeded.products["legacy"], sorted([seeded.prices["legacy_monthly"], seeded.prices["legacy_annual"]]))
    ]


async def test_reuse_one_configuration_and_one_stripe_call_per_url(
    client: AsyncTestClient[Litestar],
    sandbox_tenant: Tenant,
    seeded: Seeded,
    stripe_calls: StripeCalls,
) -> None:
    """N portal requests make 1 configuration and N sessions; after the first, one Stripe call each."""
    ada = seeded.customers["ada@example.com"]
    await _session(client, sandbox_tenant, customer=ada, preset="legacy")
    assert stripe_calls.count(CONFIG_CREATES) == 1
    before = len(stripe_calls)
    urls = {(await _session(client, sandbox_tenant, customer=ada, preset="legacy"))["url"] for _ in range(5)}
    assert len(urls) == 5
    assert stripe_calls[before:] == [("POST", "/v1/billing_portal/sessions")] * 5
    assert stripe_calls.count(CONFIG_CREATES) == 1
    assert stripe_calls.count(SESSIONS) == 6


@pytest.fixture
def statements(client: AsyncTestClient[Litestar]) -> Iterator[list[str]]:
    """SQL statements the app sends while the test runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    engine = client.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def test_steady_state_does_no_database_work(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded, statements: list[str]
) -> None:
    """Once warm, a session for a customer ID reads nothing from the database."""
    ada = seeded.customers["ada@example.com"]
    await _session(client, sandbox_tenant, customer=ada, preset="default")
    statements.clear()
    for _ in range(3):
        await _session(client, sandbox_tenant, customer=ada, preset="default")
    assert statements == []


async def test_auto_picks_legacy_for_a_legacy_customer(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded, stripe_calls: StripeCalls
) -> None:
    """auto asks Stripe for an unknown customer's subscription: legacy price -> legacy, else default."""
    grace = await _session(
        client, sandbox_tenant, customer=seeded.customers["grace@example.com"], preset="auto"
    )
    ada = await _session(client, sandbox_tenant, customer=seeded.customers["ada@example.com"], preset="auto")
    alan = await _session(
        client, sandbox_tenant, customer=seeded.customers["alan@example.com"], preset="auto"
    )
    assert (grace["preset"], ada["preset"], alan["preset"]) == ("legacy", "default", "default")
    assert stripe_calls.count("GET /v1/subscriptions") == 3


async def test_auto_reads_the_mirror_when_it_knows_the_customer(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    sandbox_tenant: Tenant,
    seeded: Seeded,
    stripe_calls: StripeCalls,
) -> None:
    """With the customer's subscription mirrored, auto decides from the mirror without asking Stripe."""
    ada = seeded.customers["ada@example.com"]
    async with db() as session, session.begin():
        session.add(
            Subscription(
                workspace_id=sandbox_tenant.workspace_id,
                subscription_id="sub_mirrored",
                customer_id=ada,
                status="active",
                price_lookup_key="legacy_annual",
                items=[{"price_id": "price_x", "price_lookup_key": "legacy_annual", "product_id": "prod_x"}],
            )
        )
    answer = await _session(client, sandbox_tenant, customer=ada, preset="auto")
    assert answer["preset"] == "legacy"
    assert stripe_calls.count("GET /v1/subscriptions") == 0


async def test_customer_by_email_and_external_user_id(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """A customer may be named by email or by the builder's own user ID (metadata external_user_id)."""
    by_email = await _session(client, sandbox_tenant, email="linus@example.com")
    by_user = await _session(client, sandbox_tenant, external_user_id="usr_linus")
    assert by_email["customer_id"] == by_user["customer_id"] == seeded.customers["linus@example.com"]


@pytest.mark.parametrize(
    ("body", "flow"),
    [
        ({"preset": "default", "flow": "subscription_cancel"}, "subscription_cancel"),
        ({"preset": "default", "flow": "payment_method_update"}, "payment_method_update"),
        ({"preset": "legacy", "flow": "subscription_update"}, "subscription_update"),
        (
            {"preset": "legacy", "flow": "subscription_update_confirm", "price": "legacy_annual"},
            "subscription_update_confirm",
        ),
    ],
)
async def test_flows_deep_link(
    *,
    client: AsyncTestClient[Litestar],
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    seeded: Seeded,
    body: dict[str, Any],
    flow: str,
) -> None:
    """Each flow opens its deep link on the customer's current subscription, returning to the app after."""
    grace = seeded.customers["grace@example.com"]
    answer = await _session(client, sandbox_tenant, customer=grace, locale="fr", **body)
    assert answer["flow"] == flow
    stored = sandbox.sandbox.store.get("billing_portal.session", answer["session_id"], livemode=False)
    assert stored["locale"] == "fr"
    assert stored["flow"]["type"] == flow
    assert stored["flow"]["after_completion"]["type"] == "redirect"
    if flow != "payment_method_update":
        assert stored["flow"][flow]["subscription"] == seeded.subscriptions["grace@example.com"]
    if flow == "subscription_update_confirm":
        assert stored["flow"][flow]["items"][0]["price"] == seeded.prices["legacy_annual"]


async def test_confirm_price_must_be_in_the_configuration(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded, stripe_calls: StripeCalls
) -> None:
    """Switching to a price the preset does not offer is refused before the session call."""
    body = {
        "customer": seeded.customers["grace@example.com"],
        "preset": "legacy",
        "flow": "subscription_update_confirm",
        "price": "pro_monthly",
    }
    response = await client.post("/v1/portal-sessions", json=body, headers=sandbox_tenant.headers("portal"))
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "price"
    assert stripe_calls.count(SESSIONS) == 0


async def test_flow_without_a_subscription_opens_the_home_page(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """A cancel button for a customer with nothing to cancel still opens the portal (flow "")."""
    answer = await _session(
        client, sandbox_tenant, customer=seeded.customers["alan@example.com"], flow="subscription_cancel"
    )
    assert answer["flow"] == ""


async def test_return_url_and_default(
    client: AsyncTestClient[Litestar], sandbox: SandboxServer, sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """An allowed return URL goes to Stripe; without one the gateway's own page is used."""
    preset = {
        "features": {"invoice_history": {"enabled": True}},
        "allowed_return_urls": ["https://app.example/"],
    }
    await client.put("/v1/presets/gold", json=preset, headers=sandbox_tenant.headers())
    ada = seeded.customers["ada@example.com"]
    chosen = await _session(
        client, sandbox_tenant, customer=ada, preset="gold", return_url="https://app.example/me"
    )
    fallback = await _session(client, sandbox_tenant, customer=ada, preset="gold")
    store = sandbox.sandbox.store
    assert (
        store.get("billing_portal.session", chosen["session_id"], False)["return_url"]
        == "https://app.example/me"
    )
    assert store.get("billing_portal.session", fallback["session_id"], False)["return_url"] == (
        "http://testserver.local/p/return"
    )


async def test_idempotency_key_replays_the_same_url(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded, stripe_calls: StripeCalls
) -> None:
    """A retried request with the same Idempotency-Key gets the same URL, without a second session."""
    headers = {**sandbox_tenant.headers("portal"), "Idempotency-Key": "bubble-retry-1"}
    body = {"customer": seeded.customers["ada@example.com"]}
    first = await client.post("/v1/portal-sessions", json=body, headers=headers)
    second = await client.post("/v1/portal-sessions", json=body, headers=headers)
    assert first.json()["url"] == second.json()["url"]
    assert second.headers["idempotent-replayed"] == "true"
    assert stripe_calls.count(SESSIONS) == 1


async def test_dry_run_calls_no_stripe(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded, stripe_calls: StripeCalls
) -> None:
    """A dry run answers the full shape with no Stripe call at all, even for auto and by email."""
    for body in (
        {"customer": seeded.customers["grace@example.com"], "preset": "auto"},
        {"email": "x@example.com"},
    ):
        response = await client.post(
            "/v1/portal-sessions", json={**body, "dry_run": True}, headers=sandbox_tenant.headers("portal")
        )
        assert response.status_code == 200, response.text
    assert stripe_calls == []
