"""openapi.yaml is generated from the app and committed; it must not drift."""

from pathlib import Path

from gateway.app import create_app
from gateway.openapi import render_openapi
from gateway.settings import Settings

ROOT = Path(__file__).parent.parent


def test_openapi_yaml_is_current() -> None:
    """The committed openapi.yaml is byte for byte what the app generates (run `make openapi`)."""
    generated = render_openapi(create_app(Settings(secret_key="unused")))
    committed = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert committed == generated, "run `make openapi` and commit it"


def test_every_operation_is_named_and_tagged() -> None:
    """Every operation has an operation_id, tags and a summary."""
    schema = create_app(Settings(secret_key="unused")).openapi_schema.to_schema()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation.get("operationId"), where
            assert operation.get("tags"), where
            assert operation.get("summary"), where
