"""Portal link tokens: signed, bound, expiring; and the pages a browser sees when a link cannot open."""

import time
from dataclasses import replace
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway.portal.links import LinkClaims, LinkExpired, LinkInvalid, LinkSigner
from gateway.settings import Settings
from tests.support import Database, Tenant, assert_error, make_settings

pytestmark = pytest.mark.anyio

CLAIMS = LinkClaims(
    workspace_id="ws_1",
    customer="cus_1",
    preset="legacy",
    flow="subscription_cancel",
    return_url="https://app.example/account",
    locale="fr",
    price="",
    subscription="",
    expires_at=int(time.time()) + 3600,
)


def test_a_signed_link_opens_with_its_claims() -> None:
    """What was signed is what comes back."""
    signer = LinkSigner(["k" * 40])
    assert signer.verify(signer.sign(CLAIMS)) == CLAIMS


def test_a_tampered_link_is_refused() -> None:
    """Changing any character of the token (say, to swap the customer) breaks the signature."""
    signer = LinkSigner(["k" * 40])
    token = signer.sign(CLAIMS)
    other = signer.sign(replace(CLAIMS, customer="cus_2"))
    _signed, _, signature = token.rpartition(".")
    forged = other.rpartition(".")[0] + "." + signature  # cus_2's claims under cus_1's signature
    assert forged != token
    for bad in (forged, token[:-2], token + "x", "nonsense"):
        with pytest.raises(LinkInvalid):
            signer.verify(bad)
    with pytest.raises(LinkInvalid):
        LinkSigner(["another secret key" * 3]).verify(token)


def test_an_expired_link_is_refused() -> None:
    """A link past its own expiry no longer opens, even with a good signature."""
    signer = LinkSigner(["k" * 40])
    token = signer.sign(replace(CLAIMS, expires_at=int(time.time()) - 1))
    with pytest.raises(LinkExpired):
        signer.verify(token)
    with pytest.raises(LinkExpired):
        signer.verify(signer.sign(CLAIMS), now=CLAIMS.expires_at + 1)


def test_links_survive_secret_key_rotation() -> None:
    """After rotating GATEWAY_SECRET_KEY (new key first, old kept), old links still open."""
    old = LinkSigner(["old" * 15])
    rotated = LinkSigner(["new" * 15, "old" * 15])
    assert rotated.verify(old.sign(CLAIMS)) == CLAIMS
    with pytest.raises(LinkInvalid):
        old.verify(rotated.sign(CLAIMS))


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(
        tmp_path, database, stripe_api_base="http://127.0.0.1:9", public_url="https://gw.example"
    )


async def test_link_for_a_customer_id_needs_no_stripe(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """POST /v1/portal-links answers a gateway URL bound to the request, valid for expires_in."""
    body = {"customer": "cus_1", "preset": "legacy", "flow": "subscription_cancel", "expires_in": 600}
    response = await client.post("/v1/portal-links", json=body, headers=tenant.headers("portal"))
    assert response.status_code == 200, response.text
    link = response.json()
    assert link["url"].startswith("https://gw.example/p/")
    assert link["preset"] == "legacy"
    assert link["customer_id"] == "cus_1"
    assert link["flow"] == "subscription_cancel"
    assert abs(link["expires_at_unix"] - (time.time() + 600)) < 5
    token = link["url"].rsplit("/", 1)[1]
    claims = client.app.state.link_signer.verify(token)
    assert (claims.workspace_id, claims.customer, claims.preset) == (tenant.workspace_id, "cus_1", "legacy")


@pytest.mark.parametrize("expires_in", [59, 7 * 24 * 3600 + 1])
async def test_link_lifetime_is_bounded(
    client: AsyncTestClient[Litestar], tenant: Tenant, expires_in: int
) -> None:
    """A link lives 1 minute to 7 days."""
    response = await client.post(
        "/v1/portal-links",
        json={"customer": "cus_1", "expires_in": expires_in},
        headers=tenant.headers("portal"),
    )
    body = assert_error(response, 400, "validation_error")
    assert body["fields"][0]["field"] == "expires_in"
    assert body["url"] == ""


async def test_link_refuses_what_a_session_would(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """A link is checked when made: unknown preset, disallowed return URL."""
    headers = tenant.headers("portal")
    assert_error(
        await client.post("/v1/portal-links", json={"customer": "cus_1", "preset": "gold"}, headers=headers),
        404,
        "preset_not_found",
    )
    assert_error(
        await client.post(
            "/v1/portal-links",
            json={"customer": "cus_1", "return_url": "https://evil.example/"},
            headers=headers,
        ),
        400,
        "return_url_not_allowed",
    )


@pytest.mark.parametrize(
    ("token", "status", "words"),
    [("garbage", 400, "not valid"), ("expired", 410, "expired"), ("gone", 410, "no longer works")],
)
async def test_unopenable_links_show_a_page(
    client: AsyncTestClient[Litestar], tenant: Tenant, token: str, status: int, words: str
) -> None:
    """A forged, expired or orphaned link shows a small HTML page saying what to do, never JSON."""
    signer: LinkSigner = client.app.state.link_signer
    tokens = {
        "garbage": "eyJub3QiOiJzaWduZWQifQ.abc.def",
        "expired": signer.sign(
            replace(CLAIMS, workspace_id=tenant.workspace_id, expires_at=int(time.time()) - 5)
        ),
        "gone": signer.sign(replace(CLAIMS, workspace_id="ws_deleted")),
    }
    response = await client.get(f"/p/{tokens[token]}", follow_redirects=False)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert words in response.text
    assert "Go back to the app" in response.text


async def test_return_page(client: AsyncTestClient[Litestar]) -> None:
    """/p/return is where the portal sends people back to when no return URL was set."""
    response = await client.get("/p/return")
    assert response.status_code == 200
    assert "close this tab" in response.text
