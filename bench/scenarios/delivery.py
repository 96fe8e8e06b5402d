"""Path 3: delivery. One ``gateway worker`` draining a backlog to a local receiver, against a bare
aiohttp sender with the same concurrency and the same Standard Webhooks signing (no database).

Rates come from the receiver's own arrival stamps (first to last callback), so both sides are timed
the same way; the worker's start-up is outside the window.
"""

import base64
import json
import os
import secrets
import signal
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import backlog
from bench.deployment import Deployment, drop, pipeline_ready, postgres_reachable, prepare, subscriber_rows
from bench.measure import check, figures, ratio, row, works
from bench.procs import BIN, ROOT, SERVER_CORE, Proc, cpu_seconds, http, machine_busy_seconds, pinned
from bench.rig import Rig

#: Attempts in flight: the worker's ``--concurrency`` and the subscriber's ``max_in_flight`` alike.
CONCURRENCY = 50
#: Subscribers (one per workspace) of the PostgreSQL backlog. A subscriber's ``max_in_flight`` (at most
#: 100) counts what every worker holds for it, claimed and in flight: on one subscriber, two workers
#: share its slots and wait on each other's claims, which is the cap doing its job, not their capacity.
PG_SUBSCRIBERS = 4
#: Flat events queued through the gateway's outbox before their deliveries are cloned into the backlog.
SEED_EVENTS = 200


def receiver_stats(receiver_url: str) -> dict[str, Any]:
    """What the receiver saw."""
    stats: dict[str, Any] = json.loads(http("GET", receiver_url + "/__stats")[1])
    return stats


def wait_for(
    receiver_url: str, expected: int, timeout: float, procs: list[Proc] | None = None
) -> dict[str, Any]:
    """Poll the receiver until ``expected`` callbacks arrived; the rate between first and last.

    With ``procs``, their CPU is measured over about the same window (from the first callback seen).
    """
    procs = procs or []
    deadline = time.monotonic() + timeout
    cpu_start = wall_start = 0.0
    machine_start, machine_wall = machine_busy_seconds(), time.monotonic()
    stats = receiver_stats(receiver_url)
    while stats["count"] < expected and time.monotonic() < deadline and all(p.alive() for p in procs):
        if procs and not wall_start and stats["count"]:
            cpu_start, wall_start = sum(cpu_seconds(p.pids) for p in procs), time.monotonic()
        time.sleep(0.05)
        stats = receiver_stats(receiver_url)
    span = stats["last"] - stats["first"]
    result = {"received": stats["count"], "distinct": stats["distinct"], "seconds": round(span, 3)}
    result["rate"] = round((stats["count"] - 1) / span, 1) if span > 0 else 0.0
    if wall_start:
        cpu = sum(cpu_seconds(p.pids) for p in procs) - cpu_start
        result["cpu_cores"] = round(cpu / (time.monotonic() - wall_start), 3)
    # Everything the machine ran meanwhile (sender or workers, receiver, database, other people's work).
    result["machine_busy_cores"] = round(
        (machine_busy_seconds() - machine_start) / (time.monotonic() - machine_wall), 3
    )
    result["load_average"] = round(os.getloadavg()[0], 2)
    return result


def send_baseline(receiver_url: str, messages: Path, count: int, concurrency: int) -> dict[str, Any]:
    """One baseline run: the bare sender delivers every message; the receiver times it."""
    http("POST", receiver_url + "/__reset")
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    cmd = [
        str(BIN / "python"),
        "-m",
        "bench.apps.sender_baseline",
        "--url",
        receiver_url + "/hook",
        "--messages",
        str(messages),
        "--secret",
        secret,
        "--concurrency",
        str(concurrency),
    ]
    done = subprocess.run(
        pinned(cmd, SERVER_CORE),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    sender = json.loads(done.stdout.strip().splitlines()[-1])
    timed = wait_for(receiver_url, count, 30)
    return {
        **timed,
        "errors": sender["errors"],
        "cpu_cores": round(sender["cpu_seconds"] / sender["seconds"], 3),
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of rate and CPU over runs, with the runs."""
    summary: dict[str, Any] = {"runs": runs}
    for key in ("rate", "cpu_cores", "load_average"):
        values = [r[key] for r in runs if key in r]
        if values:
            summary[key] = statistics.median(values)
    return summary


def drain(deployment: Deployment, receiver_url: str, count: int, procs: list[Proc]) -> dict[str, Any]:
    """One worker run: the running ``procs`` deliver the whole backlog, made due again for the run.

    The workers keep running between runs (a start costs seconds of imports on a busy machine, and
    is outside the timed window anyway); the run ends once every outcome is recorded.
    """
    http("POST", receiver_url + "/__reset")
    backlog.reset(deployment)
    timed = wait_for(receiver_url, count, 120, procs)
    deadline = time.monotonic() + 30
    while backlog.outcome(deployment).get("succeeded", 0) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    timed["outcome"] = backlog.outcome(deployment)
    return timed


def workers(rig: Rig, deployment: Deployment, count: int, *, core: int | None) -> list[Proc]:
    """``count`` ``gateway worker`` processes, started with nothing due (``drain`` makes it due)."""
    return [
        rig.worker(f"worker-{n}", deployment, "--concurrency", str(CONCURRENCY), core=core)
        for n in range(count)
    ]


def fill(rig: Rig, deployment: Deployment, receiver_url: str) -> int:
    """Queue ``plan.delivery_backlog`` deliveries to the receiver in ``deployment``, parked; their number."""
    subscriber_rows(deployment, receiver_url + "/hook", max_in_flight=CONCURRENCY)
    backlog.seed(deployment, min(SEED_EVENTS, rig.plan.delivery_backlog))
    count = backlog.grow(deployment, rig.plan.delivery_backlog)
    backlog.park(deployment)
    return count


def run(rig: Rig) -> dict[str, Any]:
    """One worker against the bare sender (SQLite), then 1 and 2 workers on PostgreSQL."""
    plan = rig.plan
    _, stripe_base = rig.stripe_double()
    _, receiver_url = rig.receiver()
    result: dict[str, Any] = {"path": "delivery: one worker -> local receiver", "status": "measured"}
    result |= {"checks": [], "rows": [], "chart": []}
    checks = result["checks"]
    deployment = prepare(rig.work, name="delivery", stripe_base=stripe_base)
    missing = pipeline_ready(deployment, ("/v1/subscribers",))
    if missing:
        result["status"] = missing
        return result
    count = fill(rig, deployment, receiver_url)
    messages = backlog.export(deployment, rig.file("messages.jsonl"))
    worker_runs, baseline_runs = [], []
    running = workers(rig, deployment, 1, core=SERVER_CORE)
    for _ in range(plan.runs):
        worker_runs.append(drain(deployment, receiver_url, count, running))
        baseline_runs.append(send_baseline(receiver_url, messages, count, CONCURRENCY))
    rig.stop(running[0])
    worker, baseline = result["worker"], result["baseline"] = median_of(worker_runs), median_of(baseline_runs)
    result["backlog"] = count
    result["ratio"] = ratio(worker["rate"], baseline["rate"])
    checks += [
        works("worker: deliveries received once each", min(r["distinct"] for r in worker_runs), count),
        works(
            "worker: deliveries left unsucceeded",
            max(count - r["outcome"].get("succeeded", 0) for r in worker_runs),
            0,
        ),
        works("baseline: messages received once each", min(r["distinct"] for r in baseline_runs), count),
        check("deliveries/s, one worker", worker["rate"], ">=", 5000, unit="/s"),
        check("ratio to the bare sender", result["ratio"], ">=", 0.35),
    ]
    result["rows"].append(
        row(
            "delivery, one worker, SQLite",
            figures(worker, "deliveries/s"),
            figures(baseline, "deliveries/s"),
            result["ratio"],
            ">= 0.35, >= 5,000/s",
        )
    )
    result["chart"].append({"label": "delivery, 1 worker", "value": result["ratio"], "budget": 0.35})
    _postgres(rig, receiver_url, stripe_base, result)
    return result


def _postgres(rig: Rig, receiver_url: str, stripe_base: str, result: dict[str, Any]) -> None:
    """Two workers against one on PostgreSQL, all unpinned (they share the machine's two cores)."""
    if not postgres_reachable(rig.postgres_url):
        result["postgres_status"] = f"skipped: PostgreSQL not reachable at {rig.postgres_url}"
        return
    deployment = prepare(
        rig.work,
        name="delivery-pg",
        stripe_base=stripe_base,
        postgres_url=rig.postgres_url,
        workspaces=PG_SUBSCRIBERS,
    )
    try:
        count = fill(rig, deployment, receiver_url)
        first, second = workers(rig, deployment, 2, core=None)
        one, two = [], []
        for _ in range(max(1, rig.plan.runs - 1)):
            # The second worker sits stopped (SIGSTOP, holding nothing) through the one-worker runs.
            os.kill(second.popen.pid, signal.SIGSTOP)
            one.append(drain(deployment, receiver_url, count, [first]))
            os.kill(second.popen.pid, signal.SIGCONT)
            two.append(drain(deployment, receiver_url, count, [first, second]))
        rig.stop(second)
        rig.stop(first)
    finally:
        drop(deployment)
    single, double = result["postgres_one_worker"], result["postgres_two_workers"] = (
        median_of(one),
        median_of(two),
    )
    scaling = result["postgres_scaling"] = ratio(double["rate"], single["rate"])
    result["checks"] += [
        works("PostgreSQL: deliveries received once each", min(r["distinct"] for r in one + two), count),
        check("two workers / one, PostgreSQL", scaling, ">=", 1.7),
    ]
    result["rows"].append(
        row(
            "delivery, PostgreSQL, 2 workers / 1",
            figures(double, "deliveries/s"),
            figures(single, "deliveries/s"),
            scaling,
            ">= 1.7",
        )
    )
    result["chart"].append({"label": "2 workers / 1 (PostgreSQL)", "value": scaling, "budget": 1.7})
