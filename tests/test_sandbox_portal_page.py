"""The sandbox portal page: plain HTML that shows what the configuration allows and acts on it."""

from typing import Any

import httpx

from gateway.sandbox import portal_sessions
from gateway.sandbox.seed import Seeded
from tests.sandbox import SandboxServer


def _configuration(sandbox: SandboxServer, seeded: Seeded, **features: Any) -> str:
    prices = [seeded.prices["legacy_monthly"], seeded.prices["legacy_annual"]]
    params: dict[str, Any] = {
        "default_return_url": "https://app.example/account",
        "features": {
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True},
            "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
            "subscription_update": {
                "enabled": True,
                "default_allowed_updates": ["price", "quantity"],
                "products": [{"product": seeded.products["legacy"], "prices": prices}],
            },
            **features,
        },
    }
    return sandbox.client.v1.billing_portal.configurations.create(params=params).id


def _session(sandbox: SandboxServer, seeded: Seeded, configuration: str, **extra: Any) -> str:
    customer = seeded.customers["grace@example.com"]
    params = {"customer": customer, "configuration": configuration, **extra}
    return sandbox.client.v1.billing_portal.sessions.create(params=params).url


def test_page_shows_customer_plan_choices_and_invoices(sandbox: SandboxServer) -> None:
    """The page names the customer, the plan, the configured switch, the invoices and the return link."""
    seeded = sandbox.seed()
    page = httpx.get(_session(sandbox, seeded, _configuration(sandbox, seeded)))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "Grace Hopper" in text
    assert "Legacy &mdash; $19.00 per month" in text
    assert "Switch to Legacy ($190.00 per year)" in text
    assert "Cancel plan" in text
    assert "Invoice history" in text
    assert 'href="https://app.example/account"' in text
    assert "<script" not in text


def test_cancel_and_switch_change_the_subscription(sandbox: SandboxServer) -> None:
    """Cancel sets cancel at period end, renew undoes it, switch changes the price: all through forms."""
    seeded = sandbox.seed()
    url = _session(sandbox, seeded, _configuration(sandbox, seeded))
    sub_id = seeded.subscriptions["grace@example.com"]
    with httpx.Client(follow_redirects=True) as browser:
        canceled = browser.post(f"{url}/cancel", data={"subscription": sub_id})
        assert "Your plan will be canceled on" in canceled.text
        assert sandbox.client.v1.subscriptions.retrieve(sub_id).cancel_at_period_end is True
        browser.post(f"{url}/renew", data={"subscription": sub_id})
        assert sandbox.client.v1.subscriptions.retrieve(sub_id).cancel_at_period_end is False
        switched = browser.post(
            f"{url}/switch", data={"subscription": sub_id, "price": seeded.prices["legacy_annual"]}
        )
        assert "Your plan has been updated." in switched.text
        refused = browser.post(
            f"{url}/switch", data={"subscription": sub_id, "price": seeded.prices["pro_monthly"]}
        )
        assert "That plan is not offered here." in refused.text
        other = browser.post(f"{url}/cancel", data={"subscription": seeded.subscriptions["ada@example.com"]})
        assert "That subscription is not yours." in other.text
    subscription = sandbox.client.v1.subscriptions.retrieve(sub_id)
    assert subscription["items"].data[0].price.lookup_key == "legacy_annual"
    assert (
        sandbox.client.v1.subscriptions.retrieve(seeded.subscriptions["ada@example.com"]).status == "active"
    )


def test_deep_link_shows_one_step_and_redirects_after(sandbox: SandboxServer) -> None:
    """A ``subscription_cancel`` deep link shows only cancelling, then goes to its redirect URL."""
    seeded = sandbox.seed()
    sub_id = seeded.subscriptions["grace@example.com"]
    flow = {
        "type": "subscription_cancel",
        "subscription_cancel": {"subscription": sub_id},
        "after_completion": {"type": "redirect", "redirect": {"return_url": "https://app.example/bye"}},
    }
    url = _session(sandbox, seeded, _configuration(sandbox, seeded), flow_data=flow)
    page = httpx.get(url)
    assert "Cancel your plan" in page.text
    assert "Switch to" not in page.text
    assert "Invoice history" not in page.text
    done = httpx.post(f"{url}/cancel", data={"subscription": sub_id})
    assert (done.status_code, done.headers["location"]) == (303, "https://app.example/bye")
    assert "Invoice history" in httpx.get(url).text  # after the flow, the whole portal


def test_confirm_deep_link_and_immediate_cancel(sandbox: SandboxServer) -> None:
    """An update-confirm link applies the named price; an ``immediately`` configuration cancels now."""
    seeded = sandbox.seed()
    sub = sandbox.client.v1.subscriptions.retrieve(seeded.subscriptions["grace@example.com"])
    item = sub["items"].data[0]
    flow = {
        "type": "subscription_update_confirm",
        "subscription_update_confirm": {
            "subscription": sub.id,
            "items": [{"id": item.id, "price": seeded.prices["legacy_annual"]}],
        },
        "after_completion": {
            "type": "hosted_confirmation",
            "hosted_confirmation": {"custom_message": "All set!"},
        },
    }
    configuration = _configuration(
        sandbox, seeded, subscription_cancel={"enabled": True, "mode": "immediately"}
    )
    url = _session(sandbox, seeded, configuration, flow_data=flow)
    assert "Confirm your new plan" in httpx.get(url).text
    confirmed = httpx.post(f"{url}/confirm", follow_redirects=True)
    assert "All set!" in confirmed.text
    assert (
        sandbox.client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id
        == seeded.prices["legacy_annual"]
    )
    httpx.post(f"{url}/cancel", data={"subscription": sub.id})
    assert sandbox.client.v1.subscriptions.retrieve(sub.id).status == "canceled"


def test_unknown_and_expired_sessions(sandbox: SandboxServer) -> None:
    """An unknown token is 404; a session unused for 5 minutes is 410 with the return link."""
    seeded = sandbox.seed()
    assert httpx.get(f"{sandbox.url}/sandbox/portal/test_nope").status_code == 404
    url = _session(sandbox, seeded, _configuration(sandbox, seeded))
    session_id = next(
        s["id"] for s in sandbox.sandbox.store.objects.values() if s["object"] == "billing_portal.session"
    )

    def age(sandbox_: Any) -> None:
        sandbox_.store.objects[session_id]["created"] -= 301

    sandbox.run(age)
    expired = httpx.get(url)
    assert expired.status_code == 410
    assert "expired" in expired.text
    assert 'href="https://app.example/account"' in expired.text


def test_only_the_newest_sessions_are_kept(sandbox: SandboxServer, monkeypatch: Any) -> None:
    """Under load memory stays bounded: past the cap, the oldest session's page is gone."""
    monkeypatch.setattr(portal_sessions, "MAX_KEPT_SESSIONS", 2)
    seeded = sandbox.seed()
    configuration = _configuration(sandbox, seeded)
    urls = [_session(sandbox, seeded, configuration) for _ in range(3)]
    assert [httpx.get(url).status_code for url in urls] == [404, 200, 200]
