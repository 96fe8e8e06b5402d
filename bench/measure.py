"""Measuring HTTP targets under wrk: CPU and RSS of the server while it runs, medians of runs."""

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import profile as profiling
from bench.load import wrk
from bench.procs import Proc, Sampler, Watched, children_cpu_seconds, cpu_seconds, machine_busy_seconds

#: Figures whose median over runs is reported (each one separately, as in perf-ceiling.md).
MEDIAN_KEYS = (
    "rps",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "cpu_cores",
    "cpu_us_per_request",
    "log_lines_per_1k",
    "other_cpu_cores",
    "load_average",
)


@dataclass
class Target:
    """A server under test and how to load it."""

    name: str
    server: Proc
    url: str
    script: str
    env: dict[str, str]
    #: Called after each run with its figures; may add checks (rows stored, upstream calls, ...).
    after_run: Callable[[dict[str, Any]], None] | None = None
    #: Helpers whose CPU is reported too (the Stripe stand-in, the receiver, PostgreSQL).
    aux: list[Proc | Watched] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)


def run_once(
    target: Target, *, seconds: float, connections: int, max_requests: int = 0, profile: Path | None = None
) -> dict[str, Any]:
    """One wrk run against ``target``, with the server's CPU, peak RSS and log lines over it.

    With ``profile``, py-spy samples the server meanwhile and the run gets a summary of where its time went.
    """
    pids = target.server.pids
    spy = profiling.start(target.server.popen.pid, seconds, profile) if profile else None
    sampler = Sampler(lambda: target.server.pids)
    sampler.start()
    log_before = target.server.log_lines()
    aux_before = [cpu_seconds(proc.pids) for proc in target.aux]
    machine_before, load_before = machine_busy_seconds(), children_cpu_seconds()
    cpu_before, started = cpu_seconds(pids), time.monotonic()
    result = wrk(
        target.url,
        target.script,
        seconds=seconds,
        connections=connections,
        env=target.env,
        max_requests=max_requests,
    ).as_dict()
    wall = time.monotonic() - started
    cores = (cpu_seconds(target.server.pids) - cpu_before) / wall
    result["cpu_cores"] = round(cores, 3)
    result["aux_cpu_cores"] = {
        proc.name: round((cpu_seconds(proc.pids) - before) / wall, 3)
        for proc, before in zip(target.aux, aux_before, strict=True)
    }
    result["wrk_cpu_cores"] = round((children_cpu_seconds() - load_before) / wall, 3)
    # Anything else that ran on the machine meanwhile (other people's tests): noise to report.
    ours = cores + result["wrk_cpu_cores"] + sum(result["aux_cpu_cores"].values())
    result["other_cpu_cores"] = round(max(0.0, (machine_busy_seconds() - machine_before) / wall - ours), 3)
    # The 1-minute load average as the run ends: how busy the shared machine was (noise to report).
    result["load_average"] = round(os.getloadavg()[0], 2)
    result["cpu_us_per_request"] = round(cores * 1e6 / result["rps"], 1) if result["rps"] else 0.0
    result["peak_rss_mb"] = sampler.finish()
    log_lines = target.server.log_lines() - log_before
    result["log_lines"] = log_lines
    result["log_lines_per_1k"] = round(1000 * log_lines / max(result["requests"], 1), 3)
    result["connections"] = connections
    if spy is not None and profile is not None:
        spy.wait(timeout=60)
        result["profile"] = profiling.summarize(profile)
    if target.after_run is not None:
        target.after_run(result)
    return result


def alternate(
    targets: list[Target],
    *,
    runs: int,
    seconds: float,
    connections: int,
    warmup: float,
    profile_dir: Path | None = None,
    warmup_requests: int = 0,
) -> dict[str, dict[str, Any]]:
    """Warm each target, then run them in turn (A, B, A, B, ...); the summary of each.

    With ``warmup_requests``, each warm-up lasts until that many answers (at most a minute) rather
    than ``warmup`` seconds. With ``profile_dir``, each target's last
    run is profiled (py-spy) and the profile kept there.
    """
    for target in targets:
        if warmup_requests:
            run_once(target, seconds=60, connections=connections, max_requests=warmup_requests)
        else:
            run_once(target, seconds=warmup, connections=connections)
    for number in range(runs):
        for target in targets:
            last_run = profile_dir is not None and number == runs - 1
            profile = profile_dir / f"{target.server.name}-c{connections}.txt" if last_run else None
            target.runs.append(run_once(target, seconds=seconds, connections=connections, profile=profile))
    summaries = {target.name: summarize(target.runs) for target in targets}
    for target, summary in zip(targets, summaries.values(), strict=True):
        if "profile" in target.runs[-1]:
            summary["profile"] = target.runs[-1].pop("profile")
    return summaries


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over ``runs``, error totals, the peak RSS, and the runs themselves."""
    summary: dict[str, Any] = {
        key: round(statistics.median(run[key] for run in runs), 3) for key in MEDIAN_KEYS if key in runs[0]
    }
    summary["requests"] = sum(run["requests"] for run in runs)
    summary["errors"] = sum(run["non_2xx"] + run["socket_errors"] for run in runs)
    summary["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    summary["aux_cpu_cores"] = {
        name: round(statistics.median(run["aux_cpu_cores"][name] for run in runs), 3)
        for name in runs[0].get("aux_cpu_cores", {})
    }
    summary["runs"] = runs
    return summary


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` to 3 places (0 when there is nothing to divide by)."""
    return round(numerator / denominator, 3) if denominator else 0.0


def check(
    name: str, value: float, op: str, limit: float, *, kind: str = "budget", unit: str = ""
) -> dict[str, Any]:
    """A budget (timing: reported, never asserted) or a correctness check (asserted, smoke included)."""
    ok = {">=": value >= limit, "<=": value <= limit, "==": value == limit, "<": value < limit}[op]
    return {"name": name, "value": value, "op": op, "limit": limit, "unit": unit, "kind": kind, "ok": ok}


def mark(outcome: dict[str, Any]) -> str:
    """``ok``, ``over`` (a timing budget missed) or ``FAIL`` (something did not work)."""
    if outcome["ok"]:
        return "ok  "
    return "FAIL" if outcome["kind"] == "works" else "over"


def check_text(outcome: dict[str, Any]) -> str:
    """A check as one line: name, value, and the limit it is held to."""
    value = outcome["value"]
    shown = f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    unit = f" {outcome['unit']}" if outcome["unit"] else ""
    return f"{outcome['name']}: {shown}{unit} ({outcome['op']} {outcome['limit']:,})"


def figures(summary: dict[str, Any] | None, unit: str = "req/s") -> str:
    """Throughput, latency, CPU and memory of one summary, in one line."""
    if not summary:
        return "-"
    parts = [f"{summary.get('rps', summary.get('rate', 0)):,.0f} {unit}"]
    if "p50_ms" in summary:
        parts.append(f"p50 {summary['p50_ms']:.2f} / p99 {summary['p99_ms']:.2f} ms")
    if "cpu_cores" in summary:
        parts.append(f"{summary['cpu_cores']:.2f} cores")
    if "peak_rss_mb" in summary:
        parts.append(f"{summary['peak_rss_mb']:.0f} MB")
    if "load_average" in summary:
        parts.append(f"load {summary['load_average']:.1f}")
    return ", ".join(parts)


def row(
    label: str, gateway: str, baseline: str = "-", ratio: float | str = "-", budget: str = ""
) -> dict[str, str]:
    """One line of the results table (gateway and baseline figures, their ratio, the budget)."""
    shown = f"{ratio:.2f}" if isinstance(ratio, float) else ratio
    return {"label": label, "gateway": gateway, "baseline": baseline, "ratio": shown, "budget": budget}


def works(name: str, value: float, expected: float) -> dict[str, Any]:
    """A correctness check: ``value`` must equal ``expected``."""
    return check(name, value, "==", expected, kind="works")


def paired_ratio(top: dict[str, Any], bottom: dict[str, Any], key: str = "rps") -> float:
    """The median over alternating run pairs of ``top``'s ``key`` over ``bottom``'s.

    Each pair ran back to back, so a drift in this VM's speed (20 % within a minute, seen here)
    moves both sides of a pair, where a ratio of the two medians would read it as cost.
    """
    pairs = zip(top["runs"], bottom["runs"], strict=True)
    return round(statistics.median(t[key] / b[key] if b[key] else 0.0 for t, b in pairs), 3)


def cost_ratio(gateway: dict[str, Any], baseline: dict[str, Any]) -> float:
    """Baseline CPU per request over the gateway's: the throughput ratio of two servers that each
    saturate a core, and unlike req/s not moved by whatever else the machine runs meanwhile."""
    return paired_ratio(baseline, gateway, "cpu_us_per_request")
