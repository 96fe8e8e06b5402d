"""fly.toml, its SQLite variant and the Dockerfile agree with the `gateway` CLI and with each other."""

import fnmatch
import re
import shlex
import tomllib
from pathlib import Path

import click
import pytest

from gateway.cli import main

ROOT = Path(__file__).parent.parent
FLY_FILES = [ROOT / "fly.toml", ROOT / "docs" / "deploy" / "fly.sqlite.toml"]


def _commands(config: dict) -> list[str]:
    commands = list(config.get("processes", {}).values())
    release = config.get("deploy", {}).get("release_command")
    return [*commands, *([release] if release else [])]


def _resolve(words: list[str]) -> click.Command:
    """The click command a `gateway ...` command line runs (raises if it does not exist)."""
    assert words[0] == "gateway", words
    command: click.Command = main
    args = words[1:]
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(click.Context(command), args[0])
        assert sub is not None, f"`gateway` has no command {' '.join(words)!r}"
        command, args = sub, args[1:]
    command.make_context("gateway", args)  # the options parse
    return command


@pytest.mark.parametrize("path", FLY_FILES, ids=lambda p: p.name)
def test_every_fly_command_exists_in_the_cli(path: Path) -> None:
    """Each process and the release command name a real `gateway` command with valid options."""
    config = tomllib.loads(path.read_text())
    commands = _commands(config)
    assert commands
    for line in commands:
        _resolve(shlex.split(line))


@pytest.mark.parametrize("path", FLY_FILES, ids=lambda p: p.name)
def test_fly_port_and_health_check(path: Path) -> None:
    """The HTTP service's port is the PORT the gateway listens on, checked on /healthz over HTTPS only."""
    config = tomllib.loads(path.read_text())
    service = config["http_service"]
    assert service["internal_port"] == int(config["env"]["PORT"]) == _dockerfile_port()
    assert config["env"]["HOST"] == "0.0.0.0"  # noqa: S104  (inside the VM, behind Fly's proxy)
    assert service["force_https"] is True
    assert [check["path"] for check in service["checks"]] == ["/healthz"]
    assert config["env"]["GATEWAY_ENV"] == "production"
    assert config["env"]["GATEWAY_PUBLIC_URL"].startswith("https://")


@pytest.mark.parametrize("path", FLY_FILES, ids=lambda p: p.name)
def test_fly_scrapes_metrics_on_the_private_port(path: Path) -> None:
    """Fly's Prometheus scrapes /metrics on GATEWAY_METRICS_PORT, which the public service does not expose."""
    config = tomllib.loads(path.read_text())
    port = int(config["env"]["GATEWAY_METRICS_PORT"])
    assert config["metrics"] == {"port": port, "path": "/metrics"}
    assert port != config["http_service"]["internal_port"]


def test_postgres_variant_runs_web_and_worker_and_migrates_on_release() -> None:
    """fly.toml: web serves without delivering, worker delivers, release migrates."""
    config = tomllib.loads((ROOT / "fly.toml").read_text())
    assert config["processes"] == {"web": "gateway serve", "worker": "gateway worker"}
    assert config["deploy"]["release_command"] == "gateway migrate"
    assert config["env"]["GATEWAY_WORKER"] == "off"
    assert config["http_service"]["processes"] == ["web"]


def test_sqlite_variant_keeps_its_database_on_the_volume() -> None:
    """The SQLite variant: one web process, database under the volume mount, no release command."""
    config = tomllib.loads((ROOT / "docs" / "deploy" / "fly.sqlite.toml").read_text())
    assert config["env"]["GATEWAY_DATABASE_URL"].startswith(
        f"sqlite+aiosqlite:///{config['mounts']['destination']}/"
    )
    assert "release_command" not in config.get("deploy", {})
    assert config["env"]["GATEWAY_WORKER"] == "embedded"


def _dockerfile_stages() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]


def _dockerfile_port() -> int:
    final = _dockerfile_stages()[-1]
    exposed = re.search(r"^EXPOSE (\d+)", final, re.MULTILINE)
    env_port = re.search(r"PORT=(\d+)", final)
    assert exposed
    assert env_port
    assert exposed.group(1) == env_port.group(1)
    return int(exposed.group(1))


def test_image_is_multi_stage_small_and_non_root() -> None:
    """The runtime stage copies a built venv, installs no compilers, and runs as a non-root user."""
    stages = _dockerfile_stages()
    assert len(stages) >= 2
    final = stages[-1]
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert not re.search(r"\b(gcc|build-essential|libc6-dev)\b", final)
    assert re.search(r"^COPY presets /app/presets$", final, re.MULTILINE)
    assert "GATEWAY_PRESETS_DIR=/app/presets" in final
    user = re.search(r"^USER (\S+)", final, re.MULTILINE)
    assert user
    assert user.group(1) not in {"root", "0"}
    assert re.search(r'^CMD \["gateway", "serve"\]', final, re.MULTILINE)


def test_the_installed_package_carries_every_file_the_app_reads() -> None:
    """The image installs the package (not the source tree): every file under gateway/ must go with it.

    Python modules go with their package (folders without ``__init__.py`` too: setuptools finds
    namespace packages unless told not to); anything else (templates, static files, the migration
    template) only when ``tool.setuptools.package-data`` names it. A file it missed would be absent
    from the image alone, found missing at run time, and present in every checkout.
    """
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    namespaces = setuptools["packages"]["find"].get("namespaces", True)
    patterns = setuptools["package-data"]["gateway"]
    source = ROOT / "gateway"
    unpackaged = [
        relative
        for path in source.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not (path.suffix == ".py" and (namespaces or (path.parent / "__init__.py").exists()))
        and not any(fnmatch.fnmatchcase(relative := path.relative_to(source).as_posix(), p) for p in patterns)
    ]
    assert unpackaged == []
