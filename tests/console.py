"""Driving the console over HTTP in tests: sign in like a browser, then read pages and submit forms."""

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, Request, Response, post
from litestar.testing import AsyncTestClient
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Delivery, DeliveryAttempt, Event, utcnow
from gateway.settings import Settings
from gateway.vault import Vault
from tests import stripe_payloads as sp
from tests.receivers import Received
from tests.servers import serving
from tests.support import Database, Tenant, make_settings

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_in(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found, "no form with a CSRF token on this page"
    return found.group(1)


def text_of(html: str) -> str:
    """A page's visible text, tags dropped and whitespace squeezed (for asserting what people read)."""
    body = re.sub(r"<(script|style|head)\b.*?</\1>", "", html, flags=re.DOTALL)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def by_id(html: str, element_id: str) -> str:
    """The text of the element with this ID (up to its closing tag of the same name)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', html, re.DOTALL)
    assert found, f"no element #{element_id}"
    return text_of(found.group(2))


@dataclass
class Console:
    """A signed-in console session on a test client."""

    client: AsyncTestClient[Litestar] | httpx.AsyncClient
    csrf: str

    async def get(self, path: str, **params: str) -> httpx.Response:
        """A page (redirects followed); asserts it answered 200."""
        response = await self.client.get(path, params=params or None)
        assert response.status_code == 200, (path, response.status_code, text_of(response.text)[:500])
        return response

    async def submit(self, path: str, data: dict[str, Any] | None = None, **options: Any) -> httpx.Response:
        """POST a form as the page would (with this session's CSRF token)."""
        return await self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **options)


async def sign_in(client: AsyncTestClient[Litestar] | httpx.AsyncClient, api_key: str) -> Console:
    """Open the sign-in page and sign in with ``api_key``; the session (not following to the overview)."""
    form = await client.get("/console/sign-in")
    answer = await client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_in(form.text), "api_key": api_key, "next": "/console/subscribers"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, text_of(answer.text)
    page = await client.get("/console/subscribers")
    return Console(client=client, csrf=csrf_in(page.text))


Reply = Callable[[dict[str, Any]], int]


@dataclass
class Hook:
    """A callback receiver on its own thread: console pages that wait for a delivery (and Selenium)
    block the test's event loop, so a receiver there could never answer. ``reply(event)`` is the status.

    Like ``tests.receivers.Receiver`` it answers only under a random first path segment (stray
    callbacks of other suites on this machine to a reused port must not count).
    """

    reply: Reply = lambda _event: 200
    url: str = ""
    prefix: str = field(default_factory=lambda: "/h" + secrets.token_hex(4))
    requests: list[Received] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        """The JSON bodies received, in order."""
        return [json.loads(r.body) for r in self.requests]


@contextmanager
def hook_receiver(reply: Reply | None = None) -> Iterator[Hook]:
    """A ``Hook`` served on 127.0.0.1 (its ``url`` takes callbacks on any path)."""
    hook = Hook(reply) if reply else Hook()

    @post("/{tail:path}", status_code=200)
    async def receive(request: Request[Any, Any, Any]) -> Response[str]:
        if not request.url.path.startswith(hook.prefix):
            return Response("", status_code=404)
        body = await request.body()
        hook.requests.append(Received(request.url.path, dict(request.headers), body, time.monotonic()))
        status = hook.reply(json.loads(body))
        return Response(
            json.dumps({"received": status < 300}), status_code=status, media_type="application/json"
        )

    with serving(Litestar([receive], logging_config=None)) as url:
        hook.url = url + hook.prefix
        yield hook


def delivering_settings(tmp_path: Path, database: Database) -> Settings:
    """Settings of a gateway that delivers in process (the embedded worker), retrying after an hour."""
    return make_settings(tmp_path, database, worker="embedded", retry_schedule=(3600.0,))


async def populate(
    client: AsyncTestClient[Litestar] | httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    tenant: Tenant,
) -> dict[str, str]:
    """Give the workspace one of everything the console shows; each page's name and path.

    A Stripe event made into a flat event and a delivery (with a failed attempt logged), a subscriber
    made through the console with a test sent to it, a synced-or-not preset of each kind.
    """
    await sp.enable_webhooks(db, vault, tenant.workspace_id)
    stripe_event = sp.event("customer.subscription.updated", sp.subscription("sub_1", customer="cus_1"))
    assert (await sp.send(client, tenant.workspace_id, stripe_event)).status_code == 200
    async with db() as session, session.begin():
        event = (await session.exec(select(Event))).one()
        delivery = (await session.exec(select(Delivery))).one()
        delivery.attempts, delivery.last_status_code = 1, 500
        session.add(delivery)
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                attempt=1,
                duration_ms=42,
                status_code=500,
                response_body='{"status": "error", "message": "Workflow error: the app is in maintenance"}',
                next_attempt_at=utcnow(),
            )
        )
    console = Console(client=client, csrf="")
    console.csrf = csrf_in((await client.get("/console/subscribers/new")).text)
    made = await console.submit(
        "/console/subscribers/new",
        {"url": "http://127.0.0.1:9/hook", "description": "Bubble", "event_types": "*", "enabled": "on"},
    )
    subscriber = re.search(r'href="/console/subscribers/(sbr_\w+)"', made.text)
    assert subscriber
    await console.submit(f"/console/subscribers/{subscriber.group(1)}/test")
    return {
        "sign-in": "/console/sign-in",
        "overview": "/console",
        "presets": "/console/presets",
        "preset": "/console/presets/legacy",
        "subscribers": "/console/subscribers",
        "subscriber-new": "/console/subscribers/new",
        "subscriber": f"/console/subscribers/{subscriber.group(1)}",
        "deliveries": "/console/deliveries",
        "delivery": f"/console/deliveries/{delivery.id}",
        "events": "/console/events",
        "event": f"/console/events/{event.id}",
    }


def go(browser: webdriver.Chrome, by: str, what: str) -> None:
    """Click a link or button and wait for the next page (a form may wait for a delivery first)."""
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(by, what).click()
    wait_until_left(browser, page)


def wait_until_left(browser: webdriver.Chrome, page: WebElement) -> None:
    """Wait until ``page`` (an element of the page shown before) is gone: the next page is there."""

    def left(_browser: webdriver.Chrome) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:  # Chromium 156 reports a stale node this way too
            return "does not belong to the document" in str(exc)
        return False

    WebDriverWait(browser, 15).until(left)
