"""Where a server's time goes: ``py-spy`` sampled during a run, folded into inclusive and self time.

``python -m bench --only portal --profile`` samples each server during its last run. py-spy is a
profiling tool, not a dependency of the gateway: ``.venv/bin/pip install py-spy`` first.
"""

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from bench.procs import BIN, LOAD_CORE, pinned

RATE_HZ = 400
#: Leaf frames of threads waiting, not working (py-spy cannot always tell from outside).
IDLE = (
    "select (selectors.py",
    "_connection_worker_thread (aiosqlite/core.py)",
    "_worker (concurrent/futures/thread.py)",
)


def py_spy() -> str:
    """The py-spy executable, or a clear error."""
    found = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if found is None:
        msg = "--profile needs py-spy: .venv/bin/pip install py-spy"
        raise RuntimeError(msg)
    return found


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Sample ``pid`` (and its threads) for ``seconds`` into collapsed stacks at ``out``."""
    cmd = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(RATE_HZ),
    ]
    cmd += ["--format", "raw", "--threads", "--output", str(out)]  # blocking: whole stacks, slower server
    return subprocess.Popen(pinned(cmd, LOAD_CORE), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _frame_name(frame: str) -> str:
    # "function (module/path.py:123)" -> "function (module/path.py)": lines would split one function.
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def summarize(collapsed: Path, top: int = 30) -> dict[str, Any]:
    """Inclusive and self share of samples per function (threads merged), busiest first."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";")]
        if any(frames[-1].startswith(idle) for idle in IDLE):
            continue  # waiting for I/O: not a cost of the request
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    share = lambda n: round(100 * n / max(total, 1), 1)  # noqa: E731
    return {
        "busy_samples": total,
        "inclusive_pct": {frame: share(n) for frame, n in inclusive.most_common(top)},
        "self_pct": {frame: share(n) for frame, n in own.most_common(top)},
    }
