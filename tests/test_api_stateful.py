"""Schemathesis' stateful testing against the live app: chains of calls linked through the IDs that
answers return (create a subscriber, read it, change it, rotate its secret, test it, delete it, read
it again; put a preset, sync it, delete it...), found by Schemathesis' own analysis of openapi.yaml.

Every answer must fit the document (status, content type, schema), none may be a 5xx, every error
must be the contract's JSON shape, and none may show the caller's API key.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import yaml
from litestar import Litestar

from tests.sandbox import SandboxServer
from tests.servers import serving
from tests.support import Tenant
from tests.test_api_fuzz import CHECKS

ROOT = Path(__file__).parent.parent
#: Scenarios and steps per scenario: bounded for CI (about 15 s here).
SCENARIOS = 15
STEPS = 6


@pytest.fixture
def live(app: Litestar, sandbox_tenant: Tenant) -> Iterator[str]:
    """The app on a real port, its workspace's Stripe being the sandbox."""
    with serving(app) as url:
        yield url


def _error_shape(response: Any, key: str) -> None:
    assert key not in response.text, "an answer showed the caller's API key"
    if response.status_code < 300 or response.request.path_url.startswith("/p/"):
        return
    body = response.json()
    assert body["ok"] is False, body
    assert {"error_code", "error_message", "status", "request_id"} <= set(body), body
    assert body["status"] == response.status_code, body


@pytest.mark.anyio
async def test_chains_of_calls(live: str, sandbox: SandboxServer, sandbox_tenant: Tenant) -> None:
    """Scenarios of linked calls never get a 5xx, an undocumented answer or a malformed error."""
    del sandbox  # the workspace's Stripe: portal and preset calls reach it
    schema = schemathesis.openapi.from_dict(yaml.safe_load((ROOT / "openapi.yaml").read_text()))
    # Revoking keys would soon revoke the scenario's own (the stateless fuzz covers that operation).
    schema = schema.exclude(method="DELETE", path="/v1/keys/{key_id}")
    http = requests.Session()
    headers = sandbox_tenant.headers("admin")
    machine: Any = schema.as_state_machine()
    steps: list[str] = []

    class Chains(machine):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, _case: Any) -> dict[str, Any]:
            return {"base_url": live, "session": http, "headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            steps.append(f"{case.method} {case.path} {response.status_code}")
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
            _error_shape(response, sandbox_tenant.admin_key)

    # Blocking: the app serves from its own thread.
    Chains.run(
        settings=hypothesis.settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
    # The chains reached real objects: calls on an ID taken from an earlier answer succeeded.
    linked = {s.rsplit(" ", 1)[0] for s in steps if "{" in s and s.endswith((" 200", " 201"))}
    assert len(linked) >= 2, f"no chain reached a real object: {sorted(set(steps))}"
