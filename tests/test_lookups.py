"""Rows found by exact (workspace, object ID) pairs, as the ingest reads a batch's state."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection

from gateway.bulk import write_rows
from gateway.lookups import find_pairs, table_of
from gateway.models import Customer
from gateway.writer import Writer
from tests.support import Tenant

pytestmark = pytest.mark.anyio


@pytest.fixture
async def customers(tenant: Tenant, other_tenant: Tenant, writer: Writer) -> tuple[str, str]:
    """``cus_a`` and ``cus_b`` in both workspaces; the two workspace IDs."""
    ours, theirs = tenant.workspace_id, other_tenant.workspace_id
    now = datetime.now(UTC)
    rows = [
        {"workspace_id": ws, "customer_id": cid, "email": f"{cid}@{ws}", "updated_at": now}
        for ws in (ours, theirs)
        for cid in ("cus_a", "cus_b")
    ]
    await writer.run(lambda c: write_rows(c, inserts=[(table_of(Customer), rows)]))
    return ours, theirs


async def test_only_the_pairs_asked_for_are_found(customers: tuple[str, str], writer: Writer) -> None:
    """(ours, a) and (theirs, b) find two rows, never the crossed (ours, b) or (theirs, a)."""
    ours, theirs = customers
    keys = {(ours, "cus_a"), (theirs, "cus_b"), (ours, "cus_missing")}

    def find(connection: Connection) -> tuple[set[tuple[str, str]], list[str]]:
        table = table_of(Customer)
        pairs = {(row[0], row[1]) for row in find_pairs(connection, table, "customer_id", keys, rows=False)}
        rows = find_pairs(connection, table, "customer_id", keys, rows=True).mappings()
        return pairs, [row["email"] for row in rows]

    pairs, emails = await writer.run(find)
    assert pairs == {(ours, "cus_a"), (theirs, "cus_b")}
    assert sorted(emails) == sorted([f"cus_a@{ours}", f"cus_b@{theirs}"])


@pytest.mark.parametrize("count", [1, 3, 8, 33])
async def test_any_number_of_pairs(customers: tuple[str, str], writer: Writer, count: int) -> None:
    """Batches of every size find what is there (SQLite pads its statements to powers of two)."""
    ours, _ = customers
    keys = {(ours, "cus_a")} | {(ours, f"cus_none_{n}") for n in range(count - 1)}
    found = await writer.run(
        lambda c: [tuple(row) for row in find_pairs(c, table_of(Customer), "customer_id", keys, rows=False)]
    )
    assert found == [(ours, "cus_a")]
