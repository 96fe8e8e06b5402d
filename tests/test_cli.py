"""The `gateway` command: JSON on stdout for scripts, human text on stderr."""

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli import main
from tests.support import TEST_SECRET_KEY, drop_schema, fresh_schema


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a migrated, empty database of the test's own."""
    url = os.environ.get("GATEWAY_TEST_DATABASE_URL", "")
    env = {
        "GATEWAY_DATABASE_URL": url or f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "GATEWAY_SECRET_KEY": TEST_SECRET_KEY,
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_PUBLIC_URL": "https://gw.example",
        "GATEWAY_DATABASE_SCHEMA": asyncio.run(fresh_schema(url)) if url else "",
    }
    assert run(env, "migrate").exit_code == 0
    yield env
    if url:
        asyncio.run(drop_schema(url, env["GATEWAY_DATABASE_SCHEMA"]))


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


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


def test_duplicate_workspace_name_is_refused(cli_env: dict[str, str]) -> None:
    """Workspace names are unique."""
    run(cli_env, "workspace", "create", "acme", "--stripe-key", "sk_test_abcdefghijk")
    result = run(cli_env, "workspace", "create", "acme", "--stripe-key", "sk_test_abcdefghijk")
    assert result.exit_code == 1
    assert "already exists" in result.stderr


def test_given_secret_key_writes_no_key_file(cli_env: dict[str, str]) -> None:
    """The CLI never writes a secret key when GATEWAY_SECRET_KEY is given."""
    assert not (Path(cli_env["GATEWAY_DATA_DIR"]) / "secret.key").exists()
