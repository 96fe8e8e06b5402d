"""Journeys run against a sandbox that also records the Stripe calls it receives (``stripe_calls``);
browser journeys get headless Chromium (``browser``)."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.journeys.stripe_calls import StripeCalls, recorded_sandbox
from tests.sandbox import SandboxServer


@pytest.fixture
def stripe_calls() -> StripeCalls:
    """Every Stripe call the sandbox received in this test, in order."""
    return StripeCalls()


@pytest.fixture
def sandbox(stripe_calls: StripeCalls) -> Iterator[SandboxServer]:
    """The ``sandbox`` fixture, recording into ``stripe_calls``."""
    with recorded_sandbox(stripe_calls) as server:
        yield server


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
#: The flags known to work here as root, with no network beyond loopback.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium (CI installs it; elsewhere the journey is skipped without it)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are required in CI (.ci/run installs them)")
        pytest.skip("needs Debian's chromium and chromium-driver")
    profile = tempfile.mkdtemp(prefix="chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
