"""End-to-end latency probe: signed Stripe events at a steady rate, timed until their callbacks arrive.

Open loop: event *i* leaves at ``start + i / rate`` whatever the answers before it, so a slow
gateway cannot slow the probe down and hide its own latency. The receiver stamps each callback on
arrival (``time.time()``, the same clock); the probe then reads the stamps and prints one JSON line:
latency from send and from the 200 (accepted) to arrival, p50/p95/p99/max, and what went missing.
"""

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import aiohttp
import uvloop

from bench import events


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max, in milliseconds."""
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(v * 1000 for v in values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1], 2),
    }


async def probe(args: argparse.Namespace, path: str, secret: str) -> dict[str, object]:
    """Send to ``path`` signed with ``secret``, wait for the callbacks, measure."""
    sent: dict[str, float] = {}
    accepted: dict[str, float] = {}
    failures = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def send(number: int) -> None:
            nonlocal failures
            serial = f"lat{args.salt}n{number}"
            body = events.render(serial, f"cus_lat{number % 100}")
            headers = {
                "Content-Type": "application/json",
                "Stripe-Signature": events.stripe_signature(body, secret),
            }
            sent[f"evt_{serial}"] = time.time()
            async with session.post(args.url + path, data=body, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    accepted[f"evt_{serial}"] = time.time()
                else:
                    failures += 1

        start = time.monotonic()
        tasks = []
        for number in range(int(args.rate * args.seconds)):
            delay = start + number / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(number)))
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + args.drain
        arrivals: dict[str, float] = {}
        while time.monotonic() < deadline:
            async with session.get(args.receiver + "/__arrivals") as response:
                arrivals = await response.json()
            if all(event_id in arrivals for event_id in accepted):
                break
            await asyncio.sleep(0.2)
    received = [event_id for event_id in accepted if event_id in arrivals]
    return {
        "sent": len(sent),
        "accepted": len(accepted),
        "failed": failures,
        "received": len(received),
        "missing": len(accepted) - len(received),
        "from_send": percentiles([arrivals[e] - sent[e] for e in received]),
        "from_accept": percentiles([arrivals[e] - accepted[e] for e in received]),
    }


def main() -> None:
    """Parse arguments, probe, print the result."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="the gateway's base URL")
    parser.add_argument("--targets", required=True, help="webhook path<TAB>secret, first line used")
    parser.add_argument("--receiver", required=True, help="the receiver's base URL")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to wait for the last callbacks")
    parser.add_argument("--salt", default=str(int(time.time())))
    args = parser.parse_args()
    path, secret = Path(args.targets).read_text().splitlines()[0].split("\t")
    print(json.dumps(uvloop.run(probe(args, path, secret))))


if __name__ == "__main__":
    main()
