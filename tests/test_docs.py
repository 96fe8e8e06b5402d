"""The guides' requests, replayed in order against a fresh ``make run``-like gateway and its sandbox.

A guide marks each request a reader pastes as a fenced ``http`` block (``METHOD URL``, headers, a blank
line, a body) and the answer to expect as the ``json`` block after it (``json status=404`` for an
error). Each request is sent as written, ``$VARIABLES`` filled in, and its answer must have the
documented status and exactly the documented keys, each of the documented type.
"""

import ast
import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import metrics, presets
from gateway.presets import reference
from gateway.sample_events import sample_event
from gateway.settings import Settings
from gateway.vault import Vault
from tests.receivers import Receiver, receiving, until
from tests.servers import FirstRun, first_run_settings, serving_first_run
from tests.support import Database

pytestmark = pytest.mark.anyio

DOCS = Path(__file__).parent.parent / "docs"
_BLOCK = re.compile(r"^```(http|json)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
BUBBLE_TOKEN = "bubble-admin-token-4c1f9e"


@dataclass
class Step:
    """One documented request and the answer the guide shows for it (if any)."""

    method: str
    url: str
    headers: dict[str, str]
    body: str
    status: int = 0
    answer: Any = None


def steps_of(guide: str) -> list[Step]:
    """The guide's ``http`` blocks in order, each with the ``json`` block that follows it."""
    steps: list[Step] = []
    for kind, info, text in _BLOCK.findall((DOCS / guide).read_text(encoding="utf-8")):
        if kind == "http":
            head, _, body = text.partition("\n\n")
            request_line, *header_lines = head.strip().splitlines()
            method, url = request_line.split(" ", 1)
            headers = dict(line.split(": ", 1) for line in header_lines)
            steps.append(Step(method, url, headers, body.strip()))
        elif steps and steps[-1].answer is None:
            status = re.search(r"status=(\d+)", info)
            steps[-1].status = int(status.group(1)) if status else 0
            steps[-1].answer = json.loads(text)
    return steps


def _same_shape(got: Any, documented: Any, where: str = "") -> None:
    """``got`` has the documented keys, each value of the documented type (values themselves vary)."""
    assert type(got) is type(documented), (where, got, documented)
    if isinstance(documented, dict):
        assert set(got) == set(documented), (where, sorted(set(got) ^ set(documented)))
        for key, value in documented.items():
            _same_shape(got[key], value, f"{where}.{key}")


@pytest.fixture
async def first_run(
    tmp_path: Path, database: Database, db: async_sessionmaker[AsyncSession], vault: Vault
) -> AsyncIterator[FirstRun]:
    """A development gateway after its first start, delivering callbacks."""
    settings = first_run_settings(tmp_path, database)
    async with serving_first_run(settings, db, vault) as run:
        yield run


async def replay(guide: str, variables: dict[str, str], urls: dict[str, str]) -> list[httpx.Response]:
    """Send every request of ``guide`` in order; ``$SUBSCRIBER_ID`` is the subscriber made on the way."""
    answers: list[httpx.Response] = []
    async with httpx.AsyncClient(timeout=30) as http:
        for step in steps_of(guide):

            def fill(text: str) -> str:
                for name, value in sorted(variables.items(), key=lambda item: -len(item[0])):
                    text = text.replace(f"${name}", value)
                for documented, actual in urls.items():
                    text = text.replace(documented, actual)
                return text

            response = await http.request(
                step.method,
                fill(step.url),
                headers={k: fill(v) for k, v in step.headers.items()},
                content=fill(step.body) or None,
            )
            where = f"{guide}: {step.method} {step.url}"
            if step.status:
                assert response.status_code == step.status, (where, response.text)
            else:
                assert response.is_success, (where, response.text)
            if step.answer is not None:
                _same_shape(response.json(), step.answer, where)
            if step.method == "POST" and step.url.endswith("/v1/subscribers"):
                variables["SUBSCRIBER_ID"] = response.json()["id"]
            if step.method == "POST" and step.url.endswith("/test"):
                # As a builder would: see the samples arrive before the next step moves the URL on.
                await _until_sent(http, fill("$GATEWAY"), {k: fill(v) for k, v in step.headers.items()})
            answers.append(response)
    return answers


async def _until_sent(http: httpx.AsyncClient, gateway: str, headers: dict[str, str]) -> None:
    """Wait (at most 30 s) until no delivery is pending any more."""
    for _ in range(300):
        pending = await http.get(f"{gateway}/v1/deliveries?status=pending", headers=headers)
        if not pending.json()["data"]:
            return
        await asyncio.sleep(0.1)
    msg = "test samples still pending"
    raise AssertionError(msg)


async def test_bubble_guide(first_run: FirstRun) -> None:
    """Every request of docs/bubble.md works as shown, and the backend workflow learns the event."""
    async with receiving() as bubble:
        variables = {
            "GATEWAY": first_run.url,
            "PORTAL_KEY": first_run.made.portal_key,
            "ADMIN_KEY": first_run.made.api_key,
            "CUSTOMER": next(iter(first_run.made.customers.values())),
            "BUBBLE_TOKEN": BUBBLE_TOKEN,
        }
        answers = await replay("bubble.md", variables, {"https://yourapp.bubbleapps.io": bubble.url})
        await until(lambda: len(_samples(bubble, "/initialize")) == 4)  # one per subscribed type
    assert len(answers) == len(steps_of("bubble.md"))
    portal = answers[1].json()
    assert portal["url"].startswith(f"{first_run.url}/sandbox/portal/")  # a real session, not the dry run
    sample = _samples(bubble, "/initialize")[0]
    assert sample.headers["Authorization"] == f"Bearer {BUBBLE_TOKEN}"
    event = json.loads(sample.body)
    assert set(event) == set(sample_event("subscription.updated").__struct_fields__)
    assert event["is_test"] is True
    patched = next(a.json() for a in answers if a.request.method == "PATCH")
    assert patched["url"].endswith("/version-test/api/1.1/wf/stripe-subscription")


def _samples(receiver: Receiver, suffix: str = "") -> list[Any]:
    """The test samples (``is_test``) the receiver got at a path ending in ``suffix``."""
    return [r for r in receiver.requests if r.path.endswith(suffix) and json.loads(r.body)["is_test"]]


async def test_receivers_guide(first_run: FirstRun) -> None:
    """docs/receivers.md: Zapier, Make and n8n subscribers get their samples with their headers."""
    async with receiving() as tool:
        variables = {
            "GATEWAY": first_run.url,
            "ADMIN_KEY": first_run.made.api_key,
            "MAKE_API_KEY": "make-key-0f3a",
            "N8N_TOKEN": "n8n-token-9b2e",
        }
        hosts = ("https://hooks.zapier.com", "https://hook.eu1.make.com", "https://n8n.example.com")
        await replay("receivers.md", variables, dict.fromkeys(hosts, tool.url))
        await until(lambda: len(_samples(tool)) == 2 + 10 + 3, within=20)  # one per subscribed type
    zapier = _samples(tool, "/hooks/catch/1234567/abcdefg/")
    make = [r for r in _samples(tool) if r.headers.get("x-make-apikey") == "make-key-0f3a"]
    n8n = [r for r in _samples(tool) if "3f9c2b1e-portal-gateway" in r.path]  # test URL, or moved on
    assert (len(zapier), len(make), len(n8n)) == (2, 10, 3)
    assert {r.headers["Authorization"] for r in n8n} == {"Bearer n8n-token-9b2e"}
    assert all(r.headers["webhook-signature"].startswith("v1,") for r in tool.requests)


def test_presets_reference_lists_every_key() -> None:
    """docs/presets.md holds the key table generated from the schema (python -m gateway.presets.reference)."""
    assert reference.render() in (DOCS / "presets.md").read_text(encoding="utf-8")


_RULE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _rules_in_code() -> set[str]:
    """Every rule name the preset checks can report (the last argument of each problem they make)."""
    rules: set[str] = set()
    for module in (Path(presets.__file__).parent).glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            named = isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
            if named in {"report", "problem", "Problem"} and node.args:  # type: ignore[union-attr]
                candidates = [node.args[-1]]  # type: ignore[union-attr]
            elif (
                isinstance(node, ast.Return)
                and isinstance(node.value, ast.Tuple)
                and len(node.value.elts) == 2
            ):
                candidates = [node.value.elts[1]]
            elif isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["rule"]:
                candidates = (
                    [node.value.body, node.value.orelse]
                    if isinstance(node.value, ast.IfExp)
                    else [node.value]
                )
            else:
                continue
            rules |= {
                c.value for c in candidates if isinstance(c, ast.Constant) and _RULE.match(str(c.value))
            }
    return rules


def test_every_preset_rule_is_documented() -> None:
    """Each rule name the code reports has its row in docs/presets.md's rule tables, and no row is stale."""
    text = (DOCS / "presets.md").read_text(encoding="utf-8")
    rules_section = text[text.index("## Rules") : text.index("## Shipped presets")]
    documented = {
        name
        for row in re.findall(r"^\| (`[^|]+)\|", rules_section, re.MULTILINE)
        for name in re.findall(r"`([^`]+)`", row)
    }
    in_code = _rules_in_code() - {"file"}  # an unreadable file: no rule to look up
    assert in_code <= documented, sorted(in_code - documented)
    assert documented - {"rule"} <= in_code, sorted(documented - in_code)


def test_every_setting_and_metric_is_in_the_operations_guide() -> None:
    """docs/operations.md lists each environment variable the settings read and each metric."""
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        if name == "database_schema" or field.validation_alias is None:
            assert f"`GATEWAY_{name.upper()}`" in text, name
        else:
            assert f"`{name.upper()}`" in text, name
    for family in metrics.REGISTRY.collect():
        shown = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"`{shown}`" in text, shown


def test_readme_links_every_guide() -> None:
    """README.md links each document under docs/."""
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    for doc in sorted(DOCS.glob("*.md")):
        assert f"](docs/{doc.name})" in readme, doc.name
