"""Path 6: scale. Portal and ingest with 1, 10 and 100 workspaces and 10, 1,000 and 100,000 stored
events: the cost per request (CPU microseconds of the server per request) must not grow with them."""

from typing import Any

from bench.rig import Rig


def run(rig: Rig) -> dict[str, Any]:
    """Not yet: needs the portal and ingest paths on main."""
    del rig
    return {
        "path": "scale: workspaces and stored history",
        "checks": [],
        "status": "not on main yet: needs the portal and ingest paths",
    }
