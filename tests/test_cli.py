"""The `gateway` command: JSON on stdout for scripts, human text on stderr."""

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gateway.db import make_engine, make_session_factory, migration_heads
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.workspaces import get_workspace
from tests.support import TEST_SECRET_KEY
from tests.support import run_cli as run


def test_workspace_create_prints_the_contract_object(cli_env: dict[str, str]) -> None:
    """workspace create prints workspace_id, name, api_key, webhook_url and livemode."""
    result = run(cli_env, "workspace", "create", "acme", "--stripe-key", "sk_live_abcdefghijk")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert set(created) == {"workspace_id", "name", "api_key", "webhook_url", "livemode"}
    assert created["api_key"].startswith("gw_live_")
    assert created["livemode"] is True
    assert created["webhook_url"] == f"https://gw.example/v1/stripe/webhooks/{created['workspace_id']}"
    assert "shown once" in result.stderr
    listed = json.loads(run(cli_env, "workspace", "list").stdout)
    assert [w["name"] for w in listed] == ["acme"]
    assert "api_key" not in listed[0]


def test_workspace_update_rolls_the_stripe_key_and_sets_return_urls(cli_env: dict[str, str]) -> None:
    """update takes a rolled Stripe key of the same mode and the workspace's allowed return URLs."""
    run(cli_env, "workspace", "create", "acme", "--stripe-key", "sk_test_abcdefghijk")
    result = run(
        cli_env,
        *("workspace", "update", "acme", "--stripe-key", "sk_test_rolledkey123"),
        *("--allowed-return-urls", "https://app.example/account, https://app.example/billing"),
    )
    assert result.exit_code == 0, result.output
    updated = json.loads(result.stdout)
    assert updated["allowed_return_urls"] == ["https://app.example/account", "https://app.example/billing"]
    assert "sk_test_" not in result.output
    assert asyncio.run(_stored_stripe_key(cli_env, "acme")) == "sk_test_rolledkey123"
    emptied = json.loads(run(cli_env, "workspace", "update", "acme", "--allowed-return-urls", "").stdout)
    assert emptied["allowed_return_urls"] == []
    live = run(cli_env, "workspace", "update", "acme", "--stripe-key", "sk_live_abcdefghijk")
    assert (live.exit_code, live.stdout) == (1, "")
    assert "test mode" in live.stderr
    bad_url = run(cli_env, "workspace", "update", "acme", "--allowed-return-urls", "ftp://app.example/")
    assert (bad_url.exit_code, bad_url.stdout) == (1, "")
    assert asyncio.run(_stored_stripe_key(cli_env, "acme")) == "sk_test_rolledkey123"


def test_rekey_leaves_every_secret_readable_by_the_new_key_alone(cli_env: dict[str, str]) -> None:
    """After rotating GATEWAY_SECRET_KEY to ``new,old``, rekey lets ``old`` leave the list."""
    run(cli_env, "workspace", "create", "acme", "--stripe-key", "sk_test_abcdefghijk")
    rotated = {**cli_env, "GATEWAY_SECRET_KEY": f"new-secret-key,{cli_env['GATEWAY_SECRET_KEY']}"}
    result = run(rotated, "rekey")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"workspaces": 1, "subscribers": 0}
    new_only = {**cli_env, "GATEWAY_SECRET_KEY": "new-secret-key"}
    assert asyncio.run(_stored_stripe_key(new_only, "acme")) == "sk_test_abcdefghijk"


async def _stored_stripe_key(env: dict[str, str], name: str) -> str:
    settings = Settings(
        database_url=env["GATEWAY_DATABASE_URL"],
        database_schema=env["GATEWAY_DATABASE_SCHEMA"],
        secret_key=env["GATEWAY_SECRET_KEY"],
    )
    engine = make_engine(settings)
    try:
        async with make_session_factory(engine)() as session:
            workspace = await get_workspace(session, name)
    finally:
        await engine.dispose()
    return Vault(settings.secret_keys()).decrypt(workspace.stripe_key_enc)


def test_keys_create_list_revoke(cli_env: dict[str, str]) -> None:
    """keys create shows the key once; keys list never does; keys revoke takes the listed id."""
    run(cli_env, "workspace", "create", "acme", "--stripe-key", "sk_test_abcdefghijk")
    created = json.loads(run(cli_env, "keys", "create", "--workspace", "acme", "--name", "bubble").stdout)
    assert created["scope"] == "portal"
    assert created["api_key"].startswith("gw_test_")
    listed = json.loads(run(cli_env, "keys", "list", "--workspace", "acme").stdout)
    assert [set(k) for k in listed] == [
        {"id", "name", "scope", "prefix", "created_at", "last_used_at", "revoked"}
    ] * 2
    assert created["api_key"] not in json.dumps(listed)
    revoked = json.loads(run(cli_env, "keys", "revoke", created["id"]).stdout)
    assert revoked["revoked"] is True
    listed = json.loads(run(cli_env, "keys", "list", "--workspace", "acme").stdout)
    assert [k["revoked"] for k in listed] == [False, True]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["workspace", "create", "acme", "--stripe-key", "pk_test_nope"], "sk_test_"),
        (["keys", "list", "--workspace", "nobody"], "No workspace"),
        (["keys", "revoke", "key_missing"], "No API key"),
    ],
)
def test_mistakes_exit_1_with_a_message(cli_env: dict[str, str], args: list[str], message: str) -> None:
    """A mistake exits 1 and says what is wrong on stderr, with nothing on stdout."""
    result = run(cli_env, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("environment", "problems"),
    [
        (
            {"GATEWAY_ENV": "production"},
            ["GATEWAY_SECRET_KEY must be set to at least 32 characters when GATEWAY_ENV=production"],
        ),
        (
            {"PORT": "eighty", "GATEWAY_RETRY_SCHEDULE": "5x", "GATEWAY_SECRET_KEY": "s3cret-but-too-short"},
            [
                "PORT: Input should be a valid integer",
                "GATEWAY_RETRY_SCHEDULE: not a duration: '5x'",
            ],
        ),
    ],
)
@pytest.mark.parametrize(
    "command", [["serve"], ["worker"], ["migrate"], ["keys", "list", "--workspace", "ws_1"]]
)
def test_a_wrong_environment_is_named_not_a_traceback(
    tmp_path: Path, command: list[str], environment: dict[str, str], problems: list[str]
) -> None:
    """Each problem of the environment is a line naming its variable; exit 2; no secret is echoed."""
    result = run({"GATEWAY_DATA_DIR": str(tmp_path), **environment}, *command)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == len(problems)
    for line, problem in zip(lines, problems, strict=True):
        assert line.startswith(f"gateway: configuration error: {problem}")
    assert "Traceback" not in result.output
    assert "s3cret" not in result.output


def test_duplicate_workspace_name_is_refused(cli_env: dict[str, str]) -> None:
    """Workspace names are unique."""
    run(cli_env, "workspace", "create", "acme", "--stripe-key", "sk_test_abcdefghijk")
    result = run(cli_env, "workspace", "create", "acme", "--stripe-key", "sk_test_abcdefghijk")
    assert result.exit_code == 1
    assert "already exists" in result.stderr


def test_given_secret_key_writes_no_key_file(cli_env: dict[str, str]) -> None:
    """The CLI never writes a secret key when GATEWAY_SECRET_KEY is given."""
    assert not (Path(cli_env["GATEWAY_DATA_DIR"]) / "secret.key").exists()


@pytest.mark.parametrize("env", ["production", "development"])
def test_serve_migrates_sqlite_whatever_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    """On SQLite (one machine, no release step) `gateway serve` migrates before it listens; --port counts."""
    listened: list[tuple[str, int, str]] = []

    def listen(app: Any, *, host: str, port: int, **_: Any) -> None:
        listened.append((host, port, app.state.settings.public_url))

    monkeypatch.setattr("gateway.cli.server.uvicorn.run", listen)
    database = tmp_path / "fresh.db"
    environment = {
        "GATEWAY_ENV": env,
        "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "GATEWAY_SECRET_KEY": TEST_SECRET_KEY,
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
    }
    result = run(environment, "serve", "--port", "9123")
    assert result.exit_code == 0, result.output
    assert listened == [("127.0.0.1", 9123, "http://127.0.0.1:9123")]
    with sqlite3.connect(database) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {revision} == migration_heads()
