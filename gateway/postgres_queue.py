"""The delivery queue on PostgreSQL: asyncpg, one statement per step, rows passed as arrays.

Exchanges commit with ``synchronous_commit = off``: a database crash may forget the last moments of
claims and outcomes, which only means those deliveries are attempted again (at least once still
holds), while every commit stops waiting for a disk flush. Deliveries themselves are written by the
ingest transaction, which keeps the server's setting.

A delivery done leaves a dead entry at the front of the claim index until vacuum removes it, and
every claim would step over all of them (throughput times the vacuum interval: tens of thousands).
So each subscriber's scans start at a *floor*: the due time of the oldest delivery this worker last
claimed for it (what lies before is done, or held by a worker). Deliveries that fall due behind a
floor (a lease that ran out, a claim rolled back, a late commit) are found by a scan without floors
at least every ``FLOOR_TTL_S``.
"""

import time
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from gateway.metrics import count_lease_losses
from gateway.queue import (
    SUBSCRIBERS_PER_CLAIM,
    Claim,
    Destination,
    Exchanged,
    Holding,
    Lease,
    Plan,
    Record,
)
from gateway.settings import Settings

_MARK_FAILING = (
    "UPDATE subscribers SET failing_since = $1 WHERE id = ANY($2::text[]) AND failing_since IS NULL"
)
_CLEAR_FAILING = (
    "UPDATE subscribers SET failing_since = NULL WHERE id = ANY($1::text[]) AND failing_since IS NOT NULL"
)
_DISABLE = (
    "UPDATE subscribers SET enabled = false, disabled_reason = $1, updated_at = $2 "
    "WHERE id = ANY($3::text[]) AND enabled AND ($4::timestamptz IS NULL OR failing_since <= $4) RETURNING id"
)
_SUCCEEDED = (
    "UPDATE deliveries AS d SET status = 'succeeded', succeeded_at = $1, next_attempt_at = NULL, "
    "lease_expires_at = NULL, last_status_code = r.code, last_error = '', updated_at = $1 "
    "FROM unnest($2::text[], $3::int[], $4::int[]) AS r(id, attempt, code) "
    "WHERE d.id = r.id AND d.attempts = r.attempt"
)
_NOT_YET = (
    "UPDATE deliveries AS d SET status = r.status, next_attempt_at = r.next, lease_expires_at = NULL, "
    "last_status_code = r.code, last_error = r.error, updated_at = $1 "
    "FROM unnest($2::text[], $3::int[], $4::text[], $5::timestamptz[], $6::int[], $7::text[]) "
    "AS r(id, attempt, status, next, code, error) "
    "WHERE d.id = r.id AND d.attempts = r.attempt AND d.status = 'pending'"
)
_LOG = (
    "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, "
    "response_body, error, next_attempt_at) SELECT r.* FROM unnest($1::text[], $2::int[], "
    "$3::timestamptz[], $4::int[], $5::int[], $6::text[], $7::text[], $8::timestamptz[]) "
    "AS r(delivery_id, attempt, started_at, duration_ms, status_code, response_body, error, next_attempt_at) "
    "WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = r.delivery_id)"
)
_FAIL_PENDING = (
    "UPDATE deliveries AS d SET status = 'failed', next_attempt_at = NULL, "
    "last_error = 'subscriber disabled (' || r.reason || ')', updated_at = $1 "
    "FROM unnest($2::text[], $3::text[]) AS r(subscriber_id, reason) "
    "WHERE d.subscriber_id = r.subscriber_id AND d.status = 'pending'"
)
# Due at $1: pending, its time has come, and no live lease on it.
_DUE = "status = 'pending' AND next_attempt_at <= $1 AND (lease_expires_at IS NULL OR lease_expires_at <= $1)"
_AFTER_FLOOR = "next_attempt_at >= coalesce(f.floor, '-infinity'::timestamptz)"
_DUE_SUBSCRIBERS = (  # constants, no input
    "SELECT s.id, s.url, s.headers_enc, s.secret_enc, s.previous_secret_enc, "  # noqa: S608
    "s.previous_secret_expires_at, s.updated_at, s.max_in_flight FROM subscribers AS s "
    "LEFT JOIN unnest($2::text[], $3::timestamptz[]) AS f(subscriber_id, floor) ON f.subscriber_id = s.id "
    # LATERAL, not EXISTS: only then is the floor part of the index condition.
    f"CROSS JOIN LATERAL (SELECT 1 FROM deliveries WHERE subscriber_id = s.id AND {_AFTER_FLOOR} AND {_DUE} "
    "LIMIT 1) AS due WHERE s.enabled "
)
_CANDIDATES = f"{_DUE_SUBSCRIBERS} LIMIT {SUBSCRIBERS_PER_CLAIM} FOR NO KEY UPDATE OF s SKIP LOCKED"
#: When every due subscriber is locked by other workers' exchanges: wait for them, in a fixed order.
#: (An exchange whose ``record`` step just changed another subscriber's ``failing_since`` holds that
#: row too: two such exchanges can deadlock; PostgreSQL ends one after ``deadlock_timeout`` and the
#: worker retries it with its outcomes kept.)
_CANDIDATES_WAITING = f"{_DUE_SUBSCRIBERS} ORDER BY s.id LIMIT {SUBSCRIBERS_PER_CLAIM} FOR NO KEY UPDATE OF s"
_OTHERS = (
    "SELECT subscriber_id, sum(in_flight) FROM subscriber_leases "
    "WHERE subscriber_id = ANY($1::text[]) AND owner != $2 AND expires_at > $3 GROUP BY subscriber_id"
)
_CLAIM = (
    "UPDATE deliveries SET attempts = attempts + 1, lease_owner = $2, lease_expires_at = $3, "  # noqa: S608
    "updated_at = $1 WHERE id IN (SELECT due.id FROM unnest($4::text[], $5::int[], $6::timestamptz[]) "
    "AS f(subscriber_id, quota, floor) CROSS JOIN LATERAL (SELECT id FROM deliveries "
    f"WHERE subscriber_id = f.subscriber_id AND {_AFTER_FLOOR} AND {_DUE} "
    "ORDER BY next_attempt_at LIMIT f.quota FOR UPDATE SKIP LOCKED) AS due) "
    "RETURNING id, subscriber_id, message_id, body, attempts, next_attempt_at"
)
_HOLD = (
    "INSERT INTO subscriber_leases (subscriber_id, owner, in_flight, expires_at) "
    "SELECT h.subscriber_id, $1, h.in_flight, $2 "
    "FROM unnest($3::text[], $4::int[]) AS h(subscriber_id, in_flight) "
    "ON CONFLICT (subscriber_id, owner) DO UPDATE SET in_flight = excluded.in_flight, "
    "expires_at = excluded.expires_at"
)
_RELEASE = "DELETE FROM subscriber_leases WHERE owner = $1 OR expires_at <= $2"


#: At least this often, scans start at the front of the claim index again (see the module's note).
FLOOR_TTL_S = 1.0


def asyncpg_dsn(settings: Settings) -> str:
    """``GATEWAY_DATABASE_URL`` as a plain ``postgresql://`` DSN for asyncpg."""
    return make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def server_settings(settings: Settings) -> dict[str, str]:
    """Session settings for the queue's connection (see the module's note on ``synchronous_commit``)."""
    values = {"synchronous_commit": "off"}
    if settings.database_schema:
        values["search_path"] = settings.database_schema
    return values


class PostgresQueue:
    """Runs exchange plans on a connection of its own."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: Any = None
        #: Per subscriber, where this worker's scans start; forgotten every ``FLOOR_TTL_S``.
        self._floors: dict[str, datetime] = {}
        self._floors_since = time.monotonic()

    async def run(self, plan: Plan) -> Exchanged:
        """Run every step of ``plan`` in one transaction."""
        async with (await self._connected()).acquire() as conn, conn.transaction():
            result: Any = None
            while True:
                try:
                    name, argument = plan.send(result)
                except StopIteration as done:
                    exchanged: Exchanged = done.value
                    return exchanged
                result = await getattr(self, f"_{name}")(conn, argument)

    async def release(self, owner: str, now: datetime) -> None:
        """Forget ``owner``'s holdings, and every holding expired by ``now``."""
        await (await self._connected()).execute(_RELEASE, owner, now)

    async def close(self) -> None:
        """Close the connection."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _connected(self) -> Any:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                asyncpg_dsn(self._settings),
                min_size=1,
                max_size=1,
                server_settings=server_settings(self._settings),
            )
        return self._pool

    async def _record(self, conn: Any, record: Record) -> dict[str, str]:
        now = record.now
        if record.failed:
            await conn.execute(_MARK_FAILING, now, record.failed)
        if record.succeeded:
            await conn.execute(_CLEAR_FAILING, record.succeeded)
        disabled: dict[str, str] = {}
        if record.gone:
            disabled.update(
                (row[0], "gone") for row in await conn.fetch(_DISABLE, "gone", now, record.gone, None)
            )
        if record.maybe_failing:
            rows = await conn.fetch(_DISABLE, "failing", now, record.maybe_failing, record.failing_before)
            disabled.update((row[0], "failing") for row in rows)
        done, recorded = [r for r in record.rows if r.status == "succeeded"], 0
        if done:
            recorded += _count(
                await conn.execute(
                    _SUCCEEDED,
                    now,
                    [r.delivery_id for r in done],
                    [r.attempt for r in done],
                    [r.status_code for r in done],
                )
            )
        later = [r for r in record.rows if r.status != "succeeded"]
        if later:
            recorded += _count(
                await conn.execute(
                    _NOT_YET,
                    now,
                    [r.delivery_id for r in later],
                    [r.attempt for r in later],
                    [r.status for r in later],
                    [r.next_attempt_at for r in later],
                    [r.status_code for r in later],
                    [r.error for r in later],
                )
            )
        count_lease_losses(len(record.rows) - recorded)  # the fence (attempts) refused the others
        rows = record.rows
        await conn.execute(
            _LOG,
            [r.delivery_id for r in rows],
            [r.attempt for r in rows],
            [r.started_at for r in rows],
            [r.duration_ms for r in rows],
            [r.status_code for r in rows],
            [r.response_body for r in rows],
            [r.error for r in rows],
            [r.next_attempt_at for r in rows],
        )
        if disabled:
            await conn.execute(_FAIL_PENDING, now, list(disabled), list(disabled.values()))
        return disabled

    async def _candidates(self, conn: Any, now: datetime) -> list[Destination]:
        if time.monotonic() - self._floors_since > FLOOR_TTL_S:
            self._floors, self._floors_since = {}, time.monotonic()
        floors = self._floors
        rows = await conn.fetch(_CANDIDATES, now, list(floors), list(floors.values()))
        if not rows:
            # Nothing due, or every due subscriber held by another worker's exchange (one busy
            # subscriber: always). Waiting the few ms that exchange takes beats sleeping until the
            # next wake-up with nothing claimed, which left a second worker idle.
            rows = await conn.fetch(_CANDIDATES_WAITING, now, list(floors), list(floors.values()))
        return [Destination(*row) for row in rows]

    async def _others(self, conn: Any, argument: tuple[list[str], str, datetime]) -> dict[str, int]:
        ids, owner, now = argument
        return {row[0]: row[1] for row in await conn.fetch(_OTHERS, ids, owner, now)}

    async def _claim(self, conn: Any, lease: Lease) -> list[Claim]:
        ids = list(lease.shares)
        floors = [self._floors.get(sid) for sid in ids]
        rows = await conn.fetch(
            _CLAIM, lease.now, lease.owner, lease.until, ids, list(lease.shares.values()), floors
        )
        oldest: dict[str, datetime] = {}
        for row in rows:
            oldest[row[1]] = min(row[5], oldest.get(row[1], row[5]))
        self._floors.update(oldest)  # before a subscriber's oldest claim: only done or held deliveries
        return [Claim(row[0], row[1], row[2], row[3].encode(), row[4]) for row in rows]

    async def _hold(self, conn: Any, holding: Holding) -> None:
        await conn.execute(
            _HOLD, holding.owner, holding.until, list(holding.counts), list(holding.counts.values())
        )


def _count(status: str) -> int:
    """The rows an ``UPDATE n`` command status says were changed."""
    return int(status.rsplit(" ", 1)[-1])
