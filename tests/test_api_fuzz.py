"""Schemathesis against the live app: no 5xx, and every answer fits openapi.yaml (status, type, schema)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import yaml
from litestar import Litestar
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.sandbox import SandboxServer
from tests.servers import serving
from tests.support import Tenant

ROOT = Path(__file__).parent.parent
#: Examples per operation: enough to reach every branch of the validation, bounded for CI.
EXAMPLES = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def live(app: Litestar, sandbox_tenant: Tenant) -> Iterator[str]:
    """The app on a real port, its workspace's Stripe being the sandbox."""
    with serving(app) as url:
        yield url


def _operations() -> list[Any]:
    schema = schemathesis.openapi.from_dict(yaml.safe_load((ROOT / "openapi.yaml").read_text()))
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.anyio
@pytest.mark.parametrize("operation", _operations(), ids=lambda op: op.label)
async def test_operation_answers_as_documented(
    live: str, sandbox: SandboxServer, sandbox_tenant: Tenant, operation: Any
) -> None:
    """Generated requests (valid and not) never get a 5xx nor an answer the document does not describe."""
    del sandbox  # the workspace's Stripe: portal and preset calls reach it
    http = requests.Session()

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(case=operation.as_strategy())
    def answers_as_documented(case: Any) -> None:
        case.call_and_validate(
            base_url=live, session=http, headers=sandbox_tenant.headers("admin"), checks=CHECKS
        )

    answers_as_documented()  # blocking: the app serves from its own thread
