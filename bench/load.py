"""Load from ``wrk`` (Debian package): a closed loop of N connections, on its own core."""

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.procs import LOAD_CORE, PINNED, ROOT, pinned

LUA = ROOT / "bench" / "lua"
_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


@dataclass
class WrkRun:
    """What one wrk run reported."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def require_wrk() -> str:
    """wrk's path, or a clear error saying how to install it."""
    path = shutil.which("wrk")
    if path is None:
        msg = "wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), then run the bench again."
        raise RuntimeError(msg)
    return path


def _latency_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        msg = f"unreadable wrk latency {text!r}"
        raise ValueError(msg)
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse(output: str) -> WrkRun:
    """The figures of wrk's ``--latency`` report."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if done is None:
        msg = f"wrk printed no result:\n{output}"
        raise RuntimeError(msg)
    percentiles = {p: _latency_ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", output, re.MULTILINE)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    return WrkRun(
        requests=int(done.group(1)),
        seconds=_latency_ms(done.group(2) + done.group(3)) / 1000,
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=percentiles.get("50", 0.0),
        p90_ms=percentiles.get("90", 0.0),
        p99_ms=percentiles.get("99", 0.0),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, sockets.groups())) if sockets else 0,
    )


def wrk(
    url: str,
    script: str,
    *,
    seconds: float,
    connections: int,
    env: dict[str, str],
    max_requests: int = 0,
) -> WrkRun:
    """Run wrk against ``url`` with ``lua/<script>`` for ``seconds`` (or until ``max_requests`` answers)."""
    threads = 1 if PINNED else 2
    cmd = [require_wrk(), f"-t{threads}", f"-c{max(connections, threads)}", f"-d{max(1, round(seconds))}s"]
    # A slow answer is a latency to report, not an error: wrk's default timeout (2 s) would count it as one.
    cmd += ["--latency", "--timeout", "10s", "-s", str(Path(LUA, script)), url]
    with tempfile.TemporaryDirectory(prefix="wrk-") as done_dir:
        # BENCH_RUN: scripts that make Stripe events make new event IDs on every run.
        env = {**os.environ, **env, "BENCH_DONE_DIR": done_dir, "BENCH_RUN": secrets.token_hex(4)}
        if max_requests:
            env["BENCH_MAX_REQUESTS"] = str(-(-max_requests // threads))
        proc = subprocess.Popen(
            pinned(cmd, LOAD_CORE), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        deadline = time.monotonic() + seconds + 120
        while max_requests and proc.poll() is None and len(list(Path(done_dir).iterdir())) < threads:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if proc.poll() is None and max_requests:
            proc.send_signal(signal.SIGINT)  # wrk prints its report on SIGINT
        stdout, stderr = proc.communicate(timeout=seconds + 120)
    if proc.returncode != 0:
        msg = f"wrk failed ({proc.returncode}):\n{stdout}\n{stderr}"
        raise RuntimeError(msg)
    return parse(stdout)
