"""``GET /metrics``: Prometheus metrics (see ``docs/operations.md``)."""

from litestar import Response, get
from litestar.datastructures import State

from gateway.errors import NotFound
from gateway.metrics import CONTENT_TYPE, render


@get(
    "/metrics",
    operation_id="getMetrics",
    tags=["operations"],
    summary="Prometheus metrics",
    exclude_from_auth=True,
    security=[],
    media_type=CONTENT_TYPE,
)
async def get_metrics(state: State) -> Response[bytes]:
    """Counters and gauges in Prometheus' text format; with ``GATEWAY_METRICS_PORT`` only on that port."""
    if state.settings.metrics_port:
        msg = "Metrics are served on GATEWAY_METRICS_PORT."
        raise NotFound(msg)
    return Response(await render(state.engine), media_type=CONTENT_TYPE)
