"""Presenting results: the console table, and ``docs/performance.md`` + its chart.

``python -m bench.report`` regenerates the document from ``bench/results.json`` alone. The part of
``docs/performance.md`` between the ``<!-- analysis -->`` markers is written by people (profiles,
where the time goes, what was changed) and kept as it is on every regeneration.
"""

import json
import re
from typing import Any

from bench import document
from bench.measure import check_text, mark
from bench.procs import ROOT

DOC = ROOT / "docs" / "performance.md"
CHART = ROOT / "docs" / "performance-ratios.svg"
ANALYSIS = re.compile(r"<!-- analysis -->.*?<!-- /analysis -->", re.DOTALL)
NO_ANALYSIS = "<!-- analysis -->\n_No analysis written yet._\n<!-- /analysis -->"


def broken(outcome: dict[str, Any]) -> bool:
    """Whether the scenario failed to run or a correctness check failed (timings never count)."""
    checks = outcome.get("checks", [])
    return outcome.get("status") == "failed" or any(not c["ok"] for c in checks if c["kind"] == "works")


def scenario_lines(outcome: dict[str, Any]) -> str:
    """A few lines after each scenario, as it finishes."""
    lines = [f"   {outcome.get('status', '')} ({outcome.get('seconds', 0):.0f} s)"]
    if outcome.get("error"):
        lines.append(f"   error: {outcome['error']} (logs: {outcome.get('logs')})")
    lines += [
        f"   {r['label']}: {r['gateway']} | baseline {r['baseline']} | {r['ratio']}"
        for r in outcome.get("rows", [])
    ]
    lines += [f"   {mark(c)} {check_text(c)}" for c in outcome.get("checks", [])]
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    """The console table: every ratio with the absolute figures beside it, then every check."""
    out = ["", f"{'path':50} {'ratio':>14}  {'budget':<22} gateway | baseline"]
    for name, outcome in results["paths"].items():
        out += [
            f"{r['label']:50} {r['ratio']:>14}  {r['budget']:<22} {r['gateway']} | {r['baseline']}"
            for r in outcome.get("rows", [])
        ]
        if outcome.get("status", "measured") != "measured":
            out.append(f"{name:50} {'':>14}  {'':<22} {outcome.get('status', '')}")
    out.append("")
    for name, outcome in results["paths"].items():
        out += [f"{mark(c)} {name}: {check_text(c)}" for c in outcome.get("checks", [])]
    return "\n".join(out)


def write_docs(results: dict[str, Any]) -> None:
    """Regenerate ``docs/performance.md`` and its chart, keeping the written analysis."""
    previous = DOC.read_text() if DOC.exists() else ""
    found = ANALYSIS.search(previous)
    CHART.write_text(document.chart(results))
    DOC.write_text(document.render(results, found.group(0) if found else NO_ANALYSIS))


if __name__ == "__main__":
    write_docs(json.loads((ROOT / "bench" / "results.json").read_text()))
    print(f"wrote {DOC.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")
