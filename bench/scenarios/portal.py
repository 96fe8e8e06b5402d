"""Path 1: ``POST /v1/portal-sessions`` (preset cached) against a bare Litestar handler + the SDK.

Both call the same Stripe stand-in. Throughput at 50 connections gives the ratio; one connection
(no queueing: each request alone on an idle server) gives the latency the gateway adds. The stand-in
counts its calls: exactly one upstream call per request, checked on 100 requests in a row and
reported per run under load.
"""

import json
import subprocess
from typing import Any

from bench.deployment import STRIPE_KEY, prepare, route_paths
from bench.measure import Target, alternate, check, cost_ratio, figures, paired_ratio, row, works
from bench.procs import BIN, ROOT, SERVER_CORE, http, pinned
from bench.rig import Rig

PATH = "/v1/portal-sessions"
PRESET = "default"
BODY = json.dumps({"customer": "cus_bench", "preset": PRESET}, separators=(",", ":"))


class UpstreamCalls:
    """Calls the Stripe stand-in answered, by ``METHOD /path``, and since the last look."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._seen = self.total()

    def stats(self) -> dict[str, int]:
        """Calls so far by ``METHOD /path``."""
        stats: dict[str, int] = json.loads(http("GET", self.base + "/__stats")[1])
        return stats

    def total(self) -> int:
        """All calls so far."""
        return sum(self.stats().values())

    def since_last(self) -> int:
        """Calls since the previous look."""
        total = self.total()
        calls, self._seen = total - self._seen, total
        return calls

    def record(self, run: dict[str, Any]) -> None:
        """Add the run's upstream calls per answered request."""
        run["upstream_calls"] = self.since_last()
        run["upstream_calls_per_request"] = round(run["upstream_calls"] / max(run["requests"], 1), 4)


def request(base: str, key: str) -> tuple[int, dict[str, Any]]:
    """One portal URL; the status and the answer."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    status, body = http("POST", base + PATH, BODY.encode(), headers)
    return status, json.loads(body or b"{}")


def exactly_one_call(base: str, key: str, upstream: UpstreamCalls, requests: int) -> dict[str, Any]:
    """``requests`` portal URLs in a row (preset already cached): the Stripe calls they caused."""
    http("POST", upstream.base + "/__reset")
    statuses = [request(base, key)[0] for _ in range(requests)]
    calls = upstream.stats()
    upstream.since_last()
    return {"requests": requests, "ok": statuses.count(200), "stripe_calls": calls}


def answers_url(base: str, key: str) -> int:
    """1 when a portal request answers 200 with a URL."""
    status, answer = request(base, key)
    return int(status == 200 and bool(answer.get("url")))


def _unexplained_calls(run: dict[str, Any]) -> int:
    """Stripe calls a run cannot account for. wrk counts only answers within the run: requests in flight
    when a run ends (and when the one before it ended) reach Stripe without being counted, one per
    connection at each end."""
    calls, answered = run["upstream_calls"], run["requests"]
    return max(0, calls - answered - 2 * run["connections"]) + max(0, answered - calls)


def run(rig: Rig) -> dict[str, Any]:
    """Measure the portal path and its baseline, alternating runs."""
    plan = rig.plan
    double, stripe_base = rig.stripe_double()
    deployment = prepare(rig.work, name="portal", stripe_base=stripe_base)
    keys = deployment.write_keys(rig.file("portal-keys.txt"))
    key = deployment.tenants[0].portal_key
    upstream = UpstreamCalls(stripe_base)
    env = {"BENCH_KEYS": str(keys), "BENCH_STRIPE_KEY": STRIPE_KEY, "BENCH_STRIPE_BASE": stripe_base}
    baseline, baseline_url = rig.serve(
        "portal-baseline", "bench.apps.portal_baseline:app", env, core=SERVER_CORE
    )
    lua = {"BENCH_KEYS": str(keys), "BENCH_BODY": BODY, "BENCH_PATH": PATH}
    targets = [
        Target("baseline", baseline, baseline_url + PATH, "portal.lua", lua, upstream.record, [double])
    ]
    result: dict[str, Any] = {
        "path": f"POST {PATH}",
        "status": "measured",
        "checks": [],
        "rows": [],
        "chart": [],
    }
    checks = result["checks"]
    checks.append(works("baseline answers 200 with a url", answers_url(baseline_url, key), 1))
    ready = PATH in route_paths(deployment)
    if ready:
        gateway, gateway_url = rig.gateway("portal-gateway", deployment)
        # The first request syncs the preset to Stripe; later ones find its configuration cached.
        checks.append(works("gateway answers 200 with a url", answers_url(gateway_url, key), 1))
        one = exactly_one_call(gateway_url, key, upstream, 20 if plan.smoke else 100)
        result["exactly_one_call"] = one
        checks.append(works("gateway requests in a row answered 200", one["ok"], one["requests"]))
        per_request = round(sum(one["stripe_calls"].values()) / one["requests"], 3)
        checks.append(works("Stripe calls per portal URL, preset cached", per_request, 1.0))
        targets.insert(
            0, Target("gateway", gateway, gateway_url + PATH, "portal.lua", lua, upstream.record, [double])
        )
    else:
        result["status"] = "baseline only: POST /v1/portal-sessions is not on main yet"
    upstream.since_last()
    loaded = alternate(
        targets,
        runs=plan.runs,
        seconds=plan.seconds,
        connections=plan.connections,
        warmup=plan.warmup,
        profile_dir=rig.profile_dir,
    )
    alone = alternate(
        [Target(t.name, t.server, t.url, t.script, t.env, upstream.record, t.aux) for t in targets],
        runs=plan.runs,
        seconds=max(1.0, plan.seconds / 2),
        connections=1,
        warmup=1,
    )
    result |= loaded | {f"{name}_c1": summary for name, summary in alone.items()}
    checks += [works(f"{name}: failed requests", summary["errors"], 0) for name, summary in loaded.items()]
    if not ready:
        result["rows"].append(
            row("portal URL, 50 connections", "-", figures(loaded["baseline"]), "-", ">= 0.85")
        )
        return result
    gateway_runs = loaded["gateway"]["runs"]
    result["ratio"] = paired_ratio(loaded["gateway"], loaded["baseline"])
    result["cost_ratio"] = cost_ratio(loaded["gateway"], loaded["baseline"])
    result["added_p50_ms"] = round(alone["gateway"]["p50_ms"] - alone["baseline"]["p50_ms"], 3)
    result["added_p99_ms"] = round(alone["gateway"]["p99_ms"] - alone["baseline"]["p99_ms"], 3)
    checks += [
        works(
            "upstream calls beyond one per request, under load", max(map(_unexplained_calls, gateway_runs)), 0
        ),
        check("throughput ratio", result["ratio"], ">=", 0.85),
        check("CPU cost ratio (baseline / gateway CPU per request)", result["cost_ratio"], ">=", 0.85),
        check("added p50, 1 connection", result["added_p50_ms"], "<=", 2.0, unit="ms"),
        check("log lines per 1,000 requests", loaded["gateway"]["log_lines_per_1k"], "<", 1.0),
    ]
    result["rows"] += [
        row(
            "portal URL, 50 connections",
            figures(loaded["gateway"]),
            figures(loaded["baseline"]),
            f"{result['ratio']:.2f} (CPU {result['cost_ratio']:.2f})",
            ">= 0.85",
        ),
        row(
            "portal URL, 1 connection",
            figures(alone["gateway"]),
            figures(alone["baseline"]),
            f"+{result['added_p50_ms']:.2f} ms p50",
            "<= +2 ms p50",
        ),
    ]
    result["chart"].append({"label": "portal URL", "value": result["ratio"], "budget": 0.85})
    in_process(rig, result)
    return result


def in_process(rig: Rig, result: dict[str, Any]) -> None:
    """The same comparison without sockets or uvicorn (``bench.overhead``): the noise-free view."""
    cmd = [str(BIN / "python"), "-m", "bench.overhead", "--requests", "300" if rig.plan.smoke else "3000"]
    done = subprocess.run(
        pinned(cmd, SERVER_CORE), cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    measured = result["in_process"] = json.loads(done.stdout.strip().splitlines()[-1])
    gateway, baseline = measured["gateway_us_per_request"], measured["baseline_us_per_request"]
    label = "portal URL, in process (CPU per request)"
    result["rows"].append(
        row(label, f"{gateway:.0f} us", f"{baseline:.0f} us", measured["ratio"], "(diagnostic)")
    )
