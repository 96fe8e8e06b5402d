"""Baseline for delivery: a bare aiohttp sender, no database, same concurrency and same signing.

Sends every message of ``--messages`` (JSON lines ``[webhook_id, body]``, the gateway's own stored
bodies) to ``--url`` with Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``), ``--concurrency`` at a time,
on one shared ``aiohttp`` session. Prints one JSON line: sent, errors, seconds, CPU seconds.
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import resource
import time
from pathlib import Path

import aiohttp
import uvloop


def signing_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<signature>`` as the Standard Webhooks spec defines it."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def send_all(url: str, messages: list[tuple[str, bytes]], concurrency: int, key: bytes) -> int:
    """Send everything; the number of failures."""
    errors = 0
    queue = iter(messages)
    timeout = aiohttp.ClientTimeout(total=15)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal errors
            for message_id, body in queue:
                timestamp = int(time.time())
                headers = {
                    "content-type": "application/json",
                    "webhook-id": message_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign(key, message_id, timestamp, body),
                }
                try:
                    async with session.post(url, data=body, headers=headers, allow_redirects=False) as r:
                        await r.read()
                        errors += r.status >= 300
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors


def main() -> None:
    """Parse arguments, send, report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--messages", type=Path, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    messages = []
    for line in args.messages.read_text().splitlines():
        message_id, body = json.loads(line)
        messages.append((message_id, body.encode()))
    started, cpu_before = time.perf_counter(), time.process_time()
    errors = uvloop.run(send_all(args.url, messages, args.concurrency, signing_key(args.secret)))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "sent": len(messages),
                "errors": errors,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
