"""Callback receivers that flap: by turns of a cycle they answer 500, answer too late, then succeed."""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web
from standardwebhooks import Webhook

#: Each receiver's cycle: ``ERROR_S`` of 500s, then ``SLOW_S`` of answers after the delivery timeout,
#: then success for the rest of ``PERIOD_S``. Receivers are shifted against each other.
PERIOD_S = 4.0
ERROR_S = 0.8
SLOW_S = 0.6


@dataclass
class Flapping:
    """Replies for the subscribers under one receiver, by path; counts what each saw (signatures checked)."""

    #: Each subscriber's path under the receiver's URL, and its signing secret.
    secrets: dict[str, str]
    #: How long a slow answer takes (longer than the gateway's delivery timeout).
    slow_s: float
    errors: int = 0
    timeouts: int = 0
    #: Per (path, flat event ID): copies the receiver took (answered 2xx, or kept past the sender's
    #: timeout: it may have acted on them), and those it answered 2xx.
    taken: Counter[tuple[str, str]] = field(default_factory=Counter)
    succeeded: set[tuple[str, str]] = field(default_factory=set)
    forged: int = 0
    _start: float = field(default_factory=time.monotonic)

    async def reply(self, request: web.Request, _n: int) -> web.StreamResponse:
        """The answer of the subscriber the path names, in its phase of the cycle."""
        path = request.path.rsplit("/", 1)[-1]
        try:
            payload = Webhook(self.secrets[path]).verify(await request.read(), dict(request.headers))
        except Exception:  # noqa: BLE001  (any failure to verify is a forgery here)
            self.forged += 1
            return web.Response(status=400)
        key = (path, str(payload["event_id"]))
        shift = sorted(self.secrets).index(path) * PERIOD_S / len(self.secrets)
        phase = (time.monotonic() - self._start + shift) % PERIOD_S
        if phase < ERROR_S:
            self.errors += 1
            return web.json_response({"error": "flapping"}, status=500)
        self.taken[key] += 1
        if phase < ERROR_S + SLOW_S:
            self.timeouts += 1
            await asyncio.sleep(self.slow_s)  # the gateway has given up on this answer by now
            return web.json_response({"ok": True})
        self.succeeded.add(key)
        return web.json_response({"ok": True})

    @property
    def duplicates(self) -> int:
        """Copies taken beyond the first of each delivery (at least once means some)."""
        return sum(copies - 1 for copies in self.taken.values())
