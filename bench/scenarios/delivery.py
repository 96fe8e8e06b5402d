"""Path 3: delivery. One ``gateway worker`` draining a backlog to a local receiver, against a bare
aiohttp sender with the same concurrency and the same Standard Webhooks signing (no database).

Rates come from the receiver's own arrival stamps (first to last callback), so both sides are timed
the same way; the worker's start-up is outside the window.
"""

import base64
import json
import secrets
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.measure import figures, row, works
from bench.procs import BIN, ROOT, SERVER_CORE, Proc, cpu_seconds, http, pinned
from bench.rig import Rig

CONCURRENCY = 4  # the contract's default per-subscriber cap; overridden when the worker lands


def receiver_stats(receiver_url: str) -> dict[str, Any]:
    """What the receiver saw."""
    stats: dict[str, Any] = json.loads(http("GET", receiver_url + "/__stats")[1])
    return stats


def wait_for(receiver_url: str, expected: int, timeout: float, proc: Proc | None = None) -> dict[str, Any]:
    """Poll the receiver until ``expected`` callbacks arrived; the rate between first and last.

    With ``proc``, its CPU is measured over the same window (from the first callback on).
    """
    deadline = time.monotonic() + timeout
    cpu_start = wall_start = 0.0
    stats = receiver_stats(receiver_url)
    while stats["count"] < expected and time.monotonic() < deadline:
        if proc is not None and not cpu_start and stats["count"]:
            cpu_start, wall_start = cpu_seconds(proc.pids), time.monotonic()
        time.sleep(0.05)
        stats = receiver_stats(receiver_url)
    span = stats["last"] - stats["first"]
    result = {
        "received": stats["count"],
        "distinct": stats["distinct"],
        "seconds": round(span, 3),
        "rate": round((stats["count"] - 1) / span, 1) if span > 0 else 0.0,
    }
    if proc is not None and cpu_start:
        result["cpu_cores"] = round((cpu_seconds(proc.pids) - cpu_start) / (time.monotonic() - wall_start), 3)
    return result


def synthetic_messages(path: Path, count: int) -> Path:
    """``count`` flat-event-sized messages (about 1 KB each), as the sender baseline reads them."""
    with path.open("w") as out:
        for number in range(count):
            event_id = f"evt_gw_bench{number:08d}"
            body = {
                "schema_version": 1,
                "event_id": event_id,
                "event_type": "subscription.updated",
                "stripe_event_id": f"evt_bench{number}",
                "customer_id": f"cus_bench{number % 1000}",
                "subscription_id": f"sub_bench{number}",
                "status": "active",
                "is_active": True,
                "price_id": "price_bench_monthly",
                "padding": "x" * 700,
            }
            out.write(json.dumps([event_id, json.dumps(body, separators=(",", ":"))]) + "\n")
    return path


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
    for key in ("rate", "cpu_cores"):
        values = [r[key] for r in runs if key in r]
        if values:
            summary[key] = statistics.median(values)
    return summary


def run(rig: Rig) -> dict[str, Any]:
    """Baseline sender runs (and the worker's, once ``gateway worker`` is on main)."""
    plan = rig.plan
    _, receiver_url = rig.receiver()
    count = plan.delivery_backlog
    messages = synthetic_messages(rig.file("messages.jsonl"), count)
    result: dict[str, Any] = {"path": "delivery: one worker -> local receiver", "checks": [], "rows": []}
    result["status"] = "baseline only: gateway worker is not on main yet"
    runs = [send_baseline(receiver_url, messages, count, CONCURRENCY) for _ in range(plan.runs)]
    baseline = result["baseline"] = median_of(runs)
    result["checks"].append(
        works("baseline: messages received once each", min(r["distinct"] for r in runs), count)
    )
    result["rows"].append(
        row("delivery, one worker", "-", figures(baseline, "deliveries/s"), budget=">= 0.35")
    )
    return result
