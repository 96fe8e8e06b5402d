"""The bench rig: how long to run, where to keep files, and the processes a scenario starts."""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.deployment import DEFAULT_POSTGRES_URL, Deployment
from bench.procs import BIN, LOAD_CORE, SERVER_CORE, Proc, free_port, uvicorn_cmd, wait_http


@dataclass(frozen=True)
class Plan:
    """Durations and sizes; ``smoke`` makes everything tiny (CI: does the harness still work?)."""

    smoke: bool = False
    #: 3 alternating runs of 5 s each keep ``make bench`` under 10 minutes on a busy machine; the
    #: spread between runs (results.json) is larger from the machine's load than from run length.
    seconds: float = 5.0
    runs: int = 3
    warmup: float = 2.0
    connections: int = 50
    latency_seconds: float = 15.0
    memory_events: int = 100_000
    #: The memory path's push stops after this long even if fewer events went through.
    memory_seconds: float = 150.0
    delivery_backlog: int = 10_000
    scale_seconds: float = 2.0
    #: Paired runs (configuration, reference) per scale path; the median of their cost ratios counts.
    scale_runs: int = 3
    #: Sample the gateway with py-spy during its last run of each path (``--profile``).
    profile: bool = False

    @classmethod
    def from_env(cls, *, smoke: bool) -> "Plan":
        """The full plan (``BENCH_SECONDS``/``BENCH_RUNS`` override it) or the smoke plan."""
        if smoke:
            return cls(
                smoke=True,
                seconds=1,
                runs=1,
                warmup=1,
                connections=8,
                latency_seconds=2,
                memory_events=1_000,
                memory_seconds=30,
                delivery_backlog=500,
                scale_seconds=1,
                scale_runs=1,
            )
        return cls(
            seconds=float(os.environ.get("BENCH_SECONDS", "5")), runs=int(os.environ.get("BENCH_RUNS", "3"))
        )


#: The ``gateway`` command of this checkout (the console script would run whichever checkout the
#: virtualenv was installed from).
GATEWAY = [
    str(BIN / "python"),
    "-c",
    "import sys; from gateway.cli import main; sys.argv[0] = 'gateway'; main()",
]


class Rig:
    """Starts processes for a scenario and stops every one of them afterwards (by PID)."""

    def __init__(self, plan: Plan, work: Path) -> None:
        self.plan = plan
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self._procs: list[Proc] = []
        self.postgres_url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)

    def start(
        self, name: str, cmd: list[str], env: dict[str, str] | None = None, *, core: int | None
    ) -> Proc:
        """A process, logged to ``logs/<name>.log``."""
        proc = Proc(name, cmd, env=env or {}, log_dir=self.logs, core=core)
        self._procs.append(proc)
        return proc

    def serve(
        self,
        name: str,
        app: str,
        env: dict[str, str] | None = None,
        *,
        core: int,
        factory: bool = False,
        ready_path: str = "/__stats",
    ) -> tuple[Proc, str]:
        """An ASGI app under uvicorn on a free port, once it answers; the process and its base URL."""
        port = free_port()
        proc = self.start(name, uvicorn_cmd(app, port, factory=factory), env, core=core)
        base = f"http://127.0.0.1:{port}"
        wait_http(proc, base + ready_path)
        return proc, base

    def stripe_double(self) -> tuple[Proc, str]:
        """The fast Stripe stand-in, on the load generator's core."""
        return self.serve("stripe-double", "bench.apps.stripe_double:app", core=LOAD_CORE)

    def receiver(self) -> tuple[Proc, str]:
        """The callback receiver, on the load generator's core."""
        return self.serve("receiver", "bench.apps.receiver:app", core=LOAD_CORE)

    def gateway(self, name: str, deployment: Deployment) -> tuple[Proc, str]:
        """The gateway app under uvicorn (same flags as the baselines), on the server core."""
        # BENCH_GATEWAY_FACTORY: another app factory, to try a change out before making it (A/B runs).
        factory = os.environ.get("BENCH_GATEWAY_FACTORY", "gateway.app:create_app")
        return self.serve(
            name, factory, deployment.env, core=SERVER_CORE, factory=True, ready_path="/healthz"
        )

    def gateway_serve(self, name: str, deployment: Deployment) -> tuple[Proc, str]:
        """``gateway serve`` itself (the command users run), on the server core."""
        port = free_port()
        env = {**deployment.env, "PORT": str(port)}
        proc = self.start(name, [*GATEWAY, "serve"], env, core=SERVER_CORE)
        base = f"http://127.0.0.1:{port}"
        wait_http(proc, base + "/healthz")
        return proc, base

    def worker(self, name: str, deployment: Deployment, *args: str, core: int | None = SERVER_CORE) -> Proc:
        """A ``gateway worker`` process."""
        return self.start(name, [*GATEWAY, "worker", *args], deployment.env, core=core)

    def stop(self, proc: Proc) -> None:
        """Stop one process now."""
        proc.stop()
        self._procs.remove(proc)

    def stop_all(self) -> None:
        """Stop everything still running, newest first."""
        while self._procs:
            self.stop(self._procs[-1])

    @property
    def profile_dir(self) -> Path | None:
        """Where profiles go when ``--profile`` asked for them."""
        return self.work if self.plan.profile else None

    def file(self, name: str) -> Path:
        """A path in the work folder."""
        return self.work / name

    def clean(self) -> None:
        """Remove the work folder (kept when a scenario failed, for its logs)."""
        shutil.rmtree(self.work, ignore_errors=True)


def failure(exc: BaseException, rig: Rig) -> dict[str, Any]:
    """A scenario's result when it could not run: why, and where the logs are."""
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000], "logs": str(rig.logs)}
