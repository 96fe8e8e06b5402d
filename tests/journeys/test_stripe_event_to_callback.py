"""From Stripe to the builder's callback: a signed Stripe event in, a signed flat event out, at once."""

import json
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook

from gateway.app import create_app
from gateway.vault import Vault
from tests import stripe_payloads as sp
from tests.receivers import receiving, subscribe, wait_for_deliveries
from tests.support import Database, Tenant, make_settings

pytestmark = pytest.mark.anyio


async def test_a_cancellation_reaches_flat_and_stripe_subscribers(  # noqa: PLR0917  (fixtures)
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """customer.subscription.deleted: the flat subscriber gets subscription.canceled, the stripe one the
    exact bytes Stripe signed; the ingest's commit wakes the embedded worker (polling is off here)."""
    monkeypatch.setattr("gateway.worker.POLL_S", 60.0)
    await sp.enable_webhooks(db, vault, tenant.workspace_id, subscriber=False)
    settings = make_settings(tmp_path, database, worker="embedded")
    async with receiving() as receiver, AsyncTestClient(create_app(settings)) as client:
        flat = await subscribe(
            client, tenant, receiver.url + "/bubble", event_types=["subscription.canceled"]
        )
        raw = await subscribe(client, tenant, receiver.url + "/raw", format="stripe")
        stripe_event = sp.event(
            "customer.subscription.deleted", sp.subscription("sub_42", customer="cus_42", status="canceled")
        )
        answer = await sp.send(client, tenant.workspace_id, stripe_event)
        assert answer.status_code == 200, answer.text
        rows = await wait_for_deliveries(
            db, lambda found: len(found) == 2 and all(d.status == "succeeded" for d in found)
        )
    by_path = {r.path: r for r in receiver.requests}
    assert set(by_path) == {"/bubble", "/raw"}
    event = Webhook(flat["secret"]).verify(by_path["/bubble"].body, by_path["/bubble"].headers)
    assert (event["event_type"], event["subscription_id"], event["customer_id"]) == (
        "subscription.canceled",
        "sub_42",
        "cus_42",
    )
    assert (event["status"], event["is_active"], event["is_test"]) == ("canceled", False, False)
    assert by_path["/bubble"].headers["webhook-id"] == event["event_id"]
    assert Webhook(raw["secret"]).verify(by_path["/raw"].body, by_path["/raw"].headers) is not None
    assert by_path["/raw"].body == sp.body_of(stripe_event).encode()
    assert by_path["/raw"].headers["webhook-id"] == stripe_event["id"]
    assert json.loads(by_path["/raw"].body)["type"] == "customer.subscription.deleted"
    assert {d.attempts for d in rows} == {1}
