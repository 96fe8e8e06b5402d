"""Console subscribers: create (the secret once), edit, disable and enable, rotate, and a test sent inline."""

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook

from gateway.app import create_app
from gateway.models import Delivery, Subscriber
from gateway.vault import Vault
from tests.console import Console, Hook, by_id, delivering_settings, hook_receiver, sign_in, text_of
from tests.receivers import add_subscriber, queue_events
from tests.support import Database, Tenant

pytestmark = pytest.mark.anyio

FORM = {
    "url": "http://127.0.0.1:9/bubble",
    "description": "Bubble (development)",
    "event_types": ["subscription.updated", "subscription.canceled"],
    "format": "flat",
    "headers": "Authorization: Bearer bubble-admin-token\nX-App: console",
    "max_in_flight": "3",
    "enabled": "on",
}


@pytest.fixture
async def console(client: AsyncTestClient[Litestar], tenant: Tenant) -> Console:
    return await sign_in(client, tenant.admin_key)


async def _stored(db: async_sessionmaker[AsyncSession]) -> list[Subscriber]:
    async with db() as session:
        return list((await session.exec(select(Subscriber))).all())


def _secret(html: str) -> str:
    found = re.search(r'id="secret"[^>]*value="(whsec_[^"]+)"', html)
    assert found, "no secret shown"
    return found.group(1)


async def test_create_shows_the_secret_once_and_stores_headers_encrypted(
    console: Console, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """The form makes the subscriber the API would; its secret is on the answer page and nowhere after."""
    answer = await console.submit("/console/subscribers/new", FORM)
    assert answer.status_code == 200
    secret = _secret(answer.text)
    assert "shown on this page only" in text_of(answer.text)
    (stored,) = await _stored(db)
    assert (stored.url, stored.description, stored.event_types) == (
        FORM["url"],
        FORM["description"],
        ["subscription.updated", "subscription.canceled"],
    )
    assert (stored.format, stored.max_in_flight, stored.enabled) == ("flat", 3, True)
    assert json.loads(vault.decrypt(stored.headers_enc)) == {
        "Authorization": "Bearer bubble-admin-token",
        "X-App": "console",
    }
    assert vault.decrypt(stored.secret_enc) == secret
    page = await console.get(f"/console/subscribers/{stored.id}")
    assert secret not in page.text
    assert "bubble-admin-token" not in page.text
    assert "Authorization, X-App (values hidden)" in text_of(page.text)
    listed = await console.get("/console/subscribers")
    assert "Bubble (development)" in text_of(listed.text)


async def test_a_bad_form_comes_back_with_the_reason_and_stores_nothing(
    console: Console, db: async_sessionmaker[AsyncSession]
) -> None:
    """The API's own checks apply: 400, the reason on the page, the field marked, what was typed kept."""
    for change, field, message in (
        ({"max_in_flight": "0"}, "s-max", "max in flight: Expected `int` >= 1"),
        ({"headers": "no colon here"}, "s-headers", "Line 1 of the headers is not 'Name: value'"),
        ({"headers": "Content-Type: text/plain"}, "s-headers", "The gateway sets 'Content-Type' itself"),
        ({"url": "ftp://example.com/x"}, "s-url", "http"),
        ({"event_types": ["subscription.cancelled"]}, "", "Did you mean 'subscription.canceled'?"),
    ):
        answer = await console.submit("/console/subscribers/new", {**FORM, **change})
        assert answer.status_code == 400, change
        assert message in text_of(answer.text)
        if field:
            assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', answer.text)
        assert FORM["description"] in answer.text
    assert await _stored(db) == []


async def test_edit_keeps_or_replaces_headers_and_saves_changes(
    console: Console, db: async_sessionmaker[AsyncSession], vault: Vault, tenant: Tenant
) -> None:
    """Blank headers keep the stored ones; new lines replace them; the box removes them all."""
    subscriber_id, _ = await add_subscriber(db, vault, tenant.workspace_id, FORM["url"], headers={"A": "1"})
    edit = {**FORM, "headers": "", "description": "renamed", "event_types": ["*"]}
    answer = await console.submit(f"/console/subscribers/{subscriber_id}", edit)
    assert answer.url.params["notice"] == "saved"
    (stored,) = await _stored(db)
    assert (stored.description, stored.event_types) == ("renamed", ["*"])
    assert json.loads(vault.decrypt(stored.headers_enc)) == {"A": "1"}
    await console.submit(f"/console/subscribers/{subscriber_id}", {**edit, "headers": "B: 2"})
    (stored,) = await _stored(db)
    assert json.loads(vault.decrypt(stored.headers_enc)) == {"B": "2"}
    await console.submit(f"/console/subscribers/{subscriber_id}", {**edit, "remove_headers": "on"})
    (stored,) = await _stored(db)
    assert stored.headers_enc == ""
    refused = await console.submit(f"/console/subscribers/{subscriber_id}", {**edit, "url": "not a url"})
    assert refused.status_code == 400
    assert 'value="not a url"' in refused.text
    (stored,) = await _stored(db)
    assert stored.url == FORM["url"]


async def test_disable_fails_pending_deliveries_and_enable_clears_the_reason(
    console: Console, db: async_sessionmaker[AsyncSession], vault: Vault, tenant: Tenant
) -> None:
    """Disabling is the API's manual disable (pending deliveries fail); enabling brings it back."""
    subscriber_id, _ = await add_subscriber(db, vault, tenant.workspace_id, FORM["url"])
    await queue_events(db, tenant.workspace_id, count=2)
    answer = await console.submit(f"/console/subscribers/{subscriber_id}/enabled", {"enabled": "false"})
    assert "pending deliveries were marked failed" in text_of(answer.text)
    assert "disabled (manual)" in by_id(answer.text, "subscriber-state")
    async with db() as session:
        rows = (await session.exec(select(Delivery))).all()
    assert {(d.status, d.last_error) for d in rows} == {("failed", "subscriber disabled (manual)")}
    tested = await console.submit(f"/console/subscribers/{subscriber_id}/test")
    assert tested.status_code == 400
    assert "enable it first" in text_of(tested.text)
    answer = await console.submit(f"/console/subscribers/{subscriber_id}/enabled", {"enabled": "true"})
    assert by_id(answer.text, "subscriber-state") == "enabled"


async def test_rotate_shows_the_new_secret_once(
    console: Console, db: async_sessionmaker[AsyncSession], vault: Vault, tenant: Tenant
) -> None:
    """A new secret on the answer page; the old one keeps signing for 24 hours, as the page says."""
    subscriber_id, old = await add_subscriber(db, vault, tenant.workspace_id, FORM["url"])
    answer = await console.submit(f"/console/subscribers/{subscriber_id}/rotate-secret")
    new = _secret(answer.text)
    assert new != old
    (stored,) = await _stored(db)
    assert (vault.decrypt(stored.secret_enc), vault.decrypt(stored.previous_secret_enc)) == (new, old)
    page = await console.get(f"/console/subscribers/{subscriber_id}")
    assert "the previous one also signs until" in text_of(page.text)
    assert new not in page.text


@pytest.fixture
async def delivering(
    tmp_path: Path, database: Database, db: async_sessionmaker[AsyncSession]
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A console whose gateway delivers in process."""
    async with AsyncTestClient(create_app(delivering_settings(tmp_path, database))) as client:
        yield client


async def test_send_test_shows_each_result_inline(
    delivering: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """The test's signed samples reach the receiver and the page that follows shows how each went."""

    with hook_receiver(
        lambda event: 200 if event["event_type"] == "subscription.updated" else 500
    ) as receiver:
        console = await sign_in(delivering, tenant.admin_key)
        created = await console.submit("/console/subscribers/new", {**FORM, "url": receiver.url + "/hook"})
        secret = _secret(created.text)
        (stored,) = await _stored(db)
        answer = await console.submit(f"/console/subscribers/{stored.id}/test")
    assert answer.url.params["notice"] == "tested"
    rows = {row["event"]: row for row in _delivery_rows(answer.text)}
    assert rows["subscription.updated"]["status"] == "succeeded 1 attempt"
    assert '200 {"received": true}' in rows["subscription.updated"]["answer"]
    assert rows["subscription.canceled"]["status"] == "retrying 1 attempt"
    assert '500 {"received": false}' in rows["subscription.canceled"]["answer"]
    assert _check_signed(receiver, secret) == {"subscription.updated", "subscription.canceled"}


def _check_signed(receiver: Hook, secret: str) -> set[str]:
    kinds = set()
    for request in receiver.requests:
        event = Webhook(secret).verify(request.body, request.headers)
        assert event["is_test"] is True
        assert request.headers["authorization"] == "Bearer bubble-admin-token"
        kinds.add(event["event_type"])
    return kinds


def _delivery_rows(html: str) -> list[dict[str, str]]:
    """The delivery table's rows: event type, status and attempts, last answer, as a person reads them."""
    rows = []
    for row in re.findall(r'<tr id="dlv_\w+">(.*?)</tr>', html, re.DOTALL):
        cells = [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        rows.append({"event": cells[1], "status": cells[2], "answer": cells[3]})
    return rows
