"""Flat events: samples of each type for schema detection, and the events the gateway produced."""

from typing import Annotated

from litestar import get
from litestar.params import PathParameter

from gateway.flat_events import EVENT_TYPES, FlatEvent
from gateway.sample_events import sample_event


@get(
    "/v1/sample-events/{event_type:str}",
    operation_id="getSampleEvent",
    tags=["events"],
    summary="A sample flat event",
    exclude_from_auth=True,
    security=[],
)
async def get_sample_event(
    event_type: Annotated[str, PathParameter(description=f"One of: {', '.join(EVENT_TYPES)}")],
) -> FlatEvent:
    """Exactly what a subscriber receives for this type, every field filled, marked ``is_test``.

    Paste it into Bubble's "Detect data", Make's data structure or n8n's test listener so the receiver
    knows every field before the first real event. The body is the payload itself (no ``ok`` key).
    """
    return sample_event(event_type)
