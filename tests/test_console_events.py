"""Console events: the flat events, each with the Stripe event it came from, and their deliveries."""

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Event
from gateway.vault import Vault
from tests import stripe_payloads as sp
from tests.console import by_id, sign_in, text_of
from tests.support import Tenant

pytestmark = pytest.mark.anyio


async def test_flat_events_show_their_stripe_source(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """Each flat event lists the Stripe event it was made from; its page shows that event as Stripe sent
    it, the flat body and its deliveries; filters narrow the list; test samples say they are samples."""
    await sp.enable_webhooks(db, vault, tenant.workspace_id)
    created = sp.event("customer.subscription.created", sp.subscription("sub_7", customer="cus_7"))
    paid = sp.event("invoice.paid", sp.invoice(subscription_id="sub_7", customer="cus_7"))
    for stripe_event in (created, paid):
        assert (await sp.send(client, tenant.workspace_id, stripe_event)).status_code == 200
    console = await sign_in(client, tenant.admin_key)
    subscriber = re.search(
        r'href="/console/subscribers/(sbr_\w+)"', (await console.get("/console/subscribers")).text
    )
    assert subscriber
    await console.submit(f"/console/subscribers/{subscriber.group(1)}/test")

    listed = text_of((await console.get("/console/events")).text)
    assert f"{paid['id']} invoice.paid" in listed
    assert f"{created['id']} customer.subscription.created" in listed
    assert "a test sample" in listed
    only = _rows((await console.get("/console/events", event_type="invoice.paid")).text)
    assert sorted((kind, source) for _, kind, source in only) == [
        ("invoice.paid", "a test sample"),
        ("invoice.paid", f"{paid['id']} invoice.paid"),
    ]
    by_stripe = _rows((await console.get("/console/events", stripe_event=created["id"])).text)
    assert [(kind, source) for _, kind, source in by_stripe] == [
        ("subscription.created", f"{created['id']} customer.subscription.created")
    ]

    async with db() as session:
        flat = (await session.exec(select(Event).where(Event.stripe_event_id == created["id"]))).one()
    page = (await console.get(f"/console/events/{flat.id}")).text
    assert by_id(page, "source").startswith(f"ID {created['id']} Type customer.subscription.created Received")
    assert '"customer": "cus_7"' in text_of(page)  # the Stripe event, as Stripe sent it
    assert f'"event_id": "{flat.id}"' in text_of(page)  # the flat body
    assert re.search(r'<tr id="dlv_\w+">', page)
    assert "No events match these filters." in text_of(
        (await console.get("/console/events", customer="cus_nobody")).text
    )


def _rows(html: str) -> list[tuple[str, str, str]]:
    """(flat event ID, type, Stripe source ID) of each row of the events table."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>")[1], re.DOTALL):
        cells = [text_of(c) for c in re.findall(r"<td>(.*?)</td>", row, re.DOTALL)]
        rows.append((cells[0], cells[1].split()[0], cells[6]))
    return rows
