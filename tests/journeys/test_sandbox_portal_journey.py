"""Journey: a customer opens a gateway-made portal URL in a real browser and cancels; Stripe-signed
events about it reach a webhook endpoint.

Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium (``browser``, in
``tests/journeys/conftest.py``).
"""

from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from litestar import Litestar
from litestar.testing import AsyncTestClient
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from gateway.settings import Settings
from tests.console import wait_until_left
from tests.sandbox import Receiver, SandboxServer, receiving
from tests.support import Tenant

pytestmark = pytest.mark.anyio


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as state:
        yield state


async def test_cancel_in_the_portal_reaches_the_webhook_endpoint(  # noqa: PLR0917  (fixtures)
    client: AsyncTestClient[Litestar],
    sandbox_tenant: Tenant,
    sandbox: SandboxServer,
    receiver: Receiver,
    browser: webdriver.Chrome,
    settings: Settings,
) -> None:
    """Gateway URL, portal page, cancel with a reason: a signed ``updated`` event, then ``deleted``."""
    seeded = sandbox.seed()
    secret = sandbox.listen(receiver.url, ["customer.subscription.updated", "customer.subscription.deleted"])
    customer = seeded.customers["grace@example.com"]
    sub_id = seeded.subscriptions["grace@example.com"]
    body: dict[str, Any] = {"customer": customer, "preset": "default"}
    answer = await client.post("/v1/portal-sessions", json=body, headers=sandbox_tenant.headers("portal"))
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    assert url.startswith(f"{sandbox.url}/sandbox/portal/")

    browser.get(url)
    assert "Grace Hopper" in browser.find_element(By.TAG_NAME, "h1").text
    # No return_url asked: the gateway's own "you can close this tab" page.
    assert browser.find_element(By.ID, "return").get_attribute("href") == f"{settings.public_url}/p/return"
    plan = browser.find_element(By.ID, sub_id)
    Select(plan.find_element(By.NAME, "reason")).select_by_value("too_expensive")
    page = browser.find_element(By.TAG_NAME, "html")
    plan.find_element(By.NAME, "cancel").click()
    # The click posts a form: the answer is a new page, not always loaded when click() returns.
    wait_until_left(browser, page)
    notice = browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert notice.startswith("Your plan will be canceled on")
    assert "Renew plan" in browser.find_element(By.ID, sub_id).text

    await sandbox.wait_for(
        lambda log: any(a.ok and a.event_type == "customer.subscription.updated" for a in log)
    )
    (updated,) = receiver.events(secret)
    assert updated.type == "customer.subscription.updated"
    assert updated.data.object["id"] == sub_id
    assert updated.data.object["cancel_at_period_end"] is True
    assert updated.data.object["cancellation_details"]["feedback"] == "too_expensive"
    assert updated.data["previous_attributes"]["cancel_at_period_end"] is False

    sandbox.renew(sub_id)  # the period ends
    await sandbox.wait_for(
        lambda log: any(a.ok and a.event_type == "customer.subscription.deleted" for a in log)
    )
    deleted = receiver.events(secret)[-1]
    assert (deleted.type, deleted.data.object["status"]) == ("customer.subscription.deleted", "canceled")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(receiver.received[-1][0], receiver.received[-1][1], "whsec_wrong")
