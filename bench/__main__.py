"""``python -m bench``: every path of the gateway against its bare baseline, in one run.

``make bench`` runs it in full (under 10 minutes), prints the table of ratios, writes
``bench/results.json`` and regenerates ``docs/performance.md``. ``make bench-smoke`` (``--smoke``)
runs each path for a second and checks only that the harness works and requests succeed: timings
are never asserted there.
"""

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.load import require_wrk
from bench.procs import ROOT
from bench.rig import Plan, Rig, failure
from bench.scenarios import delivery, ingest, latency, memory, portal, scale

SCENARIOS: dict[str, Callable[[Rig], dict[str, Any]]] = {
    "portal": portal.run,
    "ingest": ingest.run,
    "delivery": delivery.run,
    "latency": latency.run,
    "memory": memory.run,
    "scale": scale.run,
}


def main() -> int:
    """Run the scenarios asked for; 1 when a correctness check failed (budgets are only reported)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="one short run per path; check requests succeed")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(SCENARIOS)}")
    parser.add_argument("--results", type=Path, default=None, help="where to write the JSON results")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (databases, logs)")
    parser.add_argument("--profile", action="store_true", help="py-spy each server during its last run")
    args = parser.parse_args()
    try:
        require_wrk()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 2
    plan = dataclasses.replace(Plan.from_env(smoke=args.smoke), profile=args.profile)
    chosen = [name for name in (args.only.split(",") if args.only else SCENARIOS) if name]
    work = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    started = time.time()
    results: dict[str, Any] = {
        "smoke": plan.smoke,
        "plan": plan.__dict__,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": machine.describe(),
        "paths": {},
    }
    failed = False
    for name in chosen:
        rig = Rig(plan, work / name)
        print(f"== {name}", flush=True)
        began = time.monotonic()
        try:
            outcome = SCENARIOS[name](rig)
        except Exception as exc:  # noqa: BLE001  (one broken scenario must not hide the others)
            outcome = failure(exc, rig)
        finally:
            rig.stop_all()
        outcome["seconds"] = round(time.monotonic() - began, 1)
        results["paths"][name] = outcome
        failed |= report.broken(outcome)
        print(report.scenario_lines(outcome), flush=True)
        if not report.broken(outcome) and not args.keep:
            rig.clean()
    results["seconds"] = round(time.time() - started, 1)
    print(report.table(results))
    # Only a full run is the record: a smoke run or a subset (--only) leaves results.json and the docs alone.
    complete = not plan.smoke and chosen == list(SCENARIOS)
    destination = args.results or (ROOT / "bench" / "results.json" if complete else work / "results.json")
    destination.write_text(json.dumps(results, indent=1) + "\n")
    if complete:
        report.write_docs(results)
    print(f"results: {destination} ({results['seconds']:.0f} s)")
    if plan.smoke:
        works = [
            c
            for outcome in results["paths"].values()
            for c in outcome.get("checks", [])
            if c["kind"] == "works"
        ]
        crashed = sum(outcome.get("status") == "failed" for outcome in results["paths"].values())
        passed = sum(c["ok"] for c in works)
        print(f"bench-smoke: {passed} passed, {len(works) - passed + crashed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
