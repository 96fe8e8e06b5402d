"""Where callbacks may go: http(s) URLs whose hosts resolve only to public addresses (the SSRF guard).

A URL is checked when a subscriber is created or changed, and again on every new connection: the
resolver given to the HTTP client checks each address it returns, and the client connects to exactly
those addresses, so a name that answers with a public address first and a private one later (DNS
rebinding) gets nowhere. ``GATEWAY_ALLOW_PRIVATE_CALLBACKS`` lifts the guard for development and tests.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from gateway.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port) -> addresses``: how names are looked up (tests inject their own DNS).
Lookup = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_LENGTH = 2048
LOOKUP_TIMEOUT_S = 5.0
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(OSError):
    """A callback host is, or resolves to, an address the gateway must not call."""


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address behind ``inet_aton`` forms (``2130706433``, ``0x7f.1``, ``0177.0.0.1``), if any."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:  # noqa: PLR2004
        return None
    numbers = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part, 8))
            else:
                numbers.append(int(part, 10) if part.isascii() and part.isdigit() else -1)
        except ValueError:
            return None
    if any(n < 0 for n in numbers):
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):  # noqa: PLR2004
        return None
    value = 0
    for n in head:
        value = value << 8 | n
    return ipaddress.IPv4Address(value << 8 * (5 - len(numbers)) | last)


def address_allowed(ip: IPAddress) -> bool:
    """Whether ``ip`` is a public unicast address (no loopback, private, link-local, CGNAT, multicast...)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_allowed(embedded)
        if ip.is_site_local:
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def parse_address(host: str) -> IPAddress | None:
    """The address ``host`` spells (in any of the forms a resolver would accept), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return legacy_ipv4(host)


async def system_lookup(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class CallbackGuard:
    """Checks callback URLs and resolves their hosts for the HTTP client, refusing non-public addresses."""

    def __init__(
        self,
        *,
        allow_private: bool,
        lookup: Lookup = system_lookup,
        allowed_networks: Sequence[str] = (),
    ) -> None:
        self.allow_private = allow_private
        self._lookup = lookup
        #: Always allowed (an operator's explicit exception, or a test's receiver).
        self._allowed = [ipaddress.ip_network(n) for n in allowed_networks]

    def allows(self, ip: IPAddress) -> bool:
        """Whether the gateway may connect to ``ip``."""
        return self.allow_private or address_allowed(ip) or any(ip in net for net in self._allowed)

    async def addresses(self, host: str, port: int) -> list[str]:
        """Every address of ``host``, all of them checked; ``BlockedAddress`` if any is not allowed."""
        literal = parse_address(host)
        if literal is not None:
            found = [str(literal)]
        else:
            try:
                found = await asyncio.wait_for(self._lookup(host, port), LOOKUP_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                msg = f"{host} does not resolve"
                raise BlockedAddress(msg) from exc
        if not found:
            msg = f"{host} does not resolve"
            raise BlockedAddress(msg)
        for text in found:
            if not self.allows(ipaddress.ip_address(text.split("%")[0])):
                msg = f"{host} resolves to a non-public address ({text})"
                raise BlockedAddress(msg)
        return found

    async def check_url(self, url: str) -> None:
        """Refuse (``validation_error`` on ``url``) a callback URL the gateway must not call."""
        host, port = callback_host(url)
        if self.allow_private:
            return
        try:
            await self.addresses(host, port)
        except BlockedAddress as exc:
            msg = f"Callback URL refused: {exc}. Callbacks must go to public addresses."
            raise ValidationFailed(msg, field="url") from exc

    def resolver(self) -> AbstractResolver:
        """An aiohttp resolver that checks every address at connect time (the client then uses only those)."""
        return _GuardedResolver(self)


def wire_host(url: str) -> str:
    """The host as the HTTP client sends and connects to it (``ValueError`` when there is none).

    IDNA applied: ``①②⑦.0.0.1`` is the literal ``127.0.0.1``, which the client connects to without
    asking the resolver, so it must be checked as an address.
    """
    host = URL(url).raw_host
    if not host:
        msg = f"no host in {url!r}"
        raise ValueError(msg)
    return host


def callback_host(url: str) -> tuple[str, int]:
    """The host and port of a well-formed callback URL; ``validation_error`` on ``url`` otherwise."""
    if len(url) > MAX_URL_LENGTH:
        msg = f"A callback URL is at most {MAX_URL_LENGTH} characters."
        raise ValidationFailed(msg, field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        msg = f"Not a valid URL: {exc}."
        raise ValidationFailed(msg, field="url") from exc
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        msg = "A callback URL is an absolute http:// or https:// URL."
        raise ValidationFailed(msg, field="url")
    if parts.username is not None or parts.password is not None:
        msg = "Put credentials in headers (e.g. Authorization: Basic ...), not in the URL."
        raise ValidationFailed(msg, field="url")
    if any(c.isspace() for c in url):
        msg = "A callback URL has no spaces."
        raise ValidationFailed(msg, field="url")
    try:
        host = wire_host(url)
    except (ValueError, UnicodeError) as exc:
        msg = "The callback URL's host is not a valid host name."
        raise ValidationFailed(msg, field="url") from exc
    return host, port or (443 if parts.scheme == "https" else 80)


class _GuardedResolver(AbstractResolver):
    def __init__(self, guard: CallbackGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._guard.addresses(host, port)
        results: list[ResolveResult] = []
        for text in found:
            ip = ipaddress.ip_address(text.split("%")[0])
            ip_family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET  # noqa: PLR2004
            if family not in {socket.AF_UNSPEC, ip_family}:
                continue
            results.append(
                {
                    "hostname": host,
                    "host": str(ip),
                    "port": port,
                    "family": ip_family,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        if not results:
            msg = f"{host} has no usable address"
            raise BlockedAddress(msg)
        return results

    async def close(self) -> None:
        """Nothing to release."""
