"""The sandbox itself: one store, its webhook sender and faults, and what a request hands a resource."""

import asyncio
import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import stripe

from gateway.sandbox.errors import invalid
from gateway.sandbox.faults import Faults
from gateway.sandbox.sender import WebhookSender
from gateway.sandbox.store import Store, new_id
from gateway.sandbox.wire import Obj

#: The API version events are rendered in: the one the SDK pins.
API_VERSION: str = stripe.api_version
#: Delays between a failing webhook's attempts (Stripe's test mode retries a few times too).
DEFAULT_RETRY_SCHEDULE = (1.0, 5.0, 30.0)
SAVE_DELAY_S = 0.5


class Sandbox:
    """A Stripe account in a box: state, event emission, webhook delivery and fault injection."""

    def __init__(
        self,
        *,
        secret_key: str = "",
        live_secret_key: str = "",
        state_path: Path | None = None,
        retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE,
        webhook_timeout: float = 10.0,
        public_url: str = "",
    ) -> None:
        #: Base of the portal URLs handed out ("" = the base URL each request came to).
        self.public_url = public_url.rstrip("/")
        self.store = Store(
            secret_key=secret_key or new_id("sk_test", 32),
            live_secret_key=live_secret_key or new_id("sk_live", 32),
            path=state_path,
        )
        self.store.load()
        self.sender = WebhookSender(self.store, retry_schedule=retry_schedule, timeout=webhook_timeout)
        self.faults = Faults()
        self._save_handle: asyncio.TimerHandle | None = None

    @property
    def secret_key(self) -> str:
        """The test-mode secret key (``sk_test_...``)."""
        return self.store.secret_key

    @property
    def live_secret_key(self) -> str:
        """The live-mode secret key (``sk_live_...``): objects it makes have ``livemode: true``."""
        return self.store.live_secret_key

    def emit(self, type_: str, obj: Obj, *, previous: Obj | None = None, request: Obj | None = None) -> Obj:
        """Record an event about ``obj`` and send it to every webhook endpoint that wants it."""
        data: Obj = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = copy.deepcopy(previous)
        endpoints = [
            e["id"]
            for e in self.store.all("webhook_endpoint", obj["livemode"])
            if e["status"] == "enabled" and ("*" in e["enabled_events"] or type_ in e["enabled_events"])
        ]
        event = self.store.add(
            {
                "id": new_id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "created": self.store.now(),
                "data": data,
                "livemode": obj["livemode"],
                "pending_webhooks": len(endpoints),
                "request": request or {"id": None, "idempotency_key": None},
                "type": type_,
            }
        )
        if endpoints:
            self.store.pending[event["id"]] = endpoints
            self.sender.send(event["id"])
        return event

    def changed(self) -> None:
        """Note a change: the state file is written shortly after (changes in a burst write once)."""
        if self.store.path is None or self._save_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.store.save()
            return

        def save() -> None:
            self._save_handle = None
            self.store.save()

        self._save_handle = loop.call_later(SAVE_DELAY_S, save)

    def call(self, method: str, path: str, params: Obj | None = None, *, livemode: bool = False) -> Obj:
        """An API call made in-process (seeding, the portal page): the same checks as over HTTP.

        Run it in the loop that serves the sandbox (or before it serves), never from another thread.
        """
        from gateway.sandbox.api import call_operation  # noqa: PLC0415  (api imports every resource)

        return call_operation(self, method, path, params or {}, livemode=livemode)

    def start(self) -> None:
        """Resume deliveries left pending by a previous run (call inside the serving loop)."""
        self.sender.resume()

    async def close(self) -> None:
        """Save the state and stop delivering."""
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        self.store.save()
        await self.sender.close()


def previous_attributes(before: Obj, after: Obj) -> Obj:
    """The top-level values ``after`` changed, as they were: Stripe's ``data.previous_attributes``."""
    return {k: v for k, v in before.items() if after.get(k) != v and k != "updated"}


@dataclass
class Call:
    """One API request as a resource sees it."""

    sandbox: Sandbox
    livemode: bool
    params: Obj
    ids: tuple[str, ...] = ()
    base_url: str = ""
    request: Obj = field(default_factory=dict)

    @property
    def store(self) -> Store:
        """The account's store."""
        return self.sandbox.store

    def emit(self, type_: str, obj: Obj, previous: Obj | None = None) -> Obj:
        """Emit an event caused by this request."""
        return self.sandbox.emit(type_, obj, previous=previous, request=self.request)

    def target(self, kind: str) -> Obj:
        """The ``kind`` object the path names (``/v1/customers/{id}``), or ``resource_missing``."""
        return self.store.get(kind, self.ids[0], self.livemode)


Handler = Callable[[Call], Obj]


def retriever(kind: str) -> Handler:
    """The handler of ``GET /v1/{objects}/{id}`` for ``kind`` objects."""

    def retrieve(call: Call) -> Obj:
        return call.target(kind)

    retrieve.__doc__ = f"``GET`` one {kind}."
    return retrieve


def matching(objects: list[Obj], params: Obj, keys: tuple[str, ...]) -> list[Obj]:
    """The objects whose value for each of ``keys`` given in ``params`` equals it (list filters)."""
    for key in keys:
        if key in params:
            objects = [o for o in objects if o[key] == params[key]]
    return objects


@dataclass(frozen=True)
class Operation:
    """One API method: ``POST /v1/customers/{id}`` checked against ``spec`` and served by ``handler``."""

    method: str
    template: str
    spec: type
    handler: Handler
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        regex = "^" + re.sub(r"\\\{[a-z_]+\\\}", "([^/]+)", re.escape(self.template)) + "$"
        object.__setattr__(self, "pattern", re.compile(regex))


def metadata_merged(current: Obj, update: Any) -> Obj:
    """Stripe's metadata update: keys merge, ``""`` removes a key, ``metadata=""`` clears all."""
    if update == "":
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def dumps(obj: Any) -> bytes:
    """JSON as the sandbox answers it."""
    return json.dumps(obj, indent=2).encode()


MAX_METADATA_KEYS = 50
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500


def checked_metadata(metadata: Any, param: str = "metadata") -> Any:
    """Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500."""
    if not isinstance(metadata, dict):
        return metadata
    if len(metadata) > MAX_METADATA_KEYS:
        msg = f"Invalid {param}: metadata can have at most {MAX_METADATA_KEYS} keys."
        raise invalid(msg, param=param)
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY:
            msg = f"Invalid {param}: metadata keys must be at most {MAX_METADATA_KEY} characters long."
            raise invalid(msg, param=f"{param}[{key}]")
        if len(value) > MAX_METADATA_VALUE:
            msg = f"Invalid {param}: metadata values must be at most {MAX_METADATA_VALUE} characters long."
            raise invalid(msg, param=f"{param}[{key}]")
    return metadata
