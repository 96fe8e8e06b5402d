"""A batch's rows for several tables written at once (one statement on PostgreSQL)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, select
from sqlalchemy.exc import StatementError

from gateway.bulk import PK, write_rows
from gateway.lookups import table_of
from gateway.models import Customer, Delivery, Subscription
from gateway.settings import Settings
from gateway.writer import Writer
from tests.support import Tenant

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _subscription(tenant: Tenant, n: int, **fields: Any) -> dict[str, Any]:
    return {
        "workspace_id": tenant.workspace_id,
        "subscription_id": f"sub_{n}",
        "customer_id": f"cus_{n}",
        "status": "active",
        "items": [{"price": f"price_{n}", "quantity": n}],
        "current_period_end": NOW + timedelta(days=n) if n % 2 else None,
        "updated_at": NOW,
        **fields,
    }


def _statements(connection: Connection) -> list[tuple[str, bool]]:
    """Every statement sent on ``connection`` from now on: (its first words, whether executemany)."""
    sent: list[tuple[str, bool]] = []

    @event.listens_for(connection, "before_cursor_execute")
    def _seen(_c: Any, _cursor: Any, statement: str, _p: Any, _ctx: Any, executemany: bool) -> None:
        sent.append((" ".join(statement.split()[:3]), executemany))

    return sent


async def _subscriptions(writer: Writer) -> list[Any]:
    table = table_of(Subscription)
    query = select(table).order_by(table.c.subscription_id)
    return await writer.run(lambda c: list(c.execute(query).mappings()))


async def test_rows_are_stored_with_their_values_and_the_columns_left_out_take_defaults(
    tenant: Tenant, writer: Writer
) -> None:
    """JSON lists, NULLs and aware datetimes come back as written; ``quantity`` and ``version`` default."""
    rows = [_subscription(tenant, n) for n in range(1, 4)]
    await writer.run(lambda c: write_rows(c, inserts=[(table_of(Subscription), rows)]))
    stored = await _subscriptions(writer)
    assert [row["subscription_id"] for row in stored] == ["sub_1", "sub_2", "sub_3"]
    for row, written in zip(stored, rows, strict=True):
        assert row["items"] == written["items"]
        assert row["current_period_end"] == written["current_period_end"]
        assert row["updated_at"] == NOW
        assert (row["quantity"], row["version"], row["cancel_at_period_end"]) == (0, 0, False)


async def test_a_batch_is_one_statement_on_postgresql(
    tenant: Tenant, writer: Writer, settings: Settings
) -> None:
    """50 rows into two tables and an update: one statement on PostgreSQL; on SQLite, one per table."""
    rows = [_subscription(tenant, n) for n in range(50)]
    now = datetime.now(UTC)
    customers = [{"workspace_id": tenant.workspace_id, "customer_id": "cus_1", "updated_at": now}]

    def write(connection: Connection) -> list[tuple[str, bool]]:
        sent = _statements(connection)
        write_rows(connection, inserts=[(table_of(Subscription), rows), (table_of(Customer), customers)])
        first = connection.execute(select(table_of(Subscription).c.id).limit(1)).scalar_one()
        sent.clear()
        write_rows(
            connection,
            inserts=[(table_of(Customer), [{**customers[0], "customer_id": "cus_2"}])],
            updates=[(table_of(Subscription), [{PK: first, "status": "canceled"}])],
        )
        return sent

    sent = await writer.run(write)
    statements = [statement for statement, _ in sent]
    if settings.is_sqlite:
        assert statements == ["INSERT INTO customers", "UPDATE subscriptions SET"]
    else:
        assert statements == ["WITH w0 AS"]
    stored = await _subscriptions(writer)
    assert len(stored) == 50
    assert sorted(row["status"] for row in stored).count("canceled") == 1


async def test_updates_change_only_the_rows_and_columns_named(tenant: Tenant, writer: Writer) -> None:
    """Each update finds its row by ``_pk``; the other rows and columns are left as they were."""
    rows = [_subscription(tenant, n) for n in range(1, 4)]
    await writer.run(lambda c: write_rows(c, inserts=[(table_of(Subscription), rows)]))
    ids = {row["subscription_id"]: row["id"] for row in await _subscriptions(writer)}
    changes = [
        {PK: ids["sub_1"], "status": "canceled", "items": []},
        {PK: ids["sub_3"], "status": "past_due", "items": [{"price": "price_new"}]},
    ]
    await writer.run(lambda c: write_rows(c, updates=[(table_of(Subscription), changes)]))
    stored = {row["subscription_id"]: row for row in await _subscriptions(writer)}
    assert {sid: (row["status"], row["items"]) for sid, row in stored.items()} == {
        "sub_1": ("canceled", []),
        "sub_2": ("active", [{"price": "price_2", "quantity": 2}]),
        "sub_3": ("past_due", [{"price": "price_new"}]),
    }
    assert stored["sub_1"]["customer_id"] == "cus_1"


async def test_nothing_to_write_sends_nothing(writer: Writer) -> None:
    """An empty batch costs no statement (a batch of duplicates writes no flat events)."""

    def write(connection: Connection) -> list[tuple[str, bool]]:
        sent = _statements(connection)
        write_rows(connection, inserts=[(table_of(Delivery), [])], updates=[(table_of(Customer), [])])
        return sent

    assert await writer.run(write) == []


AWKWARD = ['a"b', "back\\slash", "{x,y}", "NULL", "", "two\nlines", "ünïcødé ✓", " spaced ", '\\"']


async def test_awkward_values_come_back_exactly(tenant: Tenant, writer: Writer) -> None:
    """Quotes, backslashes, braces, commas, the word NULL, empty and multi-line text survive the trip."""
    rows = [
        _subscription(
            tenant,
            n,
            customer_id=text,
            status=text[:30],
            items=[{"note": text}],
            cancel_at_period_end=n == 0,
            quantity=-3 if n == 0 else n,
        )
        for n, text in enumerate(AWKWARD)
    ]
    await writer.run(lambda c: write_rows(c, inserts=[(table_of(Subscription), rows)]))
    stored = {row["subscription_id"]: row for row in await _subscriptions(writer)}
    for written in rows:
        row = stored[written["subscription_id"]]
        assert (row["customer_id"], row["status"], row["items"]) == (
            written["customer_id"],
            written["status"],
            written["items"],
        )
        assert row["current_period_end"] == written["current_period_end"]
    first = stored[rows[0]["subscription_id"]]
    assert (first["cancel_at_period_end"], first["quantity"]) == (True, -3)


async def test_a_naive_datetime_is_refused_not_stored_shifted(tenant: Tenant, writer: Writer) -> None:
    """A moment without a time zone would be read in the server's zone: refused, nothing written."""
    row = _subscription(tenant, 1, updated_at=datetime(2026, 11, 26, 12, 0))  # noqa: DTZ001
    with pytest.raises((ValueError, StatementError), match=r"time ?zone"):
        await writer.run(lambda c: write_rows(c, inserts=[(table_of(Subscription), [row])]))
    assert await _subscriptions(writer) == []
