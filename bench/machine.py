"""The machine and software the numbers were measured on (they mean nothing without it)."""

import os
import platform
import re
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "litestar",
    "msgspec",
    "uvicorn",
    "uvloop",
    "httptools",
    "stripe",
    "aiohttp",
    "sqlalchemy",
    "sqlmodel",
    "aiosqlite",
    "asyncpg",
)


def _command(*cmd: str) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return ""
    return (done.stdout or done.stderr).strip()


def _lscpu() -> dict[str, str]:
    fields = {}
    for line in _command("lscpu").splitlines():
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _os_name() -> str:
    try:
        release = Path("/etc/os-release").read_text()
    except OSError:
        return platform.system()
    match = re.search(r'^PRETTY_NAME="?([^"\n]+)', release, re.MULTILINE)
    return match.group(1) if match else platform.system()


def describe() -> dict[str, Any]:
    """CPU, memory, OS, Python, the packages on the hot paths, wrk and PostgreSQL versions."""
    cpu = _lscpu()
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": cpu.get("Model name", platform.processor()),
        "cpus": os.cpu_count(),
        "threads_per_core": cpu.get("Thread(s) per core", ""),
        "hypervisor": cpu.get("Hypervisor vendor", "none"),
        "memory_gib": _memory_gib(),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _command("psql", "--version").removeprefix("psql (PostgreSQL) "),
        "wrk": _command("wrk", "--version").splitlines()[0] if _command("wrk", "--version") else "",
        "packages": versions,
    }
