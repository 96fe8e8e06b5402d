"""Samples of each flat event type: the exact shape, every field filled, served without a key."""

from datetime import UTC, datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway.sample_events import sample_event
from tests.flat_contract import FLAT_EVENT_TYPES, FLAT_KEYS, assert_flat
from tests.support import assert_error

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("event_type", FLAT_EVENT_TYPES)
async def test_sample_event_route_serves_the_full_shape(
    client: AsyncTestClient[Litestar], event_type: str
) -> None:
    """GET /v1/sample-events/{type} answers the payload itself, every key filled, with no API key."""
    response = await client.get(f"/v1/sample-events/{event_type}")
    assert response.status_code == 200
    body = response.json()
    assert_flat(body, event_type)
    assert body["is_test"] is True
    empty = [key for key, kind in FLAT_KEYS.items() if kind is str and body[key] == ""]
    assert empty == [], "a sample leaves no text field empty, or receivers cannot learn its type"
    assert datetime.fromisoformat(body["current_period_end"]) == datetime.fromtimestamp(
        body["current_period_end_unix"], UTC
    )
    again = await client.get(f"/v1/sample-events/{event_type}")
    assert again.json() == body


async def test_unknown_sample_type_is_404_naming_the_types(client: AsyncTestClient[Litestar]) -> None:
    """An unknown type answers not_found and lists the types there are."""
    body = assert_error(await client.get("/v1/sample-events/subscription.cancelled"), 404, "not_found")
    assert "subscription.canceled" in body["error_message"]


def test_sample_for_a_test_send_takes_its_own_id_and_workspace() -> None:
    """A sample built for a subscriber test carries the given event ID, workspace, mode and moment."""
    event = sample_event(
        "invoice.paid", workspace_id="ws_1", livemode=True, event_id="evt_gw_x", occurred_at=1_800_000_000
    )
    assert (event.event_id, event.workspace_id, event.livemode) == ("evt_gw_x", "ws_1", True)
    assert (event.occurred_at_unix, event.occurred_at) == (1_800_000_000, "2027-01-15T08:00:00Z")
    assert event.is_test is True
