"""The delivery queue on SQLite: a whole exchange in one ``BEGIN IMMEDIATE`` on one thread.

The stdlib ``sqlite3`` driver runs on a thread of its own, so an exchange costs the event loop one
hop, not one per statement. Moments are stored as SQLAlchemy stores them (UTC, ``YYYY-MM-DD
HH:MM:SS.ffffff``), so the ORM and this module read each other's rows and compare them as text.
"""

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

from gateway.db import SQLITE_BUSY_TIMEOUT_S
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

_MARK_FAILING = "UPDATE subscribers SET failing_since = ? WHERE id = ? AND failing_since IS NULL"
_CLEAR_FAILING = "UPDATE subscribers SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL"
_DISABLE = (
    "UPDATE subscribers SET enabled = 0, disabled_reason = ?, updated_at = ? "
    "WHERE id = ? AND enabled AND (? IS NULL OR failing_since <= ?) RETURNING id"
)
_SUCCEEDED = (
    "UPDATE deliveries SET status = 'succeeded', succeeded_at = ?, next_attempt_at = NULL, "
    "lease_expires_at = NULL, last_status_code = ?, last_error = '', updated_at = ? "
    "WHERE id = ? AND attempts = ?"
)
_NOT_YET = (
    "UPDATE deliveries SET status = ?, next_attempt_at = ?, lease_expires_at = NULL, "
    "last_status_code = ?, last_error = ?, updated_at = ? "
    "WHERE id = ? AND attempts = ? AND status = 'pending'"
)
_LOG = (
    "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, "
    "response_body, error, next_attempt_at) SELECT ?, ?, ?, ?, ?, ?, ?, ? "
    "WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = ?)"
)
_FAIL_PENDING = (
    "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, last_error = ?, updated_at = ? "
    "WHERE subscriber_id = ? AND status = 'pending'"
)
# Due: pending, its time has come, and no live lease on it.
_DUE = (
    "status = 'pending' AND next_attempt_at <= :now "
    "AND (lease_expires_at IS NULL OR lease_expires_at <= :now)"
)
_CANDIDATES = (  # a constant limit, no input
    "SELECT id, url, headers_enc, secret_enc, previous_secret_enc, previous_secret_expires_at, "  # noqa: S608
    "updated_at, max_in_flight FROM subscribers AS s WHERE enabled AND EXISTS (SELECT 1 FROM deliveries "
    f"WHERE subscriber_id = s.id AND {_DUE}) LIMIT {SUBSCRIBERS_PER_CLAIM}"
)
_OTHERS = (
    "SELECT coalesce(sum(in_flight), 0) FROM subscriber_leases "
    "WHERE subscriber_id = ? AND owner != ? AND expires_at > ?"
)
_CLAIM = (
    "UPDATE deliveries SET attempts = attempts + 1, lease_owner = :owner, lease_expires_at = :until, "  # noqa: S608
    f"updated_at = :now WHERE id IN (SELECT id FROM deliveries WHERE subscriber_id = :sid AND {_DUE} "
    "ORDER BY next_attempt_at LIMIT :quota) RETURNING id, subscriber_id, message_id, body, attempts"
)
_HOLD = (
    "INSERT INTO subscriber_leases (subscriber_id, owner, in_flight, expires_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (subscriber_id, owner) DO UPDATE SET in_flight = excluded.in_flight, "
    "expires_at = excluded.expires_at"
)
_RELEASE = "DELETE FROM subscriber_leases WHERE owner = ? OR expires_at <= ?"


def stored(moment: datetime | None) -> str | None:
    """A moment as SQLAlchemy stores it in SQLite."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def loaded(text: str | None) -> datetime | None:
    """A stored moment back as an aware UTC datetime."""
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


class SqliteQueue:
    """Runs exchange plans on one ``sqlite3`` connection, on a thread of its own."""

    def __init__(self, settings: Settings) -> None:
        self._path = make_url(settings.database_url).database or ""
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="delivery-queue")
        self._conn: sqlite3.Connection | None = None

    async def run(self, plan: Plan) -> Exchanged:
        """Run every step of ``plan`` in one transaction, on the queue's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run, plan)

    async def release(self, owner: str, now: datetime) -> None:
        """Forget ``owner``'s holdings, and every holding expired by ``now``."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._release, owner, now)

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=False)

    def _release(self, owner: str, now: datetime) -> None:
        self._connect().execute(_RELEASE, (owner, stored(now)))

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
        return self._conn

    def _run(self, plan: Plan) -> Exchanged:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result: Any = None
            while True:
                try:
                    name, argument = plan.send(result)
                except StopIteration as done:
                    conn.execute("COMMIT")
                    exchanged: Exchanged = done.value
                    return exchanged
                result = getattr(self, f"_{name}")(conn, argument)
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _record(self, conn: sqlite3.Connection, record: Record) -> dict[str, str]:
        now = stored(record.now)
        conn.executemany(_MARK_FAILING, [(now, sid) for sid in record.failed])
        conn.executemany(_CLEAR_FAILING, [(sid,) for sid in record.succeeded])
        disabled = dict.fromkeys(self._disable(conn, record.gone, "gone", now, None), "gone")
        before = stored(record.failing_before)
        disabled.update(
            dict.fromkeys(self._disable(conn, record.maybe_failing, "failing", now, before), "failing")
        )
        recorded = conn.executemany(
            _SUCCEEDED,
            [
                (now, r.status_code, now, r.delivery_id, r.attempt)
                for r in record.rows
                if r.status == "succeeded"
            ],
        ).rowcount
        recorded += conn.executemany(
            _NOT_YET,
            [
                (r.status, stored(r.next_attempt_at), r.status_code, r.error, now, r.delivery_id, r.attempt)
                for r in record.rows
                if r.status != "succeeded"
            ],
        ).rowcount
        count_lease_losses(len(record.rows) - recorded)  # the fence (attempts) refused the others
        conn.executemany(
            _LOG,
            [
                (
                    r.delivery_id,
                    r.attempt,
                    stored(r.started_at),
                    r.duration_ms,
                    r.status_code,
                    r.response_body,
                    r.error,
                    stored(r.next_attempt_at),
                    r.delivery_id,
                )
                for r in record.rows
            ],
        )
        conn.executemany(
            _FAIL_PENDING, [(f"subscriber disabled ({why})", now, sid) for sid, why in disabled.items()]
        )
        return disabled

    def _disable(
        self, conn: sqlite3.Connection, ids: list[str], reason: str, now: str | None, before: str | None
    ) -> list[str]:
        return [row[0] for sid in ids for row in conn.execute(_DISABLE, (reason, now, sid, before, before))]

    def _candidates(self, conn: sqlite3.Connection, now: datetime) -> list[Destination]:
        return [
            Destination(
                id=row[0],
                url=row[1],
                headers_enc=row[2],
                secret_enc=row[3],
                previous_secret_enc=row[4],
                previous_secret_expires_at=loaded(row[5]),
                updated_at=loaded(row[6]) or now,
                max_in_flight=row[7],
            )
            for row in conn.execute(_CANDIDATES, {"now": stored(now)})
        ]

    def _others(self, conn: sqlite3.Connection, argument: tuple[list[str], str, datetime]) -> dict[str, int]:
        ids, owner, now = argument
        return {sid: conn.execute(_OTHERS, (sid, owner, stored(now))).fetchone()[0] for sid in ids}

    def _claim(self, conn: sqlite3.Connection, lease: Lease) -> list[Claim]:
        values = {"owner": lease.owner, "until": stored(lease.until), "now": stored(lease.now)}
        return [
            Claim(row[0], row[1], row[2], row[3].encode(), row[4])
            for sid, quota in lease.shares.items()
            for row in conn.execute(_CLAIM, {**values, "sid": sid, "quota": quota}).fetchall()
        ]

    def _hold(self, conn: sqlite3.Connection, holding: Holding) -> None:
        until = stored(holding.until)
        conn.executemany(_HOLD, [(sid, holding.owner, n, until) for sid, n in holding.counts.items()])
