"""Liveness and readiness, for Fly's checks and load balancers."""

from typing import Any

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from sqlalchemy import text

from gateway.db import current_revisions


class Health(msgspec.Struct):
    """``ok`` and, on readiness, what was checked."""

    ok: bool
    database: str = ""
    migrations: str = ""


@get(
    "/healthz",
    operation_id="getHealth",
    tags=["health"],
    summary="Liveness",
    exclude_from_auth=True,
    security=[],
)
async def healthz() -> Health:
    """The process is up and answering."""
    return Health(ok=True)


@get(
    "/readyz",
    operation_id="getReadiness",
    tags=["health"],
    summary="Readiness",
    exclude_from_auth=True,
    security=[],
)
async def readyz(state: State) -> Response[Health]:
    """The database answers and its migrations are current; 503 otherwise."""
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        current: set[Any] = await current_revisions(state.engine)
    except Exception:  # noqa: BLE001  (any failure means not ready; the body says which part)
        return Response(Health(ok=False, database="unreachable"), status_code=503)
    if current != state.migration_heads:
        return Response(Health(ok=False, database="ok", migrations="behind"), status_code=503)
    return Response(Health(ok=True, database="ok", migrations="current"))
