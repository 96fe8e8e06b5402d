"""Path 4: end-to-end latency, Stripe event accepted to callback received, at a steady 100 events/s.

``gateway serve`` as users run it (SQLite, embedded worker) with one subscriber on a local receiver;
the probe (``bench.apps.latency_probe``) sends open-loop on the other core and reads the receiver's
arrival stamps.
"""

import json
import os
import subprocess
from typing import Any

from bench.deployment import pipeline_ready, prepare, subscribe
from bench.measure import check, row
from bench.procs import BIN, LOAD_CORE, ROOT, pinned
from bench.rig import Rig

RATE = 100.0


def run(rig: Rig) -> dict[str, Any]:
    """Probe the whole pipeline at 100 events/s."""
    plan = rig.plan
    _, stripe_base = rig.stripe_double()
    _, receiver_url = rig.receiver()
    deployment = prepare(rig.work, name="latency", stripe_base=stripe_base, worker="embedded")
    result: dict[str, Any] = {
        "path": "Stripe event accepted -> callback received (100 events/s)",
        "checks": [],
    }
    missing = pipeline_ready(deployment)
    if missing:
        result["status"] = missing
        return result
    _, base = rig.gateway_serve("latency-serve", deployment)
    subscribe(deployment, base, receiver_url + "/hook")
    targets = deployment.write_targets(rig.file("latency-targets.tsv"))
    cmd = [
        str(BIN / "python"),
        "-m",
        "bench.apps.latency_probe",
        "--url",
        base,
        "--targets",
        str(targets),
        "--receiver",
        receiver_url,
        "--rate",
        str(RATE),
        "--seconds",
        str(plan.latency_seconds),
    ]
    done = subprocess.run(
        pinned(cmd, LOAD_CORE),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=plan.latency_seconds + 120,
    )
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    result |= {"status": "measured", "rate": RATE, **probe, "load_average": round(os.getloadavg()[0], 2)}
    send, accept = probe["from_send"], probe["from_accept"]
    figures = (
        f"p50 {send['p50_ms']:.1f} / p99 {send['p99_ms']:.1f} ms from send; "
        f"p50 {accept['p50_ms']:.1f} / p99 {accept['p99_ms']:.1f} ms from the 200; "
        f"load {result['load_average']:.1f}"
    )
    result["rows"] = [row("Stripe event -> callback, 100/s", figures, budget="p50 <= 20, p99 <= 100 ms")]
    checks = result["checks"]
    checks.append(check("events accepted", probe["accepted"], "==", probe["sent"], kind="works"))
    checks.append(check("callbacks received", probe["received"], "==", probe["accepted"], kind="works"))
    # Timed from the moment the probe sends (ingest included): an upper bound of accepted -> received.
    checks.append(check("p50 sent -> callback received", probe["from_send"]["p50_ms"], "<=", 20.0, unit="ms"))
    checks.append(
        check("p99 sent -> callback received", probe["from_send"]["p99_ms"], "<=", 100.0, unit="ms")
    )
    return result
