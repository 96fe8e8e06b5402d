"""Baseline for Stripe webhook ingest: verify the signature, store the raw event durably, answer.

A bare Litestar handler: the SDK's ``WebhookSignature.verify_header`` (300 s tolerance) against the
workspace's secret, then one ``INSERT`` of the raw event, de-duplicated by event ID, with stdlib
``sqlite3`` on one writer thread (WAL, ``synchronous=NORMAL``, one transaction per request: the
"sqlite3 on a writer thread" row of perf-ceiling.md). No mirror, no flat event, no delivery.
"""

import asyncio
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
import stripe
from litestar import Litestar, Request, post
from litestar.exceptions import ClientException
from litestar.params import FromPath

SECRETS = dict(
    line.split("\t", 1) for line in Path(os.environ["BENCH_TARGETS"]).read_text().splitlines() if "\t" in line
)
DATABASE = os.environ["BENCH_BASELINE_DB"]
_local = threading.local()


class StripeEventHead(msgspec.Struct):
    """What is kept apart from the raw body."""

    id: str
    type: str
    created: int


def _open_writer() -> None:
    conn = sqlite3.connect(DATABASE, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS stripe_events (id INTEGER PRIMARY KEY, workspace_id TEXT NOT NULL,"
        " stripe_event_id TEXT NOT NULL, type TEXT NOT NULL, created INTEGER NOT NULL,"
        " payload TEXT NOT NULL, UNIQUE (workspace_id, stripe_event_id))"
    )
    _local.conn = conn


WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer", initializer=_open_writer)


def _insert(row: tuple[str, str, str, int, str]) -> None:
    _local.conn.execute(
        "INSERT INTO stripe_events (workspace_id, stripe_event_id, type, created, payload)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        row,
    )


@post("/v1/stripe/webhooks/{workspace_id:str}", status_code=200)
async def stripe_webhook(request: Request[Any, Any, Any], workspace_id: FromPath[str]) -> dict[str, bool]:
    """Verify, store, acknowledge."""
    body = await request.body()
    secret = SECRETS.get(f"/v1/stripe/webhooks/{workspace_id}")
    try:
        stripe.WebhookSignature.verify_header(body, request.headers.get("stripe-signature"), secret, 300)
    except stripe.SignatureVerificationError as exc:
        raise ClientException(str(exc)) from exc
    head = msgspec.json.decode(body, type=StripeEventHead)
    row = (workspace_id, head.id, head.type, head.created, body.decode())
    await asyncio.get_running_loop().run_in_executor(WRITER, _insert, row)
    return {"ok": True}


app = Litestar([stripe_webhook], debug=False)
