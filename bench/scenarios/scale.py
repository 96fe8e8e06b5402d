"""Path 6: scale. Portal and ingest with 1, 10 and 100 workspaces and 10, 1,000 and 100,000 stored
events: the cost per request (server CPU microseconds per request) must not grow with them.

Each configuration is a fresh SQLite deployment whose history is bulk-loaded (``bench.history``),
then measured for a few seconds per path, keys and workspaces taken in turn. CPU per request is the
figure compared: unlike req/s it does not move with what else the machine is doing.
"""

from typing import Any

from bench import history
from bench.deployment import prepare, route_paths, subscribe
from bench.measure import Target, alternate, check, figures, ratio, row
from bench.rig import Rig
from bench.scenarios.ingest import ROUTE_PREFIX, lua_env
from bench.scenarios.portal import BODY, PATH

#: (workspaces, stored events in all); the first is the reference the others are compared with.
CONFIGS = ((1, 10), (1, 1_000), (1, 100_000), (10, 1_000), (100, 1_000))
SMOKE_CONFIGS = ((1, 10), (2, 100))
#: Answers each path's warm-up waits for, at least (more with many workspaces).
WARMUP_REQUESTS = 300
#: Cost per request may wobble by this much between configurations (noise on a shared machine).
TOLERANCE = 1.25


def measure(rig: Rig, stripe_base: str, receiver_url: str, workspaces: int, stored: int) -> dict[str, Any]:
    """One configuration: portal and ingest, each after a warm-up."""
    name = f"scale-{workspaces}ws-{stored}ev"
    deployment = prepare(rig.work, name=name, stripe_base=stripe_base, workspaces=workspaces)
    gateway, base = rig.gateway(name, deployment)
    paths = route_paths(deployment)
    plan = rig.plan
    plural = "s" if workspaces > 1 else ""
    outcome: dict[str, Any] = {"label": f"{workspaces} workspace{plural}, {stored:,} stored events"}
    outcome |= {"workspaces": workspaces, "stored_events": stored}
    ingest_ready = any(p.startswith(ROUTE_PREFIX) for p in paths)
    if ingest_ready:
        subscribe(deployment, base, receiver_url + "/hook")
    history.preload(deployment, stored)
    keys = deployment.write_keys(rig.file(f"{name}-keys.txt"))
    targets = []
    if PATH in paths:
        lua = {"BENCH_KEYS": str(keys), "BENCH_BODY": BODY, "BENCH_PATH": PATH}
        targets.append(Target("portal", gateway, base + PATH, "portal.lua", lua))
    if ingest_ready:
        targets.append(
            Target("ingest", gateway, base + ROUTE_PREFIX, "stripe_event.lua", lua_env(deployment, rig, name))
        )
    # The warm-up syncs each workspace's preset: that is the first request's cost, not the steady
    # state's. It runs until every workspace has had a few requests (wrk threads take keys in turn).
    outcome |= alternate(
        targets,
        runs=1,
        seconds=plan.scale_seconds,
        connections=plan.connections,
        warmup=plan.warmup,
        warmup_requests=max(20 if plan.smoke else WARMUP_REQUESTS, 4 * workspaces),
    )
    rig.stop(gateway)
    return outcome


def run(rig: Rig) -> dict[str, Any]:
    """Every configuration, then the growth of cost per request against the smallest."""
    _, stripe_base = rig.stripe_double()
    _, receiver_url = rig.receiver()
    result: dict[str, Any] = {"path": "scale: workspaces and stored history", "status": "measured"}
    result |= {"checks": [], "rows": []}
    configs = [
        measure(rig, stripe_base, receiver_url, *c) for c in (SMOKE_CONFIGS if rig.plan.smoke else CONFIGS)
    ]
    result["configs"] = configs
    reference = configs[0]
    for config in configs:
        for path in ("portal", "ingest"):
            if path not in config:
                continue
            cost = config[path]["cpu_us_per_request"]
            growth = config[f"{path}_cost_growth"] = ratio(cost, reference[path]["cpu_us_per_request"])
            label = f"scale, {path}: {config['label']}"
            shown = (
                f"{figures(config[path], 'events/s' if path == 'ingest' else 'req/s')}, {cost:.0f} us/request"
            )
            result["rows"].append(row(label, shown, ratio=growth, budget=f"cost <= {TOLERANCE}x the first"))
            if config is not reference:
                result["checks"].append(
                    check(f"{path} cost growth, {config['label']}", growth, "<=", TOLERANCE)
                )
    if not any("portal" in c or "ingest" in c for c in configs):
        result["status"] = "not on main yet: needs the portal and ingest paths"
    return result
