"""openapi.yaml is generated from the app and committed; it must not drift."""

from pathlib import Path
from typing import Any

import msgspec
import yaml

from gateway.app import create_app
from gateway.openapi import render_openapi
from gateway.sample_events import sample_event
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


def _operations() -> list[tuple[str, dict[str, Any]]]:
    schema = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def _json(content: dict[str, Any]) -> dict[str, Any] | None:
    return content.get("application/json")


def test_every_operation_documents_the_error_shape_and_examples() -> None:
    """Each JSON operation: every error status answers ErrorBody with an example; success and request
    bodies have examples (add them to gateway/examples.py); routes without a key say so."""
    public = {"GET /healthz", "GET /readyz", "GET /metrics", "GET /p/{token}", "GET /p/return"}
    public |= {"GET /v1/sample-events/{event_type}", "POST /v1/stripe/webhooks/{workspace_id}"}
    for where, operation in _operations():
        responses = operation["responses"]
        assert (operation.get("security") == [{}]) is (where in public), where
        errors = {status: r for status, r in responses.items() if int(status) >= 400}
        success = [r for status, r in responses.items() if status.startswith("2")]
        html = any("text/html" in r.get("content", {}) for r in responses.values())
        if html or where == "GET /metrics":
            continue
        assert {"400", "404", "500"} <= set(errors), where
        for status, response in errors.items():
            body = _json(response["content"])
            assert body, (where, status)
            assert body["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, (where, status)
            (example,) = body["examples"].values()
            assert example["value"]["error_code"], (where, status)
            assert example["value"]["status"] == int(status), (where, status)
        assert all(_json(r["content"])["examples"] for r in success), where
        if "requestBody" in operation and where != "POST /v1/stripe/webhooks/{workspace_id}":
            assert _json(operation["requestBody"]["content"])["schema"]["examples"], where


def test_portal_session_errors_document_the_success_keys() -> None:
    """The portal-session error example carries the success keys, empty, as the real errors do."""
    (operation,) = [op for where, op in _operations() if where == "POST /v1/portal-sessions"]
    (example,) = _json(operation["responses"]["404"]["content"])["examples"].values()
    success = _json(operation["responses"]["200"]["content"])["examples"]
    (answer,) = success.values()
    assert set(answer["value"]) <= set(example["value"])
    assert example["value"]["url"] == ""


def test_examples_are_the_flat_shapes() -> None:
    """The sample-event example is the real sample; answers carry ok: true."""
    (operation,) = [op for where, op in _operations() if where == "GET /v1/sample-events/{event_type}"]
    (example,) = _json(operation["responses"]["200"]["content"])["examples"].values()
    assert example["value"] == msgspec.to_builtins(sample_event("subscription.updated"))


def test_sandbox_routes_are_not_in_the_document() -> None:
    """The development sandbox is not part of the API contract."""
    assert not [where for where, _ in _operations() if "/sandbox" in where]


def test_request_bodies_that_refuse_unknown_fields_say_so() -> None:
    """Every JSON request body is a struct that answers 400 to a field it does not declare, and the
    document says ``additionalProperties: false`` for it (a client generator can then catch typos)."""
    schema = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    components = schema["components"]["schemas"]
    strict = set()
    for where, operation in _operations():
        body = (_json(operation.get("requestBody", {}).get("content", {})) or {}).get("schema", {})
        reference = body.get("$ref") or next((part["$ref"] for part in body.get("allOf", [])), "")
        if reference:
            name = reference.rsplit("/", 1)[-1]
            assert components[name].get("additionalProperties") is False, where
            strict.add(name)
    assert {"PortalSessionCreate", "PortalLinkCreate", "SubscriberCreate", "KeyCreate"} <= strict
    assert "additionalProperties" not in components["PortalSessionOut"]
