"""The SSRF guard: non-public callback addresses refused on create/update and again at connect time."""

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.egress import CallbackGuard, address_allowed, callback_host, legacy_ipv4
from gateway.errors import ValidationFailed
from gateway.settings import Settings
from gateway.vault import Vault
from tests.receivers import add_subscriber, all_settled, queue_events, receiving, running, wait_for_deliveries
from tests.support import Database, Tenant, assert_error, make_settings

pytestmark = pytest.mark.anyio

BLOCKED = {
    "loopback": ["127.0.0.1", "127.9.9.9", "::1"],
    "private": ["10.0.0.1", "172.16.0.1", "192.168.1.1", "fc00::1"],
    "link-local": ["169.254.1.1", "fe80::1"],
    "CGNAT": ["100.64.0.1", "100.127.255.254"],
    "metadata": ["169.254.169.254", "fd00:ec2::254", "100.100.100.200"],
    "multicast": ["224.0.0.1", "239.255.255.250", "ff02::1"],
    "unspecified": ["0.0.0.0", "::"],  # noqa: S104
    "IPv4-mapped IPv6": ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254"],
    "IPv4 inside IPv6": ["2002:7f00:1::1", "64:ff9b::a00:1", "2001:0:4136:e378:8000:63bf:80ff:fffe"],
    "reserved": ["240.0.0.1", "255.255.255.255", "fec0::1", "192.0.2.1", "2001:db8::1"],
}
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8"]


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(tmp_path, database, allow_private_callbacks=False, retry_schedule=())


def fake_dns(answers: dict[str, list[list[str]]]) -> Callable[[str, int], object]:
    """A lookup answering each name with its next list of addresses (the last one repeats)."""
    calls: dict[str, int] = {}

    async def lookup(host: str, _port: int) -> list[str]:
        if host not in answers:
            msg = f"{host}: no such name"
            raise OSError(msg)
        n = calls[host] = calls.get(host, 0) + 1
        return answers[host][min(n, len(answers[host])) - 1]

    lookup.calls = calls  # type: ignore[attr-defined]
    return lookup


@pytest.mark.parametrize(("kind", "address"), [(k, a) for k, addrs in BLOCKED.items() for a in addrs])
def test_non_public_addresses_are_blocked(kind: str, address: str) -> None:
    """Every class of non-public address is refused."""
    assert not address_allowed(ipaddress.ip_address(address)), kind


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    """Public unicast addresses (v4, v6, and v4 mapped into v6) pass."""
    assert address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0xa.1", "10.0.0.1"),
        ("3232235777", "192.168.1.1"),
        ("example.com", None),
        ("256.1.1.1", None),
    ],
)
def test_integer_octal_and_hex_ipv4_forms_are_read_as_addresses(host: str, address: str | None) -> None:
    """The forms ``inet_aton`` accepts are recognised as the address they spell."""
    assert legacy_ipv4(host) == (ipaddress.ip_address(address) if address else None)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "example.com/hook",
        "http:///nohost",
        "https://user:pw@example.com/",
        "https://exa mple.com/",
        "https://example.com:99999/",
        "https://example.com/" + "x" * 2048,
    ],
)
def test_malformed_callback_urls_are_refused(url: str) -> None:
    """Only absolute http(s) URLs with a host, a valid port, no credentials and no spaces."""
    with pytest.raises(ValidationFailed):
        callback_host(url)


@pytest.mark.parametrize(
    "url",
    [
        f"http://{a}/hook" if ":" not in a else f"http://[{a}]/hook"
        for addrs in BLOCKED.values()
        for a in addrs
    ]
    + ["http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1:8080/", "http://localhost:8000/hook"],
)
async def test_creating_a_subscriber_with_a_private_url_is_refused(
    client: AsyncTestClient[Litestar], tenant: Tenant, url: str
) -> None:
    """400 validation_error on ``url`` for each address class, integer/hex forms and localhost."""
    response = await client.post("/v1/subscribers", json={"url": url}, headers=tenant.headers())
    body = assert_error(response, 400, "validation_error")
    assert body["fields"][0]["field"] == "url"
    assert (await client.get("/v1/subscribers", headers=tenant.headers())).json()["data"] == []


async def test_names_are_checked_by_what_they_resolve_to(
    app: Litestar, client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """A name resolving to 127.0.0.1 is refused on create and on update; a public one passes."""
    app.state.callback_guard = CallbackGuard(
        allow_private=False,
        lookup=fake_dns(
            {"evil.example": [["93.184.216.34", "127.0.0.1"]], "ok.example": [["93.184.216.34"]]}
        ),
    )
    refused = await client.post(
        "/v1/subscribers", json={"url": "https://evil.example/"}, headers=tenant.headers()
    )
    assert "127.0.0.1" in assert_error(refused, 400, "validation_error")["error_message"]
    created = await client.post(
        "/v1/subscribers", json={"url": "https://ok.example/hook"}, headers=tenant.headers()
    )
    assert created.status_code == 201
    patched = await client.patch(
        f"/v1/subscribers/{created.json()['id']}",
        json={"url": "https://evil.example/"},
        headers=tenant.headers(),
    )
    assert_error(patched, 400, "validation_error")
    unknown = await client.post(
        "/v1/subscribers", json={"url": "https://nx.example/"}, headers=tenant.headers()
    )
    assert "does not resolve" in assert_error(unknown, 400, "validation_error")["error_message"]


async def test_a_private_address_stored_earlier_is_blocked_at_connect_time(
    settings: Settings, tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """A URL that got in before the guard (or by a setting since turned off) is never called."""
    async with receiving() as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        await queue_events(db, tenant.workspace_id)
        async with running(settings, vault):
            [done] = await wait_for_deliveries(db, all_settled)
    assert receiver.requests == []
    assert done.status == "failed"
    assert done.last_error == "blocked: 127.0.0.1 is not a public address"


async def test_dns_rebinding_is_caught_at_connect_time(
    settings: Settings, tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """A name that was public when checked and resolves to 127.0.0.1 when called gets no request."""
    lookup = fake_dns({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    guard = CallbackGuard(allow_private=False, lookup=lookup)  # type: ignore[arg-type]
    async with receiving() as receiver:
        url = receiver.url_on("rebind.example") + "/hook"
        await guard.check_url(url)  # create-time check: public, passes
        await add_subscriber(db, vault, tenant.workspace_id, url)
        await queue_events(db, tenant.workspace_id)
        async with running(settings, vault, guard=guard):
            [done] = await wait_for_deliveries(db, all_settled)
    assert receiver.requests == []
    assert done.last_error == "blocked: rebind.example resolves to a non-public address (127.0.0.1)"


async def test_the_connection_goes_to_the_address_that_was_checked(
    settings: Settings, tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """One lookup per connection, checked, then used: a second answer (elsewhere) is never consulted."""
    lookup = fake_dns({"pinned.example": [["127.0.0.1"], ["127.0.0.2"]]})
    # 127.0.0.1 stands in for a public address here; 127.0.0.2 is where a second lookup would lead.
    guard = CallbackGuard(allow_private=False, lookup=lookup, allowed_networks=["127.0.0.1/32"])  # type: ignore[arg-type]

    async def ok(_request: web.Request, _n: int) -> web.StreamResponse:
        return web.json_response({"ok": True})

    async with receiving(ok) as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url_on("pinned.example") + "/hook")
        await queue_events(db, tenant.workspace_id, count=3)
        async with running(settings, vault, guard=guard):
            rows = await wait_for_deliveries(db, all_settled)
    assert {d.status for d in rows} == {"succeeded"}
    assert len(receiver.requests) == 3
    assert {r.headers["Host"] for r in receiver.requests} == {f"pinned.example:{receiver.port}"}
    assert lookup.calls == {"pinned.example": 1}  # type: ignore[attr-defined]


async def test_the_guard_is_lifted_by_the_setting(tmp_path: Path, database: Database) -> None:
    """GATEWAY_ALLOW_PRIVATE_CALLBACKS=true lets loopback URLs through (development, tests)."""
    guard = CallbackGuard(allow_private=make_settings(tmp_path, database).allow_private_callbacks)
    await guard.check_url("http://127.0.0.1:9/hook")
    await guard.check_url("http://localhost:9/hook")


#: Spellings of loopback, "this host" and link-local that the tests above do not write out.
MORE_SPELLINGS = [
    "http://[fe80::1%25eth0]/hook",  # a link-local address with an IPv6 zone ID
    "http://[fe80::1%eth0]/hook",
    "http://[::]/",
    "http://0.0.0.0:8000/",  # "this host": Linux connects it to loopback
    "http://0/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated) form
    "http://017700000001/",
    "http://127.000.000.001/",
    "http://0x7f.1/",
    "http://①②⑦.0.0.1/",  # digits that IDNA turns into 127.0.0.1
    "http://127.0.0.1./",
    "http://localhost./",
]


@pytest.mark.parametrize("url", MORE_SPELLINGS)
async def test_other_spellings_of_private_addresses_are_refused(
    client: AsyncTestClient[Litestar], tenant: Tenant, url: str
) -> None:
    """Zone IDs, 0.0.0.0, [::], mapped and compatible IPv6, odd IPv4 forms, IDNA digits: all refused."""
    response = await client.post("/v1/subscribers", json={"url": url}, headers=tenant.headers())
    assert assert_error(response, 400, "validation_error")["fields"][0]["field"] == "url"
    assert (await client.get("/v1/subscribers", headers=tenant.headers())).json()["data"] == []


async def test_stored_spellings_of_loopback_get_no_request(
    settings: Settings, tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """URLs stored past the guard that spell the receiver's loopback address otherwise (0.0.0.0,
    integer and hex IPv4, IDNA digits, IPv4-mapped IPv6) are refused again when connecting."""
    async with receiving() as receiver:
        hosts = ["0.0.0.0", "2130706433", "0x7f000001", "①②⑦.0.0.1", "[::ffff:127.0.0.1]"]  # noqa: S104
        for host in hosts:
            await add_subscriber(db, vault, tenant.workspace_id, receiver.url_on(host) + "/hook")
        await queue_events(db, tenant.workspace_id)
        async with running(settings, vault):
            done = await wait_for_deliveries(db, all_settled)
    assert receiver.requests == []
    assert len(done) == len(hosts)
    assert {d.status for d in done} == {"failed"}
    assert all(d.last_error.startswith("blocked: ") for d in done), [d.last_error for d in done]
