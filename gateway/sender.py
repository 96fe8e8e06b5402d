"""One HTTP attempt of a delivery: signed, with the subscriber's headers, redirects not followed.

All attempts share one ``aiohttp.ClientSession`` (connection reuse is most of the speed). Its resolver
is the SSRF guard's, so every new connection goes to addresses checked a moment before; IP-literal
hosts, which aiohttp never resolves, are checked here. Cookies are never kept between callbacks.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from gateway import __version__
from gateway.egress import BlockedAddress, CallbackGuard, parse_address, wire_host
from gateway.queue import Claim, Destination
from gateway.retries import Attempt
from gateway.signing import secret_key, signature_header
from gateway.vault import Vault

USER_AGENT = f"PortalGateway/{__version__} (Standard Webhooks)"
RESPONSE_HEAD_BYTES = 2048
#: Answers up to this size are read whole so the connection can be reused; longer ones are cut off.
DRAIN_LIMIT = 64 * 1024
CONNECT_TIMEOUT_S = 5.0
HTTP_REDIRECT_MIN, HTTP_REDIRECT_MAX = 300, 399


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how to send a subscriber's callbacks (secrets decrypted, kept in memory only)."""

    url: str
    headers: dict[str, str]
    key: bytes
    previous_key: bytes | None
    previous_until: datetime | None
    #: Why the URL's IP-literal host may not be called ("" when it may, or is a name).
    blocked: str = ""

    def keys(self, now: datetime) -> list[bytes]:
        """The keys that sign now: the current one, and the previous one during its 24 h of grace."""
        if self.previous_key is not None and self.previous_until is not None and now < self.previous_until:
            return [self.key, self.previous_key]
        return [self.key]


def target_of(destination: Destination, vault: Vault, guard: CallbackGuard) -> Target:
    """The sending form of a subscriber row."""
    headers: dict[str, str] = (
        json.loads(vault.decrypt(destination.headers_enc)) if destination.headers_enc else {}
    )
    previous = vault.decrypt(destination.previous_secret_enc) if destination.previous_secret_enc else ""
    try:
        literal = parse_address(wire_host(destination.url))
    except (ValueError, UnicodeError):
        literal, blocked = None, "blocked: the URL has no valid host"
    else:
        blocked = ""
    if literal is not None and not guard.allows(literal):
        blocked = f"blocked: {literal} is not a public address"
    return Target(
        url=destination.url,
        headers=headers,
        key=secret_key(vault.decrypt(destination.secret_enc)),
        previous_key=secret_key(previous) if previous else None,
        previous_until=destination.previous_secret_expires_at,
        blocked=blocked,
    )


def make_http_session(guard: CallbackGuard, *, concurrency: int, timeout_s: float) -> aiohttp.ClientSession:
    """The one HTTP client every attempt uses."""
    connector = aiohttp.TCPConnector(
        limit=concurrency,
        limit_per_host=0,
        resolver=None if guard.allow_private else guard.resolver(),
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


async def send(
    http: aiohttp.ClientSession, target: Target, claim: Claim, *, clock: Callable[[], datetime]
) -> Attempt:
    """Make one attempt of ``claim`` to ``target``; never raises for what the network or receiver does."""
    started = clock()
    timestamp = int(started.timestamp())
    headers = {
        **target.headers,
        "Content-Type": "application/json",
        "webhook-id": claim.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(target.keys(started), claim.message_id, timestamp, claim.body),
    }
    status, head, error, retry_after = 0, b"", target.blocked, ""
    t0 = time.perf_counter()
    if not error:
        try:
            async with http.post(target.url, data=claim.body, headers=headers, allow_redirects=False) as resp:
                status = resp.status
                head = await _read_head(resp)
                retry_after = resp.headers.get("Retry-After", "")
                if HTTP_REDIRECT_MIN <= status <= HTTP_REDIRECT_MAX:
                    error = f"redirect to {resp.headers.get('Location', '?')} not followed"
        except TimeoutError:
            error = f"timed out after {http.timeout.total:g}s"
        except aiohttp.ClientConnectorDNSError as exc:
            error = (
                f"blocked: {exc.os_error}"
                if isinstance(exc.os_error, BlockedAddress)
                else "DNS lookup failed"
            )
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
    return Attempt(
        delivery_id=claim.delivery_id,
        attempt=claim.attempt,
        subscriber_id=claim.subscriber_id,
        started_at=started,
        duration_ms=round((time.perf_counter() - t0) * 1000),
        status_code=status,
        response_body=head.decode("utf-8", "replace").replace("\x00", ""),
        error=error,
        retry_after=retry_after,
    )


async def _read_head(resp: aiohttp.ClientResponse) -> bytes:
    """The first 2 KB of the answer (reading the rest, when small, keeps the connection reusable)."""
    if resp.content_length is not None and resp.content_length <= DRAIN_LIMIT:
        return (await resp.read())[:RESPONSE_HEAD_BYTES]
    head = bytearray()
    seen = 0
    async for chunk in resp.content.iter_any():
        if len(head) < RESPONSE_HEAD_BYTES:
            head += chunk[: RESPONSE_HEAD_BYTES - len(head)]
        seen += len(chunk)
        if seen > DRAIN_LIMIT:
            resp.close()
            break
    return bytes(head)
