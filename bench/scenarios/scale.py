"""Path 6: scale. Portal and ingest with 1, 10 and 100 workspaces and 10, 1,000 and 100,000 stored
events: the cost per request (server CPU microseconds per request) must not grow with them.

Each configuration is a fresh SQLite deployment whose history is bulk-loaded (``bench.history``),
then measured for a few seconds per path, keys and workspaces taken in turn, each run right beside a
run of the same path on the reference gateway (1 workspace), which stays up throughout. CPU per
request is the figure compared, with the reference's run beside it: this VM's speed drifts too much
for a run minutes earlier to be the yardstick. Three such pairs per path; the growth is the median of
their ratios (with one pair, one slow second could read as 1.3-1.6x on a path that reads no history).
"""

import statistics
from typing import Any

from bench import history
from bench.deployment import prepare, route_paths, subscribe
from bench.measure import Target, alternate, check, figures, ratio, row
from bench.procs import Proc
from bench.rig import Rig
from bench.scenarios.ingest import ROUTE_PREFIX, lua_env
from bench.scenarios.portal import BODY, PATH

#: (workspaces, stored events in all); the first is the reference, kept running: each other
#: configuration's runs alternate with the reference's, and its cost is compared with the run beside it.
CONFIGS = ((1, 10), (1, 1_000), (1, 100_000), (10, 1_000), (100, 1_000))
SMOKE_CONFIGS = ((1, 10), (2, 100))
#: Answers each path's warm-up waits for, at least (more with many workspaces).
WARMUP_REQUESTS = 300
#: Cost per request may wobble by this much between configurations (noise on a shared machine).
TOLERANCE = 1.25


def deploy(
    rig: Rig, stripe_base: str, receiver_url: str, workspaces: int, stored: int, *, prefix: str = ""
) -> tuple[dict[str, Any], dict[str, Target], Proc]:
    """One configuration's gateway (history loaded), its target per path (named ``prefix`` + path)."""
    name = f"scale-{workspaces}ws-{stored}ev"
    deployment = prepare(rig.work, name=name, stripe_base=stripe_base, workspaces=workspaces)
    gateway, base = rig.gateway(name, deployment)
    paths = route_paths(deployment)
    plural = "s" if workspaces > 1 else ""
    outcome: dict[str, Any] = {"label": f"{workspaces} workspace{plural}, {stored:,} stored events"}
    outcome |= {"workspaces": workspaces, "stored_events": stored}
    ingest_ready = any(p.startswith(ROUTE_PREFIX) for p in paths)
    if ingest_ready:
        subscribe(deployment, base, receiver_url + "/hook")
    history.preload(deployment, stored)
    keys = deployment.write_keys(rig.file(f"{name}-keys.txt"))
    targets = {}
    if PATH in paths:
        lua = {"BENCH_KEYS": str(keys), "BENCH_BODY": BODY, "BENCH_PATH": PATH}
        targets["portal"] = Target(f"{prefix}portal", gateway, base + PATH, "portal.lua", lua)
    if ingest_ready:
        env = lua_env(deployment, rig, name)
        targets["ingest"] = Target(f"{prefix}ingest", gateway, base + ROUTE_PREFIX, "stripe_event.lua", env)
    return outcome, targets, gateway


def measure(
    rig: Rig, targets: dict[str, Target], reference: dict[str, Target], workspaces: int
) -> dict[str, Any]:
    """Each path of one configuration, each run right beside the same path of the reference gateway.

    Per path: its summary; and, when ``reference`` is given, ``<path>_reference_us``, the reference's
    median cost in the runs beside it, and ``<path>_cost_growths``, each run's cost over the
    reference's in the run right beside it.
    """
    plan = rig.plan
    beside = {path: reference[path] for path in targets if path in reference}
    order = [t for path, own in targets.items() for t in (own, beside.get(path)) if t is not None]
    # The warm-up syncs each workspace's preset: that is the first request's cost, not the steady
    # state's. It runs until every workspace has had a few requests (wrk threads take keys in turn).
    loaded = alternate(
        order,
        runs=plan.scale_runs,
        seconds=plan.scale_seconds,
        connections=plan.connections,
        warmup=plan.warmup,
        warmup_requests=max(20 if plan.smoke else WARMUP_REQUESTS, 4 * workspaces),
    )
    compared: dict[str, Any] = {}
    for path, ref in beside.items():
        pairs = zip(targets[path].runs, ref.runs[-plan.scale_runs :], strict=True)
        costs = [(own["cpu_us_per_request"], theirs["cpu_us_per_request"]) for own, theirs in pairs]
        compared[f"{path}_reference_us"] = statistics.median(theirs for _, theirs in costs)
        compared[f"{path}_cost_growths"] = [ratio(own, theirs) for own, theirs in costs]
    return {path: loaded[own.name] for path, own in targets.items()} | compared


def run(rig: Rig) -> dict[str, Any]:
    """The reference configuration, kept running; then every other, each measured beside it."""
    _, stripe_base = rig.stripe_double()
    _, receiver_url = rig.receiver()
    result: dict[str, Any] = {"path": "scale: workspaces and stored history", "status": "measured"}
    result |= {"checks": [], "rows": []}
    first, *others = SMOKE_CONFIGS if rig.plan.smoke else CONFIGS
    # This VM's speed drifts by 20 % within a minute: a cost is compared with the reference's cost
    # measured seconds before, by a gateway that stays up, not with a run minutes earlier.
    reference_outcome, reference, _ = deploy(rig, stripe_base, receiver_url, *first, prefix="reference ")
    configs = [reference_outcome | measure(rig, reference, {}, first[0])]
    for workspaces, stored in others:
        outcome, targets, gateway = deploy(rig, stripe_base, receiver_url, workspaces, stored)
        configs.append(outcome | measure(rig, targets, reference, workspaces))
        rig.stop(gateway)
    result["configs"] = configs
    for config in configs:
        for path in ("portal", "ingest"):
            if path not in config:
                continue
            summary, compared = config[path], f"{path}_reference_us" in config
            cost = summary["cpu_us_per_request"]
            beside = config.get(f"{path}_reference_us", cost)
            # The median of paired runs' ratios: the machine's speed swings within a minute, and
            # a ratio of two runs seconds apart carries less of that than a ratio of two medians.
            growth = config[f"{path}_cost_growth"] = round(
                statistics.median(config.get(f"{path}_cost_growths", [1.0])), 3
            )
            unit = "events/s" if path == "ingest" else "req/s"
            shown = f"{figures(summary, unit)}, {cost:.0f} us/request"
            if compared:
                shown += f" (reference beside it: {beside:.0f} us)"
            label = f"scale, {path}: {config['label']}"
            result["rows"].append(
                row(label, shown, ratio=growth, budget=f"cost <= {TOLERANCE}x the reference")
            )
            if compared:
                result["checks"].append(
                    check(f"{path} cost growth, {config['label']}", growth, "<=", TOLERANCE)
                )
    if not any("portal" in c or "ingest" in c for c in configs):
        result["status"] = "not on main yet: needs the portal and ingest paths"
    return result
