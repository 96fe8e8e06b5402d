"""The sandbox's state: every object by ID (in Stripe's JSON shape), kept in memory, saved as JSON.

One store is one Stripe account with a test and a live secret key. Objects carry ``livemode``; an ID
asked for with the other mode's key is missing, with Stripe's "a similar object exists" hint.
"""

import json
import secrets
import string
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

from gateway.sandbox.errors import resource_missing
from gateway.sandbox.wire import Obj

_ALPHABET = string.ascii_letters + string.digits
MAX_EVENTS = 10_000
MAX_IDEMPOTENCY_KEYS = 10_000
#: How Stripe names each kind of object in "No such ..." messages.
_NAMES = {"billing_portal.configuration": "configuration", "webhook_endpoint": "webhook endpoint"}


def new_id(prefix: str, length: int = 24) -> str:
    """A Stripe-looking ID such as ``cus_Qx...``."""
    # One call for all the randomness (a choice per character costs more than the rest of a request).
    return f"{prefix}_{''.join(_ALPHABET[b % len(_ALPHABET)] for b in secrets.token_bytes(length))}"


class Store:
    """Objects, their private parts (secrets, portal tokens) and undelivered events."""

    def __init__(self, *, secret_key: str, live_secret_key: str = "", path: Path | None = None) -> None:
        self.secret_key = secret_key
        self.live_secret_key = live_secret_key
        self.path = path
        self.objects: dict[str, Obj] = {}
        #: What Stripe never shows again: webhook secrets, portal tokens and session activity.
        self.private: dict[str, Obj] = {}
        #: Event ID -> webhook endpoint IDs still to receive it.
        self.pending: dict[str, list[str]] = {}
        self.idempotency: OrderedDict[tuple[bool, str], tuple[str, int, bytes]] = OrderedDict()
        self.dirty = False
        self._events: list[str] = []
        #: Portal session tokens, oldest first (only the newest ones are kept).
        self.session_tokens: deque[str] = deque()

    @staticmethod
    def now() -> int:
        """Unix seconds, as Stripe stamps ``created``."""
        return int(time.time())

    def livemode_of(self, key: str) -> bool | None:
        """True/False for this account's live/test key; None for any other key."""
        if key and secrets.compare_digest(key, self.secret_key):
            return False
        if key and self.live_secret_key and secrets.compare_digest(key, self.live_secret_key):
            return True
        return None

    def add(self, obj: Obj) -> Obj:
        """Keep a new object (or replace one)."""
        self.objects[obj["id"]] = obj
        if obj["object"] == "event":
            self._events.append(obj["id"])
            if len(self._events) > MAX_EVENTS:
                self.objects.pop(self._events.pop(0), None)
        self.dirty = True
        return obj

    def get(self, kind: str, object_id: str, livemode: bool, *, param: str = "id") -> Obj:
        """The ``kind`` object ``object_id`` in this mode, or Stripe's ``resource_missing``."""
        obj = self.objects.get(object_id)
        name = _NAMES.get(kind, kind)
        if obj is None or obj["object"] != kind or obj.get("deleted"):
            raise resource_missing(name, object_id, param=param)
        if obj["livemode"] != livemode:
            raise resource_missing(
                name, object_id, param=param, other_mode="live" if obj["livemode"] else "test"
            )
        return obj

    def find(self, object_id: str) -> Obj | None:
        """Any object by ID (for ``expand``)."""
        return self.objects.get(object_id)

    def all(self, kind: str, livemode: bool) -> list[Obj]:
        """Every ``kind`` object of this mode, newest first."""
        found = [o for o in self.objects.values() if o["object"] == kind and o["livemode"] == livemode]
        return [o for o in reversed(found) if not o.get("deleted")]

    def remember_answer(self, livemode: bool, key: str, digest: str, status: int, body: bytes) -> None:
        """Keep an answer for replay under its ``Idempotency-Key``."""
        self.idempotency[livemode, key] = (digest, status, body)
        if len(self.idempotency) > MAX_IDEMPOTENCY_KEYS:
            self.idempotency.popitem(last=False)

    def save(self) -> None:
        """Write the state to ``path`` atomically (idempotency answers are not kept)."""
        if self.path is None:
            return
        state = {
            "secret_key": self.secret_key,
            "live_secret_key": self.live_secret_key,
            "objects": self.objects,
            "private": self.private,
            "pending": self.pending,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.path)
        self.dirty = False

    def load(self) -> None:
        """Read the state saved at ``path``, if any."""
        if self.path is None or not self.path.exists():
            return
        state: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        self.secret_key, self.live_secret_key = state["secret_key"], state["live_secret_key"]
        self.objects = state["objects"]
        self.private = state["private"]
        self.pending = state["pending"]
        self._events = [k for k, v in self.objects.items() if v["object"] == "event"]
        self.session_tokens = deque(k for k, v in self.private.items() if "session" in v)
