"""Console sessions: an admin key for a signed cookie, CSRF on every form, revocation, outside the API."""

from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.console.session import COOKIE
from gateway.models import Subscriber
from gateway.vault import derive_key
from tests.console import csrf_in, sign_in, text_of
from tests.support import TEST_SECRET_KEY, Database, Tenant, make_settings

pytestmark = pytest.mark.anyio


def _set_cookie(response: object) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])  # type: ignore[attr-defined]
    return cookie


async def test_signed_out_visitors_are_sent_to_sign_in(client: AsyncTestClient[Litestar]) -> None:
    """Every console page answers 303 to the sign-in page, which brings them back after."""
    answer = await client.get("/console/deliveries?status=failed", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=/console/deliveries%3Fstatus%3Dfailed"
    page = await client.get(answer.headers["location"])
    assert 'name="next" value="/console/deliveries?status=failed"' in page.text


async def test_sign_in_gives_a_signed_http_only_strict_cookie_with_the_key_id(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """The cookie holds the key's ID (signed under the derived key), never the key; HttpOnly, Strict."""
    form = await client.get("/console/sign-in")
    answer = await client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_in(form.text), "api_key": tenant.admin_key, "next": "/console/events"},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/events")
    morsel = _set_cookie(answer)[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/console"
    assert not morsel["secure"]  # GATEWAY_PUBLIC_URL is http here
    assert tenant.admin_key not in answer.headers["set-cookie"]
    serializer = URLSafeTimedSerializer(
        derive_key(TEST_SECRET_KEY, "console-session"), salt="console-session-v1"
    )
    keys = (await client.get("/v1/keys", headers=tenant.headers())).json()["data"]
    admin_key_id = next(k["id"] for k in keys if k["scope"] == "admin")
    assert serializer.loads(morsel.value)["k"] == admin_key_id
    assert (await client.get("/console/events")).status_code == 200


async def test_the_cookie_is_secure_behind_https(tmp_path: Path, database: Database, tenant: Tenant) -> None:
    """With an https GATEWAY_PUBLIC_URL the cookie is only ever sent over https."""
    settings = make_settings(tmp_path, database, public_url="https://gateway.example")
    async with AsyncTestClient(create_app(settings), base_url="https://gateway.example") as client:
        answer = await client.get("/console/sign-in")
        assert _set_cookie(answer)[COOKIE]["secure"] is True


async def test_sessions_survive_a_secret_key_rotation_while_the_old_key_is_listed(
    tmp_path: Path, database: Database, tenant: Tenant
) -> None:
    """Signed under the old GATEWAY_SECRET_KEY: still a session with "new,old", not with "new" alone."""
    async with AsyncTestClient(create_app(make_settings(tmp_path, database))) as client:
        await sign_in(client, tenant.admin_key)
        cookie = client.cookies[COOKIE]
    new = "rotated-secret-key-" + "y" * 32
    for secret_key, status in ((f"{new},{TEST_SECRET_KEY}", 200), (new, 303)):
        app = create_app(make_settings(tmp_path, database, secret_key=secret_key))
        async with AsyncTestClient(app) as client:
            client.cookies.set(COOKIE, cookie, path="/console")
            assert (await client.get("/console/events", follow_redirects=False)).status_code == status


async def test_other_keys_are_refused_with_a_reason(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """A portal key, an unknown key or none: the form again (401) saying why, and no session."""
    for key, message in (
        (tenant.portal_key, "the console needs a key with the admin scope"),
        ("gw_test_nope", "Unknown or revoked API key"),
        ("", "Enter an admin API key"),
    ):
        form = await client.get("/console/sign-in")
        answer = await client.post(
            "/console/sign-in", data={"csrf_token": csrf_in(form.text), "api_key": key}
        )
        assert answer.status_code == 401
        assert message in text_of(answer.text)
        assert (await client.get("/console", follow_redirects=False)).status_code == 303


async def test_revoking_the_key_ends_its_console_sessions(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """Once the key is revoked the next page sends its holder to sign in again (and drops the cookie)."""
    console = await sign_in(client, tenant.admin_key)
    keys = (await client.get("/v1/keys", headers=tenant.headers())).json()["data"]
    admin_key_id = next(k["id"] for k in keys if k["scope"] == "admin")
    other = (await client.post("/v1/keys", json={"scope": "admin"}, headers=tenant.headers())).json()
    assert (await client.delete(f"/v1/keys/{admin_key_id}", headers=tenant.headers())).status_code == 200
    answer = await console.client.get("/console/subscribers", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/sign-in")
    assert _set_cookie(answer)[COOKIE]["max-age"] == "0"
    again = await sign_in(client, other["api_key"])
    assert (await again.get("/console/subscribers")).status_code == 200


async def test_a_cookie_signed_with_another_secret_is_no_session(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """A forged cookie naming a real key ID does not sign anyone in."""
    keys = (await client.get("/v1/keys", headers=tenant.headers())).json()["data"]
    forged = URLSafeTimedSerializer(
        derive_key("another-secret", "console-session"), salt="console-session-v1"
    )
    client.cookies.set(COOKIE, forged.dumps({"k": keys[0]["id"], "c": "x"}), path="/console")
    assert (await client.get("/console", follow_redirects=False)).status_code == 303


def _console_posts(app: Litestar) -> list[str]:
    return sorted(
        route.path.replace("{subscriber_id:str}", "sbr_x")
        .replace("{delivery_id:str}", "dlv_x")
        .replace("{name:str}", "default")
        for route in app.routes
        if isinstance(route, HTTPRoute) and route.path.startswith("/console") and "POST" in route.methods
    )


async def test_every_form_post_needs_the_session_csrf_token(
    app: Litestar,
    client: AsyncTestClient[Litestar],
    tenant: Tenant,
    other_tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
) -> None:
    """Every console POST without the token, or with another session's, is a 403 page that changes nothing."""
    posts = _console_posts(app)
    assert {"/console/sign-in", "/console/sign-out", "/console/subscribers/new"} <= set(posts)
    assert len(posts) >= 10
    theirs = (await sign_in(client, other_tenant.admin_key)).csrf
    client.cookies.clear()
    console = await sign_in(client, tenant.admin_key)
    for path in posts:
        form = {"url": "http://127.0.0.1:9/x", "event_types": "*", "api_key": tenant.admin_key}
        for token in ("", theirs):
            answer = await client.post(path, data={**form, "csrf_token": token}, follow_redirects=False)
            assert answer.status_code == 403, path
            assert "This form has expired" in text_of(answer.text)
    async with db() as session:
        assert (await session.exec(select(func.count()).select_from(Subscriber))).one() == 0
    assert (await console.get("/console/subscribers")).status_code == 200  # still signed in


async def test_sign_out_ends_the_session(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """Signing out clears the cookie: the console asks for a key again."""
    console = await sign_in(client, tenant.admin_key)
    answer = await console.submit("/console/sign-out", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/sign-in")
    assert (await client.get("/console", follow_redirects=False)).status_code == 303


async def test_after_sign_in_only_console_pages(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """``next`` never leads off the console (no open redirect)."""
    for target in ("https://evil.example/", "//evil.example/console", "/v1/keys", "/console/../v1/keys"):
        form = await client.get("/console/sign-in")
        answer = await client.post(
            "/console/sign-in",
            data={"csrf_token": csrf_in(form.text), "api_key": tenant.admin_key, "next": target},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/console", target
        client.cookies.clear()


async def test_the_console_is_not_part_of_the_api(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """No API key needed or accepted, absent from the OpenAPI schema, pages never cached or framed."""
    assert not [
        path for path in (await client.get("/schema/openapi.json")).json()["paths"] if "console" in path
    ]
    assert (await client.get("/console", headers=tenant.headers(), follow_redirects=False)).status_code == 303
    page = await client.get("/console/sign-in")
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all
    css = await client.get("/console/static/console.css")
    assert css.status_code == 200
    assert "--accent" in css.text
