"""Processes under test: started as subprocesses (pinned to a core when asked), measured, stopped by PID."""

import contextlib
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Servers on core 0; load generators, Stripe stand-in and receiver on core 1 (perf-ceiling.md, "pinned").
SERVER_CORE = 0
LOAD_CORE = 1
PINNED = (os.cpu_count() or 1) >= 2


def pinned(cmd: Sequence[str], core: int | None) -> list[str]:
    """``cmd`` run on one core (``taskset``), or as is on a one-core machine or with ``core=None``."""
    if core is None or not PINNED:
        return list(cmd)
    return ["taskset", "-c", str(core), *cmd]


def uvicorn_cmd(app: str, port: int, *, factory: bool = False) -> list[str]:
    """One uvicorn worker, uvloop + httptools, no access log: the setup of perf-ceiling.md."""
    cmd = [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    return [*cmd, "--factory"] if factory else cmd


def free_port() -> int:
    """A TCP port nobody listens on right now, below the kernel's ephemeral range.

    Ports the kernel hands out (``bind(0)``, what test suites running beside the bench use) are
    never taken from there, so another program cannot grab it between this check and the server's bind.
    """
    while True:
        port = random.randint(20_000, 32_000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    tree, i = [pid], 0
    while i < len(tree):
        tree += children.get(tree[i], [])
        i += 1
    return tree


def rss_mb(pids: Sequence[int]) -> float:
    """Resident memory of ``pids`` together, in MB."""
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time used so far by ``pids`` (all their threads)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time all processes of the machine used so far (to see what else ran during a run)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children (wrk, the sender, the probe)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Proc:
    """A process the bench started; its output goes to a log file; stopped by its own PID."""

    def __init__(
        self, name: str, cmd: Sequence[str], *, env: dict[str, str], log_dir: Path, core: int | None
    ) -> None:
        self.name = name
        self.cmd = pinned(cmd, core)
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.cmd, cwd=ROOT, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pids(self) -> list[int]:
        """The process and its children."""
        return process_tree(self.popen.pid)

    def alive(self) -> bool:
        """Whether it is still running."""
        return self.popen.poll() is None

    def log_lines(self) -> int:
        """Lines written to its log so far."""
        self._log.flush()
        with self.log_path.open("rb") as log:
            return sum(1 for _ in log)

    def log_tail(self, lines: int = 30) -> str:
        """The end of its log, for error messages."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait(self, timeout: float) -> int:
        """Wait for it to exit on its own; its exit code."""
        return self.popen.wait(timeout=timeout)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after 15 s; children left behind are killed by PID."""
        pids = self.pids
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        for pid in pids[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One plain HTTP request (setup and checks only, never load): status and body, errors included."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_http(proc: Proc, url: str, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers (any status); fail with the process's log if it died or never did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            msg = f"{proc.name} exited:\n{proc.log_tail()}"
            raise RuntimeError(msg)
        try:
            http("GET", url)
        except OSError:
            time.sleep(0.1)
            continue
        return
    msg = f"{proc.name} did not answer {url} within {timeout:.0f} s:\n{proc.log_tail()}"
    raise RuntimeError(msg)


class Watched:
    """Processes the bench did not start but whose CPU it reports (the PostgreSQL server): read only."""

    def __init__(self, name: str, command: str) -> None:
        self.name = name
        self._command = command

    @property
    def pids(self) -> list[int]:
        """Every process whose command name is ``command``."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if (entry / "comm").read_text().strip() == self._command:
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found


class Sampler(threading.Thread):
    """Samples the peak RSS of some processes every 250 ms while a run lasts."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        super().__init__(daemon=True)
        self._pids = pids
        self.peak_mb = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        """Sample until stopped."""
        while not self._halt.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb(self._pids()))
            self._halt.wait(0.25)

    def finish(self) -> float:
        """Stop sampling; the peak seen."""
        self._halt.set()
        self.join()
        return round(self.peak_mb, 1)
