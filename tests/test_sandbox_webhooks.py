"""Events and webhooks from the sandbox: recorded like Stripe's, POSTed signed, retried on failure."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from gateway.sandbox.sender import Attempt
from tests.sandbox import Receiver, SandboxServer, receiving

pytestmark = pytest.mark.anyio


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A live receiver for webhooks."""
    with receiving() as state:
        yield state


def _delivered(kind: str) -> Any:
    return lambda attempts: any(a.ok and a.event_type == kind for a in attempts)


async def test_endpoint_secret_is_shown_once(sandbox: SandboxServer, receiver: Receiver) -> None:
    """Creating an endpoint returns its ``whsec_`` secret; reading it back never does."""
    endpoint = sandbox.client.v1.webhook_endpoints.create(
        params={"url": receiver.url, "enabled_events": ["customer.subscription.updated"]}
    )
    assert str(endpoint.secret).startswith("whsec_")
    again = sandbox.client.v1.webhook_endpoints.retrieve(endpoint.id)
    assert "secret" not in again
    assert [e.id for e in sandbox.client.v1.webhook_endpoints.list().data] == [endpoint.id]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sandbox.client.v1.webhook_endpoints.create(
            params={"url": receiver.url, "enabled_events": ["nope.event"]}
        )
    assert caught.value.param == "enabled_events[0]"


async def test_subscription_events_arrive_signed_like_stripe(
    sandbox: SandboxServer, receiver: Receiver
) -> None:
    """Creating a subscription sends ``customer.subscription.created`` and ``invoice.paid``, verifiable with
    the SDK; an update carries ``previous_attributes``; events can be listed and retrieved."""
    seeded = sandbox.seed()
    secret = sandbox.listen(receiver.url)
    customer = seeded.customers["alan@example.com"]
    sub = sandbox.client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": seeded.prices["pro_monthly"]}]}
    )
    sandbox.client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    await sandbox.wait_for(_delivered("customer.subscription.updated"))
    events = {e.type: e for e in receiver.events(secret)}
    assert {"customer.subscription.created", "invoice.paid", "customer.subscription.updated"} <= set(events)
    created = events["customer.subscription.created"]
    assert created.api_version == stripe.api_version
    assert created.data.object["id"] == sub.id
    assert created.data.object["items"]["data"][0]["current_period_end"] > 0
    assert created.data.object["latest_invoice"] == events["invoice.paid"].data.object["id"]
    assert events["invoice.paid"].data.object["amount_paid"] == 2900
    updated = events["customer.subscription.updated"]
    assert updated.data.object["cancel_at_period_end"] is True
    assert updated.data["previous_attributes"]["cancel_at_period_end"] is False
    listed = sandbox.client.v1.events.list(params={"type": "customer.subscription.*"})
    assert [e.type for e in listed.data][:2] == [
        "customer.subscription.updated",
        "customer.subscription.created",
    ]
    assert sandbox.client.v1.events.retrieve(updated.id).data.object["id"] == sub.id


async def test_failing_endpoint_is_retried(sandbox: SandboxServer, receiver: Receiver) -> None:
    """A failing endpoint gets the same event again until it answers 2xx."""
    secret = sandbox.listen(receiver.url, ["customer.updated"])
    receiver.failures = 2
    customer = sandbox.client.v1.customers.create(params={"email": "a@example.com"})
    sandbox.client.v1.customers.update(customer.id, params={"email": "b@example.com"})
    attempts = await sandbox.wait_for(_delivered("customer.updated"))
    assert [(a.attempt, a.status) for a in attempts] == [(1, 503), (2, 503), (3, 200)]
    (event,) = receiver.events(secret)
    assert event.data["previous_attributes"].to_dict() == {"email": "a@example.com"}
    assert sandbox.client.v1.events.list(params={"delivery_success": True, "type": "customer.updated"}).data


async def test_endpoint_that_never_answers_is_given_up(sandbox: SandboxServer) -> None:
    """After the retries an undelivered event is listed with ``delivery_success=false``."""
    sandbox.listen("http://127.0.0.1:9/nothing-listens", ["customer.updated"])
    customer = sandbox.client.v1.customers.create(params={"email": "a@example.com"})
    sandbox.client.v1.customers.update(customer.id, params={"name": "A"})
    retries = len(sandbox.sandbox.sender.retry_schedule)
    await sandbox.wait_for(lambda attempts: len(attempts) == retries + 1)
    undelivered = sandbox.client.v1.events.list(params={"delivery_success": False})
    assert [e.type for e in undelivered.data] == ["customer.updated"]
    assert all(isinstance(a, Attempt) and a.status == 0 and a.error for a in sandbox.attempts)


async def test_payment_failure_and_portal_configuration_events(
    sandbox: SandboxServer, receiver: Receiver
) -> None:
    """A declined renewal sends ``invoice.payment_failed``; a configuration change sends its update."""
    seeded = sandbox.seed()
    secret = sandbox.listen(receiver.url)
    sandbox.renew(seeded.subscriptions["ada@example.com"], fail=True)
    configuration = sandbox.client.v1.billing_portal.configurations.create(
        params={"features": {"invoice_history": {"enabled": True}}}
    )
    sandbox.client.v1.billing_portal.configurations.update(configuration.id, params={"metadata": {"v": "2"}})
    await sandbox.wait_for(_delivered("billing_portal.configuration.updated"))
    await sandbox.wait_for(_delivered("invoice.payment_failed"))
    events = {e.type: e for e in receiver.events(secret)}
    failed = events["invoice.payment_failed"].data.object
    assert (failed["status"], failed["subscription"]) == ("open", seeded.subscriptions["ada@example.com"])
    past_due = events["customer.subscription.updated"]
    assert past_due.data.object["status"] == "past_due"
    assert (
        events["billing_portal.configuration.updated"].data["previous_attributes"]["metadata"].to_dict() == {}
    )
    body = json.loads(receiver.received[0][0])
    assert body["object"] == "event"


async def test_trial_ending_pause_resume_and_cancel_events(
    sandbox: SandboxServer, receiver: Receiver
) -> None:
    """A short trial sends ``trial_will_end``; pause, resume and cancel send their own events."""
    seeded = sandbox.seed()
    secret = sandbox.listen(receiver.url)
    customer = seeded.customers["alan@example.com"]
    sub = sandbox.client.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [{"price": seeded.prices["starter_monthly"]}],
            "trial_period_days": 2,
        }
    )
    sandbox.client.v1.subscriptions.pause(sub.id)
    sandbox.client.v1.subscriptions.resume(sub.id)
    sandbox.client.v1.subscriptions.cancel(sub.id)
    await sandbox.wait_for(_delivered("customer.subscription.deleted"))
    types = [e.type for e in receiver.events(secret)]
    for kind in ("trial_will_end", "paused", "resumed", "deleted"):
        assert f"customer.subscription.{kind}" in types
    deleted = next(e for e in receiver.events(secret) if e.type == "customer.subscription.deleted")
    assert deleted.data.object["status"] == "canceled"


async def test_checkout_completes_with_a_subscription(sandbox: SandboxServer, receiver: Receiver) -> None:
    """Paying on the checkout page makes a customer and subscription; ``checkout.session.completed``."""
    seeded = sandbox.seed()
    secret = sandbox.listen(receiver.url, ["checkout.session.completed", "customer.subscription.created"])
    session = sandbox.client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": seeded.prices["pro_annual"], "quantity": 2}],
            "success_url": "https://app.example/thanks?session={CHECKOUT_SESSION_ID}",
            "client_reference_id": "usr_42",
        }
    )
    assert (session.status, session.amount_total) == ("open", 58000)
    browser = httpx.AsyncClient()
    page = await browser.get(str(session.url))
    assert "Pro &mdash; $290.00 per year x 2" in page.text
    paid = await browser.post(str(session.url), data={"email": "new@example.com"})
    assert (paid.status_code, paid.headers["location"]) == (
        303,
        f"https://app.example/thanks?session={session.id}",
    )
    await sandbox.wait_for(_delivered("checkout.session.completed"))
    completed = next(e for e in receiver.events(secret) if e.type == "checkout.session.completed").data.object
    assert (completed["status"], completed["payment_status"], completed["client_reference_id"]) == (
        "complete",
        "paid",
        "usr_42",
    )
    subscription = sandbox.client.v1.subscriptions.retrieve(completed["subscription"])
    assert subscription.customer == completed["customer"]
    assert sandbox.client.v1.customers.retrieve(completed["customer"]).email == "new@example.com"
    assert (await browser.get(str(session.url))).status_code == 404
    await browser.aclose()
