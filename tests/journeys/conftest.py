"""Journeys run against a sandbox that also records the Stripe calls it receives (``stripe_calls``)."""

from collections.abc import Iterator

import pytest

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
