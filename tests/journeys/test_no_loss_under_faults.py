"""No loss under faults: Stripe's events keep coming while the gateway is killed, its database goes away
and its receivers flap; afterwards nothing accepted is missing and the mirror is right.

``GATEWAY_TEST_FAULT_EVENTS`` sets the size (5,000 in the suite; ``make soak`` runs 50,000), and
``GATEWAY_WRITE_RELIABILITY=1`` writes the run's figures into docs/reliability.md.
"""

import asyncio
import os
import random
import signal
import time
from collections import Counter
from dataclasses import astuple, replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Delivery, Event, StripeEvent
from gateway.settings import Settings
from gateway.vault import Vault
from tests.journeys import reliability_figures
from tests.journeys.fault_rig import DELIVERY_TIMEOUT_S, OUTAGE_S, SCHEDULE, rigged
from tests.journeys.flapping import Flapping
from tests.journeys.reliability_figures import Figures
from tests.journeys.stripe_histories import Plan, State, plan
from tests.journeys.stripe_sender import StripeSender
from tests.receivers import add_subscriber, receiving
from tests.stripe_payloads import SECRET, enable_webhooks
from tests.support import Tenant

pytestmark = pytest.mark.anyio

EVENTS = int(os.environ.get("GATEWAY_TEST_FAULT_EVENTS", "5000"))
SUBSCRIBERS = ("a", "b")
#: What the sender meets while ``gateway serve`` is down or being killed.
TRANSPORT_ERRORS = {
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ClientOSError",
    "ClientPayloadError",
    "TimeoutError",
}
#: Bounds that only catch a hang: seconds to post everything, then to deliver the rest.
SEND_WITHIN_S = 120 + EVENTS * 0.05
DELIVER_WITHIN_S = 60 + EVENTS * 0.05


async def test_no_event_is_lost_under_faults(
    settings: Settings, db: async_sessionmaker[AsyncSession], vault: Vault, tenant: Tenant, tmp_path: Path
) -> None:
    """Events accepted have their flat events, every callback arrives, every rejection was re-sent and
    accepted, and the mirror holds each subscription's newest state."""
    the_plan = plan(EVENTS, random.Random(9))
    flapping = Flapping(secrets={}, slow_s=DELIVERY_TIMEOUT_S * 2)
    await enable_webhooks(db, vault, tenant.workspace_id, subscriber=False)
    async with receiving(flapping.reply, record=False) as receiver, rigged(settings, tmp_path) as rig:
        for name in SUBSCRIBERS:
            url = f"{receiver.url}/{name}"
            _, flapping.secrets[name] = await add_subscriber(
                db, vault, tenant.workspace_id, url, max_in_flight=16
            )
        await rig.start_serve()
        rig.start_worker()
        began = time.monotonic()
        sender = StripeSender(rig.url, tenant.workspace_id, SECRET, rng=random.Random(10))
        faults = asyncio.create_task(rig.inflict(lambda: sender.accepted / len(the_plan.order)))

        async with asyncio.timeout(SEND_WITHIN_S):
            await sender.send_all(the_plan.order)
            await faults
        expected = EVENTS * len(SUBSCRIBERS)
        statuses = await _deliveries_settled(db, expected, DELIVER_WITHIN_S)
        duration = time.monotonic() - began
        mirror = await _mirror(rig.url, tenant, the_plan)
        exits = await rig.stop()
    async with db() as session:
        stored = Counter((await session.exec(select(StripeEvent.stripe_event_id))).all())
        flat = Counter((await session.exec(select(Event.stripe_event_id))).all())
    accepted = set(sender.outcomes)
    delivered = set(flapping.succeeded)
    wanted = {(name, event_id) for name in SUBSCRIBERS for event_id in await _flat_ids(db)}
    lost = len(accepted - set(flat)) + len(wanted - delivered)

    assert rig.done == [fault for _, fault in SCHEDULE]
    assert accepted == {planned.event_id for planned in the_plan.order}  # every copy re-sent until 2xx
    assert sender.retried <= accepted
    assert set(sender.rejections) <= {"500", "503", *TRANSPORT_ERRORS}, sender.rejections
    assert stored == Counter(accepted)  # each event stored once, however often it was posted
    assert flat == Counter(accepted)  # and made one flat event
    assert lost == 0
    assert statuses == {"succeeded": expected}
    assert flapping.forged == 0
    assert mirror == the_plan.final
    assert exits[1] == 0
    assert exits[0] in {0, -signal.SIGTERM}  # uvicorn re-raises the signal once it has shut down
    last_start = (tmp_path / "serve.log").read_text().rsplit("Started server process", 1)[-1]
    assert "Application shutdown complete." in last_start
    if os.environ.get("GATEWAY_WRITE_RELIABILITY") == "1":
        reliability_figures.record(
            Figures(
                database="SQLite" if settings.is_sqlite else "PostgreSQL",
                events=EVENTS,
                copies=len(the_plan.order),
                posts=sender.posts,
                accepted=sender.accepted,
                rejected_posts=sender.rejections.total(),
                retried_events=len(sender.retried),
                lost=lost,
                deliveries=expected,
                duplicates=flapping.duplicates,
                serve_kills=rig.done.count("kill serve"),
                worker_kills=rig.done.count("kill worker"),
                outages=rig.done.count("database outage"),
                outage_s=OUTAGE_S,
                outage_kind=rig.outage_kind,
                errors=flapping.errors,
                timeouts=flapping.timeouts,
                duration_s=duration,
            )
        )


async def _deliveries_settled(
    db: async_sessionmaker[AsyncSession], expected: int, within: float
) -> dict[str, int]:
    """Deliveries by status, once ``expected`` of them succeeded or none is pending any more."""
    deadline = time.monotonic() + within
    query = select(Delivery.status, func.count()).group_by(col(Delivery.status))
    while True:
        async with db() as session:
            statuses = dict((await session.exec(query)).all())
        if (
            statuses.get("succeeded", 0) >= expected
            or "pending" not in statuses
            or time.monotonic() > deadline
        ):
            return statuses
        await asyncio.sleep(0.5)


async def _flat_ids(db: async_sessionmaker[AsyncSession]) -> list[str]:
    async with db() as session:
        return list((await session.exec(select(Event.id))).all())


async def _mirror(url: str, tenant: Tenant, the_plan: Plan) -> dict[str, State]:
    """Each subscription as ``GET /v1/customers/{customer}/subscriptions`` shows it."""
    found: dict[str, State] = {}
    async with httpx.AsyncClient(base_url=url, headers=tenant.headers("portal"), timeout=10) as http:
        for customer_id in the_plan.customers:
            response = await http.get(f"/v1/customers/{customer_id}/subscriptions")
            assert response.status_code == httpx.codes.OK, response.text
            for item in response.json()["data"]:
                found[item["subscription_id"]] = State(
                    item["status"],
                    item["price_id"],
                    item["quantity"],
                    cancel_at_period_end=item["cancel_at_period_end"],
                    current_period_end=item["current_period_end_unix"],
                )
    return found


def test_figures_rewrite_only_their_row_inside_the_markers(tmp_path: Path) -> None:
    """A run replaces its database and size's row between the markers; prose and other rows stay."""
    doc = tmp_path / "reliability.md"
    doc.write_text("# Prose\n\n<!-- figures:start -->\nNo run recorded yet.\n<!-- figures:end -->\n\nMore.\n")
    run = Figures(
        "SQLite", 2000, 2100, 3000, 2100, 900, 70, 0, 4000, 300, 3, 1, 2, 3.0, "lock", 700, 250, 65.4
    )
    reliability_figures.record(run, doc)
    reliability_figures.record(Figures("PostgreSQL", 2000, *astuple(run)[2:]), doc)
    reliability_figures.record(replace(run, posts=3100, duration_s=70.0), doc)
    text = doc.read_text()
    assert text.startswith("# Prose\n\n<!-- figures:start -->\nWritten by")
    assert text.endswith("<!-- figures:end -->\n\nMore.\n")
    rows = [line for line in text.splitlines() if line.startswith(("| SQLite", "| PostgreSQL"))]
    assert [row.split(" | ")[:3] for row in rows] == [
        ["| PostgreSQL", "2,000", "2,100 copies in 3,000 posts"],
        ["| SQLite", "2,000", "2,100 copies in 3,100 posts"],
    ]
    assert "| 70 s |" in rows[1]
