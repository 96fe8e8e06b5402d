"""Hostile input: every route that reads a body meets oversized, deeply nested and non-JSON bodies and
nasty text in every field; paths meet invalid UTF-8 and traversal; callback headers meet CRLF; preset
files meet broken and explosive YAML. Every answer is the contract's JSON error (or a documented
success), never a 5xx, and what was refused left the database exactly as it was.
"""

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import MAX_BODY_BYTES, create_app
from gateway.settings import Settings
from gateway.vault import Vault
from tests.route_table import Objects, Route, app_routes, populate, request_examples, table_rows
from tests.servers import serving
from tests.support import Database, Tenant, make_settings, run_cli

pytestmark = pytest.mark.anyio

#: Text no field expects: a lone surrogate (escaped, as JSON allows), NUL, right-to-left override,
#: astral emoji, combining marks, a template and SQL-looking text, and far too much of it.
NASTY = [
    "\\ud800",
    "\x00",
    "\u202etxt.exe",
    "😀\U0001d54f",
    "e\u0301\u0301\u0301",
    "{{7*7}}' OR 1=1 --",
    "\r\nX-Injected: 1",
    "x" * 100_000,
]
#: Path segments: invalid UTF-8, traversal (raw and encoded), NUL, a reserved device name.
NASTY_SEGMENTS = [
    "%ED%A0%80",
    "%FF%FE",
    "..",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%5c",
    "%00",
    "CON",
    "x" * 3000,
]


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(tmp_path, database, stripe_api_base="http://127.0.0.1:9", stripe_timeout=0.2)


@pytest.fixture
async def objects(
    client: AsyncTestClient[Litestar], db: async_sessionmaker[AsyncSession], vault: Vault, tenant: Tenant
) -> Objects:
    return await populate(client, db, vault, tenant, "acme")


def assert_refused(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx in the contract's JSON error shape (one of ``statuses`` when given); its body."""
    assert 400 <= response.status_code < 500, response.text[:500]
    assert not statuses or response.status_code in statuses, response.text[:500]
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    body: dict[str, Any] = response.json()
    assert body["ok"] is False
    assert body["status"] == response.status_code
    assert body["error_code"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def _body_routes(app: Litestar) -> list[Route]:
    return [r for r in app_routes(app) if r.takes_body and r.path.startswith("/v1/")]


async def test_hostile_bodies_on_every_route_that_reads_one(
    app: Litestar, client: AsyncTestClient[Litestar], db: async_sessionmaker[AsyncSession], objects: Objects
) -> None:
    """Oversized: 413; nested 100,000 deep, form, multipart, XML: 400; nothing stored or changed."""
    headers = objects.tenant.headers()
    before = await table_rows(db)
    bodies = [
        (b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}', "application/json", 413),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json", 400),
        (b"url=http%3A%2F%2Fx.example%2F&name=x", "application/x-www-form-urlencoded", 400),
        (b'--b\r\nContent-Disposition: form-data; name="u"\r\n\r\nx\r\n--b--\r\n', "multipart/form-data; boundary=b", 400),  # noqa: E501
        (b"<subscriber><url>http://x.example/</url></subscriber>", "application/xml", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
    ]  # fmt: skip
    routes = _body_routes(app)
    assert len(routes) >= 7
    for route in routes:
        for content, content_type, status in bodies:
            response = await client.request(
                route.method,
                route.url(objects.values),
                content=content,
                headers={**headers, "Content-Type": content_type},
            )
            assert_refused(response, status)
    assert await table_rows(db) == before


async def test_nasty_text_in_every_field(
    app: Litestar, client: AsyncTestClient[Litestar], db: async_sessionmaker[AsyncSession], objects: Objects
) -> None:
    """Each string field of each documented request body, in turn, set to each nasty text: a success
    or the JSON error shape, never a 5xx; what is refused stores nothing."""
    headers = {**objects.tenant.headers(), "Content-Type": "application/json", "X-Dry-Run": "1"}
    examples = request_examples()
    tried = 0
    for route in _body_routes(app):
        example = examples.get((route.method, route.path))
        fields = [k for k, v in example.items() if isinstance(v, str)] if isinstance(example, dict) else []
        for field in fields:
            for text in NASTY:
                before = await table_rows(db)
                body = json.dumps({**example, field: "\x01"}).replace(
                    "\\u0001", text.replace("\r\n", "\\r\\n")
                )
                response = await client.request(
                    route.method,
                    route.url(objects.values),
                    content=body.encode("utf-8", "surrogatepass"),
                    headers=headers,
                )
                tried += 1
                if response.status_code >= 300:
                    assert_refused(response)
                    assert await table_rows(db) == before, (route, field, text[:20])
    assert tried >= 100


async def test_nasty_path_segments_and_queries(
    app: Litestar, client: AsyncTestClient[Litestar], db: async_sessionmaker[AsyncSession], objects: Objects
) -> None:
    """Every /v1 route with each path parameter (and each query parameter) set to invalid UTF-8,
    traversal, NUL or a huge segment: JSON errors or empty answers, never a 5xx, nothing changed."""
    headers = objects.tenant.headers()
    before = await table_rows(db)
    for route in app_routes(app):
        if not route.path.startswith("/v1/") or route.path.startswith("/v1/stripe/"):
            continue
        if not route.path_params and not route.query_params:
            continue
        for segment in NASTY_SEGMENTS:
            values = dict.fromkeys(route.path_params, segment)
            query = "&".join(f"{q}={segment}" for q in route.query_params if q != "limit")
            url = route.url(values) + (f"?{query}" if query else "")
            response = await client.request(
                route.method, url, headers=headers, json={} if route.takes_body else None
            )
            if response.status_code >= 300:
                assert_refused(response)
    # A nasty path creates nothing; PUT /v1/presets/{name} alone could, and refuses every one of them.
    assert await table_rows(db) == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer t\r\nX-Injected: 1"},
        {"Authorization": "Bearer t\nX-Injected: 1"},
        {"Authorization": "Bearer t\r"},
        {"Authorization": "Bearer t\x00"},
        {"X-Injected\r\nAuthorization": "x"},
        {"X-A: b": "c"},
        {"": "x"},
        {"Host": "evil.example"},
        {"Content-Length": "0"},
        {"Transfer-Encoding": "chunked"},
    ],
)
async def test_crlf_and_smuggling_in_callback_headers(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    objects: Objects,
    headers: dict[str, str],
) -> None:
    """Static headers that would split a request or override framing are refused on create and on
    change; the subscriber is untouched."""
    tenant = objects.tenant
    before = await table_rows(db)
    made = await client.post(
        "/v1/subscribers", json={"url": "http://x.example/", "headers": headers}, headers=tenant.headers()
    )
    assert assert_refused(made, 400)["fields"][0]["field"] == "headers"
    changed = await client.patch(
        f"/v1/subscribers/{objects.values['subscriber_id']}",
        json={"headers": headers},
        headers=tenant.headers(),
    )
    assert_refused(changed, 400)
    assert await table_rows(db) == before


async def test_huge_headers_over_a_real_socket(settings: Settings, tenant: Tenant) -> None:
    """100 KB header values and 500 headers reach the app and get ordinary JSON answers."""
    with serving(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            huge_key = await http.get(
                "/v1/keys", headers={"Authorization": "Bearer gw_test_" + "x" * 100_000}
            )
            assert_refused(huge_key, 401)
            for extra in (
                {"X-Big": "x" * 100_000},
                {f"X-H{i}": "v" for i in range(500)},
                {"X-Request-Id": "r" * 100_000},
            ):
                answer = await http.get("/v1/keys", headers={**tenant.headers(), **extra})
                assert answer.status_code == 200
                assert answer.headers["x-request-id"].startswith("req_")
            too_long = await http.post(
                "/v1/keys", json={}, headers={**tenant.headers(), "Idempotency-Key": "k" * 100_000}
            )
            assert_refused(too_long, 400)


#: Preset files no one should ship, by the rule they break.
BAD_PRESET_FILES = {
    "laughs.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ),
    "deep.yaml": "features: " + "[" * 1200 + "]" * 1200 + "\n",
    "control.yaml": 'features:\n  invoice_history: {enabled: true}\ndescription: "\x00\x07"\n\x00',
    "python.yaml": "!!python/object/apply:os.system ['touch /tmp/hostile-pwned']\n",
    "listed.yaml": "- features\n- invoice_history\n",
    "broken.yaml": "features: {invoice_history: {enabled: true}\n",
}


async def test_broken_and_explosive_preset_files(
    tmp_path: Path, database: Database, db: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """The gateway starts with bad preset files beside good ones; each bad one answers preset_invalid
    naming its rule (an alias bomb is stopped at 10,000 values, not expanded to 387 million); nothing
    in a file is executed; ``gateway presets validate`` exits 1 listing them."""
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "good.yaml").write_text("features:\n  invoice_history: {enabled: true}\n")
    for name, text in BAD_PRESET_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    settings = make_settings(tmp_path, database, presets_dir=folder, stripe_api_base="http://127.0.0.1:9")
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as client:
        listed = await client.get("/v1/presets", headers=tenant.headers())
        assert listed.status_code == 200, listed.text
        good = await client.get("/v1/presets/good", headers=tenant.headers())
        assert good.status_code == 200, good.text
        rules = {}
        for name in BAD_PRESET_FILES:
            preset = name.removesuffix(".yaml")
            shown = await client.get(f"/v1/presets/{preset}", headers=tenant.headers())
            assert shown.json()["valid"] is False  # a preset's page lists its problems
            rules[name] = " ".join(shown.json()["problems"])
            used = await client.post(
                "/v1/portal-sessions", json={"customer": "cus_1", "preset": preset}, headers=tenant.headers()
            )
            assert_refused(used, 422)
    assert "[yaml-size]" in rules["laughs.yaml"]
    assert "[yaml-size]" in rules["deep.yaml"]
    assert "[yaml-syntax]" in rules["control.yaml"]
    assert "[yaml-syntax]" in rules["broken.yaml"]
    assert not await anyio.Path("/tmp/hostile-pwned").exists()  # noqa: S108
    env = {
        "GATEWAY_PRESETS_DIR": str(folder),
        "GATEWAY_SECRET_KEY": "k" * 40,
        "GATEWAY_DATA_DIR": str(tmp_path),
    }
    validated = run_cli(env, "presets", "validate", str(folder))
    assert validated.exit_code == 1
    for name in BAD_PRESET_FILES:
        assert name in validated.output
