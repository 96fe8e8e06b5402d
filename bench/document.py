"""``docs/performance.md`` and ``docs/performance-ratios.svg``, rendered from the results."""

from html import escape
from typing import Any

from bench.measure import check_text, mark

METHOD = """\
- **One machine, one process tree.** `make bench` starts every server as a subprocess: uvicorn, one
  worker, `--loop uvloop --http httptools --no-access-log` (the gateway through
  `uvicorn --factory gateway.app:create_app`; `gateway serve` itself for memory and latency).
  Servers are pinned to core 0 (`taskset`); wrk, the Stripe stand-in and the callback receiver to
  core 1, as in `perf-ceiling.md`.
- **As deployed:** the gateway runs with `GATEWAY_ENV=production` (no sandbox in the measured
  process; the Stripe stand-in is a process of its own, the same one the baselines call).
- **Load average:** the 1-minute load average is recorded beside every run (`load` in the
  tables, `load_average` in `results.json`): this 2-core machine is shared, and absolute figures
  move with it; ratios of runs alternating in the same minutes move much less.
- **Load:** `wrk` (closed loop, 50 connections; 1 connection for the added latency). Stripe events are
  made and signed per request inside wrk (LuaJIT FFI to OpenSSL's HMAC), each a new event for a new
  subscription, so nothing is de-duplicated away.
- **Alternation:** gateway and baseline run in turn (A, B, A, B, ...) after a warm-up of each, and the
  table gives the median of each figure over the runs; CPU is the server's user + system time over
  the run divided by its length (1.00 = one core), RSS the peak of samples every 250 ms.
- **Baselines** do the same work with nothing around it: `bench/apps/portal_baseline.py` (bare
  Litestar, hashed key, the same SDK `create_async` on `AIOHTTPClient`), `ingest_baseline.py`
  (SDK signature check + raw insert with `sqlite3` on a writer thread, one transaction per event),
  `sender_baseline.py` (bare aiohttp sender, same concurrency, Standard Webhooks signing).
- **Checks** are of two kinds: *works* (requests succeed, one Stripe call per portal URL, rows stored,
  callbacks received; `make bench-smoke` asserts these in CI) and *budgets* (timings: reported here,
  never asserted in tests).
"""


def _chart_entries(results: dict[str, Any]) -> list[tuple[str, float, float]]:
    return [
        (e["label"], e["value"], e["budget"]) for o in results["paths"].values() for e in o.get("chart", [])
    ]


def chart(results: dict[str, Any]) -> str:
    """Horizontal bars of gateway / baseline, with each budget marked; green when it holds."""
    entries = _chart_entries(results)
    width, left, bar_h, gap = 640, 210, 22, 14
    scale_max = max([2.0, *(max(v, b) * 1.1 for _, v, b in entries)])
    height = 50 + len(entries) * (bar_h + gap)
    px = lambda value: left + (width - left - 20) * value / scale_max  # noqa: E731
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif"'
    )
    parts = [svg + ' font-size="12">']
    parts.append(f'<text x="{left}" y="16" font-weight="bold">gateway / baseline (budget marked)</text>')
    for tick in range(int(scale_max * 4) + 1):
        x = px(tick / 4)
        parts.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{height - 8}" stroke="#ddd"/>')
        if tick % 2 == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height}" text-anchor="middle" fill="#666">{tick / 4:.1f}</text>'
            )
    for i, (label, value, budget) in enumerate(entries):
        y = 30 + i * (bar_h + gap)
        color = "#2e7d32" if value >= budget else "#c62828"
        marker = f'x1="{px(budget):.1f}" y1="{y - 3}" x2="{px(budget):.1f}" y2="{y + bar_h + 3}"'
        parts += [
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{left}" y="{y}" width="{px(value) - left:.1f}" height="{bar_h}" fill="{color}"/>',
            f'<text x="{px(value) + 4:.1f}" y="{y + 15}">{value:.2f}</text>',
            f'<line {marker} stroke="#000" stroke-width="2" stroke-dasharray="4 2"/>',
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _text_chart(results: dict[str, Any]) -> str:
    lines = []
    for label, value, budget in _chart_entries(results):
        bar = "█" * round(value * 20)
        mark = "ok" if value >= budget else "below budget"
        lines.append(f"{label:28} {bar:<40} {value:.2f}  (budget {budget}, {mark})")
    return "\n".join(lines) or "(no ratio measured yet)"


def _machine(results: dict[str, Any]) -> str:
    machine = results["machine"]
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    cpu_note = f"{machine['threads_per_core']} thread/core, hypervisor: {machine['hypervisor']}"
    return "\n".join(
        [
            "| item | value |",
            "|---|---|",
            f"| CPU | {machine['cpus']} x {machine['cpu']} ({cpu_note}) |",
            f"| memory | {machine['memory_gib']} GiB |",
            f"| OS / kernel | {machine['os']}, Linux {machine['kernel']} |",
            f"| Python | CPython {machine['python']} |",
            f"| packages | {packages} |",
            f"| databases | SQLite {machine['sqlite']}; PostgreSQL {machine['postgresql']} (local) |",
            f"| load generator | {machine['wrk']} |",
        ]
    )


def render(results: dict[str, Any], analysis: str) -> str:
    """The whole document."""
    plan = results["plan"]
    last_run = (
        f"Last run: {results['started_at']}, {results['seconds']:.0f} s in all; {plan['runs']} runs of "
        f"{plan['seconds']:.0f} s per target after a {plan['warmup']:.0f} s warm-up, "
        f"{plan['connections']} connections."
    )
    table = ["| path | gateway | baseline | ratio | budget |", "|---|---|---|---:|---|"]
    for name, outcome in results["paths"].items():
        table += [
            f"| {r['label']} | {r['gateway']} | {r['baseline']} | {r['ratio']} | {r['budget']} |"
            for r in outcome.get("rows", [])
        ]
        if outcome.get("status", "measured") != "measured":
            table.append(f"| {name} | {outcome.get('status', '')} | | | |")
    checks = [
        f"| {name} | {check_text(c)} | {mark(c).strip()} |"
        for name, outcome in results["paths"].items()
        for c in outcome.get("checks", [])
    ]
    return "\n".join(
        [
            "# Performance",
            "",
            "Generated by `make bench` (`python -m bench`) from `bench/results.json`; do not edit by hand",
            "except between the analysis markers. Budgets come from the benchmarks issue; the physical",
            "ceilings of a comparable machine are in `perf-ceiling.md` (shared reference).",
            "",
            last_run,
            "",
            "## Machine",
            "",
            _machine(results),
            "",
            "## Ratios",
            "",
            "![gateway / baseline](performance-ratios.svg)",
            "",
            "```",
            _text_chart(results),
            "```",
            "",
            "## Results",
            "",
            *table,
            "",
            "## Checks",
            "",
            "`ok`: holds; `over`: a timing budget missed (see the analysis); `FAIL`: something did not work.",
            "",
            "| path | check | |",
            "|---|---|---|",
            *checks,
            "",
            "## Method",
            "",
            METHOD,
            "## Analysis",
            "",
            analysis,
            "",
        ]
    )
