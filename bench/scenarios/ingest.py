"""Path 2: ``POST /v1/stripe/webhooks/{workspace_id}`` against verify + raw insert with ``sqlite3``.

Every request is a new, signed ``customer.subscription.updated`` for a new subscription, so the
gateway does all its work each time: verify, store the Stripe event, mirror the subscription, write
the flat event and one subscriber's delivery, durably, then answer. The worker is off: deliveries
are only queued. On SQLite the ratio against the baseline counts; on PostgreSQL the absolute rate.
"""

import secrets
from typing import Any

from bench import events
from bench.deployment import Deployment, count_rows, drop, postgres_reachable, prepare, route_paths, subscribe
from bench.measure import Target, alternate, check, cost_ratio, figures, paired_ratio, row, works
from bench.procs import SERVER_CORE, Watched, http
from bench.rig import Rig

ROUTE_PREFIX = "/v1/stripe/webhooks/"


def send_one(base: str, deployment: Deployment) -> int:
    """One signed event to the first workspace; the status."""
    tenant = deployment.tenants[0]
    body = events.render(f"probe{secrets.token_hex(4)}", "cus_probe")
    signature = events.stripe_signature(body, tenant.webhook_secret)
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    return http("POST", f"{base}{ROUTE_PREFIX}{tenant.workspace_id}", body, headers)[0]


class StoredRows:
    """Rows the gateway stored per accepted event, run by run."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self._before = count_rows(deployment)

    def record(self, run: dict[str, Any]) -> None:
        """Add the rows each table gained per accepted request."""
        now = count_rows(self.deployment)
        accepted = max(run["requests"] - run["non_2xx"], 1)
        run["rows_per_event"] = {
            table: round((now[table] - self._before[table]) / accepted, 3) for table in now
        }
        self._before = now


def lua_env(deployment: Deployment, rig: Rig, name: str) -> dict[str, str]:
    """What ``lua/stripe_event.lua`` needs to sign events for ``deployment``'s workspaces."""
    template = rig.file("event-template.json")
    template.write_text(events.template())
    targets = deployment.write_targets(rig.file(f"{name}-targets.tsv"))
    return {"BENCH_TARGETS": str(targets), "BENCH_TEMPLATE": str(template), "BENCH_SALT": name}


def gateway_target(rig: Rig, name: str, deployment: Deployment, receiver_url: str) -> Target:
    """The gateway (worker off) with one subscriber per workspace, ready to take events."""
    gateway, base = rig.gateway(name, deployment)
    subscribe(deployment, base, receiver_url + "/hook")
    rows = StoredRows(deployment)
    url = base + ROUTE_PREFIX
    return Target("gateway", gateway, url, "stripe_event.lua", lua_env(deployment, rig, name), rows.record)


def run(rig: Rig) -> dict[str, Any]:
    """Measure ingest on SQLite (ratio) and on PostgreSQL (absolute)."""
    plan = rig.plan
    _, stripe_base = rig.stripe_double()
    _, receiver_url = rig.receiver()
    deployment = prepare(rig.work, name="ingest", stripe_base=stripe_base)
    result: dict[str, Any] = {"path": f"POST {ROUTE_PREFIX}{{workspace_id}}", "status": "measured"}
    result |= {"checks": [], "rows": [], "chart": []}
    checks = result["checks"]
    env = {
        "BENCH_TARGETS": str(deployment.write_targets(rig.file("baseline-targets.tsv"))),
        "BENCH_BASELINE_DB": str(rig.file("baseline.db")),
    }
    baseline, baseline_url = rig.serve(
        "ingest-baseline", "bench.apps.ingest_baseline:app", env, core=SERVER_CORE
    )
    checks.append(works("baseline accepts a signed event (status)", send_one(baseline_url, deployment), 200))
    lua = lua_env(deployment, rig, "baseline")
    targets = [Target("baseline", baseline, baseline_url + ROUTE_PREFIX, "stripe_event.lua", lua)]
    ready = any(path.startswith(ROUTE_PREFIX) for path in route_paths(deployment))
    if ready:
        gateway = gateway_target(rig, "ingest-gateway", deployment, receiver_url)
        status = send_one(gateway.url.removesuffix(ROUTE_PREFIX), deployment)
        checks.append(works("gateway accepts a signed event (status)", status, 200))
        targets.insert(0, gateway)
    else:
        result["status"] = "baseline only: POST /v1/stripe/webhooks/{workspace_id} is not on main yet"
    loaded = alternate(
        targets,
        runs=plan.runs,
        seconds=plan.seconds,
        connections=plan.connections,
        warmup=plan.warmup,
        profile_dir=rig.profile_dir,
    )
    result |= loaded
    checks += [works(f"{name}: failed requests", summary["errors"], 0) for name, summary in loaded.items()]
    if not ready:
        result["rows"].append(
            row("Stripe webhook ingest, SQLite", "-", figures(loaded["baseline"], "events/s"))
        )
        return result
    result["ratio"] = paired_ratio(loaded["gateway"], loaded["baseline"])
    result["cost_ratio"] = cost_ratio(loaded["gateway"], loaded["baseline"])
    stored = result["rows_per_event"] = loaded["gateway"]["runs"][-1]["rows_per_event"]
    checks += [
        check("Stripe events stored per accepted event", stored["stripe_events"], ">=", 1.0, kind="works"),
        check("deliveries queued per accepted event", stored["deliveries"], ">=", 1.0, kind="works"),
        check("throughput ratio, SQLite", result["ratio"], ">=", 0.5),
        check("CPU cost ratio, SQLite (baseline / gateway CPU per event)", result["cost_ratio"], ">=", 0.5),
    ]
    gateway_figures, baseline_figures = (
        figures(loaded["gateway"], "events/s"),
        figures(loaded["baseline"], "events/s"),
    )
    result["rows"].append(
        row(
            "Stripe webhook ingest, SQLite",
            gateway_figures,
            baseline_figures,
            f"{result['ratio']:.2f} (CPU {result['cost_ratio']:.2f})",
            ">= 0.5",
        )
    )
    result["chart"].append({"label": "webhook ingest, SQLite", "value": result["ratio"], "budget": 0.5})
    _postgres(rig, stripe_base, receiver_url, result)
    return result


def _postgres(rig: Rig, stripe_base: str, receiver_url: str, result: dict[str, Any]) -> None:
    url = rig.postgres_url
    if not postgres_reachable(url):
        result["postgres_status"] = f"skipped: PostgreSQL not reachable at {url}"
        return
    deployment = prepare(rig.work, name="ingest-pg", stripe_base=stripe_base, postgres_url=url)
    try:
        target = gateway_target(rig, "ingest-gateway-pg", deployment, receiver_url)
        target.aux.append(Watched("postgresql", "postgres"))
        plan = rig.plan
        loaded = alternate(
            [target],
            runs=plan.runs,
            seconds=plan.seconds,
            connections=plan.connections,
            warmup=plan.warmup,
            profile_dir=rig.profile_dir,
        )
        rig.stop(target.server)
    finally:
        drop(deployment)
    summary = result["postgres"] = loaded["gateway"]
    result["checks"] += [
        works("PostgreSQL: failed requests", summary["errors"], 0),
        check("PostgreSQL events/s", summary["rps"], ">=", 2000, unit="events/s"),
    ]
    server = summary["aux_cpu_cores"].get("postgresql", 0.0)
    shown = f"{figures(summary, 'events/s')}; PostgreSQL server {server:.2f} cores"
    result["rows"].append(row("Stripe webhook ingest, PostgreSQL", shown, budget=">= 2,000/s"))
