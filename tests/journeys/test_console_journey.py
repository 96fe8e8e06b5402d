"""Journey: a builder signs in to the console in a real browser, adds a callback, tests it, watches it
fail, and retries it once their receiver is back.

Headless Chromium (``browser``); the gateway serves on a real port and delivers in process; the
receiver runs on its own thread (Selenium blocks the test's event loop).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select
from standardwebhooks import Webhook

from gateway.app import create_app
from tests.console import delivering_settings, go, hook_receiver
from tests.servers import serving
from tests.support import Database, Tenant

pytestmark = pytest.mark.anyio


@pytest.fixture
def gateway(tmp_path: Path, database: Database, sandbox_tenant: Tenant) -> Iterator[str]:
    """The gateway on 127.0.0.1, delivering in process; its base URL."""
    with serving(create_app(delivering_settings(tmp_path, database))) as url:
        yield url


def _rows(browser: webdriver.Chrome) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, "tbody tr[id^=dlv_]")


def _cells(row: WebElement) -> list[str]:
    return [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]


def _sign_in(browser: webdriver.Chrome, gateway: str, admin_key: str) -> None:
    browser.get(f"{gateway}/console")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in to the console"
    browser.find_element(By.ID, "api_key").send_keys(admin_key)
    go(browser, By.CSS_SELECTOR, "main button[type=submit]")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Overview"
    assert browser.find_element(By.ID, "stripe-health").text.startswith("Connected")


def _create_subscriber(browser: webdriver.Chrome, url: str) -> str:
    """Fill the new subscriber form (one event type, a Bubble-style header); the secret shown once."""
    go(browser, By.LINK_TEXT, "Subscribers")
    go(browser, By.LINK_TEXT, "New subscriber")
    browser.find_element(By.ID, "s-url").send_keys(url)
    browser.find_element(By.ID, "s-description").send_keys("My Bubble app")
    browser.find_element(By.ID, "s-type-all").click()  # all events is the default: only one instead
    browser.find_element(By.CSS_SELECTOR, "input[value='subscription.updated']").click()
    browser.find_element(By.ID, "s-headers").send_keys("Authorization: Bearer bubble-token")
    go(browser, By.XPATH, "//button[text()='Create subscriber']")
    secret = browser.find_element(By.ID, "secret").get_attribute("value") or ""
    assert secret.startswith("whsec_")
    go(browser, By.LINK_TEXT, "Continue to the subscriber")
    assert secret not in browser.page_source
    return secret


def _find_pending(browser: webdriver.Chrome, delivery_id: str) -> None:
    """The log filtered to pending deliveries: the failing one, with its next retry; then its page."""
    go(browser, By.LINK_TEXT, "Deliveries")
    Select(browser.find_element(By.ID, "f-status")).select_by_value("pending")
    go(browser, By.XPATH, "//button[text()='Filter']")
    (pending,) = _rows(browser)
    assert pending.get_attribute("id") == delivery_id
    assert _cells(pending)[3] == "retrying\n1 attempt"
    assert _cells(pending)[5] != "\u2013"  # the next retry is scheduled (an hour later here)
    go(browser, By.LINK_TEXT, delivery_id)
    assert browser.find_element(By.ID, "delivery-status").text == "retrying"
    assert "503" in browser.find_element(By.CSS_SELECTOR, "main table").text


async def test_add_a_callback_test_it_see_it_fail_and_retry_it(
    browser: webdriver.Chrome, gateway: str, sandbox_tenant: Tenant
) -> None:
    """Sign in, create a subscriber for a local receiver, send a test (delivered), make the receiver fail
    (the failure shows in the log), retry once it is back (succeeded): all seen on the pages."""
    status = {"code": 200}
    with hook_receiver(lambda _event: status["code"]) as receiver:
        _sign_in(browser, gateway, sandbox_tenant.admin_key)
        secret = _create_subscriber(browser, f"{receiver.url}/bubble")

        go(browser, By.XPATH, "//button[text()='Send test event']")
        assert browser.find_element(By.CSS_SELECTOR, "[role=status]").text.startswith("Test events sent")
        (delivered,) = _rows(browser)
        assert _cells(delivered)[1:4] == [
            "subscription.updated",
            "succeeded\n1 attempt",
            '200 {"received": true}',
        ]

        status["code"] = 503  # the builder's app goes down
        go(browser, By.XPATH, "//button[text()='Send test event']")
        failing, _ = _rows(browser)
        assert _cells(failing)[2:4] == ["retrying\n1 attempt", '503 {"received": false}']
        _find_pending(browser, failing.get_attribute("id") or "")

        status["code"] = 200  # back up
        go(browser, By.XPATH, "//button[text()='Retry now']")
        assert browser.find_element(By.CSS_SELECTOR, "[role=status]").text == "Retried now."
        assert browser.find_element(By.ID, "delivery-status").text == "succeeded"
        attempts = browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")
        assert [_cells(a)[3] for a in attempts] == ["503", "200"]

    first, second, retried = receiver.requests
    for request in receiver.requests:
        assert Webhook(secret).verify(request.body, request.headers)["is_test"] is True
        assert request.headers["authorization"] == "Bearer bubble-token"
    assert second.headers["webhook-id"] == retried.headers["webhook-id"] != first.headers["webhook-id"]
